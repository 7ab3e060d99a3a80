"""[convolutional], [connected], [batchnorm], [activation]."""
from __future__ import annotations

import math

from ..dialects import YOLOR_ACTIVATIONS
from ..options import Choice, Inert, Int, Refused
from .base import AffineConv, Context, LayerKind, Node, NodeError, Shape, register

# Darknet's activations (``modules/activations.py`` builds each; a test checks the two lists agree)
ACTIVATION_NAMES = ("linear", "leaky", "relu", "relu6", "logistic", "tanh", "swish", "silu", "mish", "hard_mish",
                    "gelu", "hardswish", "elu", "selu", "hardtan", "loggy", "relie", "ramp", "lhtan")


def _bn_layout(prefix: str, n: int):
    return [(f"{prefix}.weight", (n,)), (f"{prefix}.running_mean", (n,)), (f"{prefix}.running_var", (n,))]


@register
class Convolutional(LayerKind):
    example = "[convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=mish\n"
    name = "convolutional"
    aliases = ("conv",)
    summary = "2-D convolution with optional batch norm and activation"
    options = {
        "filters": Int(1, min=1), "size": Int(1, min=1), "stride": Int(1, min=1),
        "stride_x": Int(-1), "stride_y": Int(-1), "dilation": Int(1, min=1),
        "pad": Int(0, min=0), "padding": Int(0, min=0), "groups": Int(1, min=1),
        "batch_normalize": Int(0, min=0), "activation": Choice("logistic", choices=ACTIVATION_NAMES),
        **{k: Inert() for k in ("assisted_excitation", "dot", "angle", "grad_centr", "reverse", "stream",
                                "wait_stream", "bin_output")},
        **{k: Refused(0, reason="binary/XNOR, deformable, shared and anti-aliased convolutions are not "
                                "supported") for k in ("antialiasing", "binary", "xnor", "sway", "rotate",
                                                       "stretch", "stretch_sway", "coordconv", "cbn", "flipped")},
        "share_index": Refused(-1000000000, reason="weight sharing between layers is not supported"),
    }

    def draw_details(self, node):
        o = node.options
        return [f"{o['filters']} {o['size']}x{o['size']}/{o['stride']} {o['activation']}"
                + (" bn" if o.get("batch_normalize") else "")]

    def affine_conv(self, node: Node) -> AffineConv:
        o = node.options
        return AffineConv("Conv2d.weight", "Conv2d.bias", "BatchNorm2d" if o["batch_normalize"] else None,
                          o["activation"], o["size"], bool(node.derived["padding"]), o["groups"])

    def drop_batchnorm(self, node: Node) -> None:
        node.options["batch_normalize"] = 0

    def dialect_evidence(self, node: Node):
        found = super().dialect_evidence(node)
        act = node.options["activation"]
        if act == "silu":
            found.append(("yolor", "activation", "activation=silu is YOLOR's spelling (Darknet knows this "
                                                 "function only as swish)"))
        elif act not in YOLOR_ACTIVATIONS:
            found.append(("darknet", "activation", f"activation={act} is a Darknet activation that YOLOR's "
                                                   "code does not build"))
        return found

    @staticmethod
    def derived_values(o: dict) -> dict:
        """Effective strides, dilation and padding, as Darknet's parser derives them from the options."""
        return {"stride_x": o["stride_x"] if o["stride_x"] >= 1 else o["stride"],
                "stride_y": o["stride_y"] if o["stride_y"] >= 1 else o["stride"],
                "dilation": 1 if o["size"] == 1 else o["dilation"],
                "padding": o["size"] // 2 if o["pad"] else o["padding"]}

    def validate(self, node: Node, ctx: Context) -> None:
        node.derived.update(self.derived_values(node.options))

    def infer(self, node: Node, in_shapes: list[Shape], ctx: Context) -> Shape:
        o, d, s = node.options, node.derived, in_shapes[0]
        if s.c % o["groups"] or o["filters"] % o["groups"]:
            raise NodeError(f"groups={o['groups']} must divide the input channels ({s.c}) and filters "
                            f"({o['filters']})", "groups")
        span = d["dilation"] * (o["size"] - 1) + 1
        h = (s.h + 2 * d["padding"] - span) // d["stride_y"] + 1
        w = (s.w + 2 * d["padding"] - span) // d["stride_x"] + 1
        if h < 1 or w < 1:
            raise NodeError(f"a {o['size']}x{o['size']} kernel does not fit the {s.h}x{s.w} input "
                            f"(input size {ctx.net_height}x{ctx.net_width} is too small)", "size")
        return Shape(o["filters"], h, w, ctx.net_height / h)

    def build(self, node: Node, ctx: Context):
        from ..modules.conv import ConvBlock

        o = node.options
        d = node.derived
        return ConvBlock(node.in_shapes[0].c, o["filters"], o["size"], (d["stride_y"], d["stride_x"]),
                         d["padding"], o["groups"], d["dilation"], bool(o["batch_normalize"]),
                         ctx.dialect.bn_eps, o["activation"])

    def _weight_shape(self, node: Node):
        o = node.options
        return (o["filters"], node.in_shapes[0].c // o["groups"], o["size"], o["size"])

    def num_params(self, node: Node) -> int:
        n = math.prod(self._weight_shape(node))
        return n + (2 if node.options["batch_normalize"] else 1) * node.options["filters"]

    def macs(self, node: Node) -> int:
        return math.prod(self._weight_shape(node)) * node.shape.h * node.shape.w

    def darknet_layout(self, node: Node):
        n = node.options["filters"]
        if node.options["batch_normalize"]:
            return [("BatchNorm2d.bias", (n,)), *_bn_layout("BatchNorm2d", n), ("Conv2d.weight", self._weight_shape(node))]
        return [("Conv2d.bias", (n,)), ("Conv2d.weight", self._weight_shape(node))]


@register
class Connected(LayerKind):
    example = "[maxpool]\nsize=4\nstride=4\n[connected]\noutput=5\nbatch_normalize=1\nactivation=leaky\n"
    yolor_builds = False
    name = "connected"
    aliases = ("conn",)
    summary = "fully connected layer over the flattened input"
    options = {"output": Int(1, min=1), "activation": Choice("logistic", choices=ACTIVATION_NAMES),
               "batch_normalize": Int(0, min=0)}

    def infer(self, node, in_shapes, ctx):
        return Shape(node.options["output"], 1, 1, ctx.net_height)

    def build(self, node, ctx):
        from ..modules.conv import ConnectedBlock

        o = node.options
        return ConnectedBlock(node.in_shapes[0].numel, o["output"], bool(o["batch_normalize"]),
                              ctx.dialect.bn_eps, o["activation"])

    def num_params(self, node):
        o = node.options
        return node.in_shapes[0].numel * o["output"] + (2 if o["batch_normalize"] else 1) * o["output"]

    def macs(self, node):
        return node.in_shapes[0].numel * node.options["output"]

    def darknet_layout(self, node):
        n, o = node.options["output"], node.options
        layout = [("BatchNorm1d.bias" if o["batch_normalize"] else "Linear.bias", (n,)),
                  ("Linear.weight", (n, node.in_shapes[0].numel))]
        if o["batch_normalize"]:  # Darknet writes the BN values after the weights here
            layout += _bn_layout("BatchNorm1d", n)
        return layout


@register
class BatchNorm(LayerKind):
    example = "[batchnorm]\n"
    yolor_builds = False
    name = "batchnorm"
    summary = "standalone batch normalisation (scale and shift per channel)"
    passes_channels = True

    def channel_affine(self, node):
        return "BatchNorm2d"

    def build(self, node, ctx):
        from ..modules.conv import BatchNormBlock

        return BatchNormBlock(node.in_shapes[0].c, ctx.dialect.bn_eps)

    def num_params(self, node):
        return 2 * node.in_shapes[0].c

    def darknet_layout(self, node):
        c = node.in_shapes[0].c
        return [("BatchNorm2d.bias", (c,)), *_bn_layout("BatchNorm2d", c)]


@register
class Activation(LayerKind):
    example = "[activation]\nactivation=relu\n"
    yolor_builds = False
    name = "activation"
    summary = "element-wise activation"
    passes_channels = True
    options = {"activation": Choice("linear", choices=ACTIVATION_NAMES)}

    def build(self, node, ctx):
        from ..modules.conv import ActivationBlock

        return ActivationBlock(node.options["activation"])
