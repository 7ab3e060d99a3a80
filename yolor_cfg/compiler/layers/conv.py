"""[convolutional], [connected], [batchnorm], [activation]."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..dialects import YOLOR_ACTIVATIONS
from ..options import Choice, Inert, Int, Refused
from .activations import ACTIVATIONS, make_activation
from .base import AffineConv, Context, LayerKind, Node, NodeError, Shape, register
from .modules import BN_MOMENTUM

ACTIVATION_NAMES = tuple(ACTIVATIONS)


def _bn_layout(prefix: str, n: int):
    return [(f"{prefix}.weight", (n,)), (f"{prefix}.running_mean", (n,)), (f"{prefix}.running_var", (n,))]


class ConvBlock(nn.Module):
    """Conv2d -> optional BatchNorm2d -> activation; attribute names match YOLOR's keys."""

    def __init__(self, c1, c2, k, stride, padding, groups, dilation, bn, eps, activation):
        super().__init__()
        self.Conv2d = nn.Conv2d(c1, c2, k, stride, padding, dilation=dilation, groups=groups, bias=not bn)
        self.BatchNorm2d = nn.BatchNorm2d(c2, momentum=BN_MOMENTUM, eps=eps) if bn else None
        self.activation = make_activation(activation)

    def forward(self, x):
        x = self.Conv2d(x)
        if self.BatchNorm2d is not None:
            x = self.BatchNorm2d(x)
        return self.activation(x)


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

    def build(self, node: Node, ctx: Context) -> nn.Module:
        o = node.options
        d = node.derived
        return ConvBlock(node.in_shapes[0].c, o["filters"], o["size"], (d["stride_y"], d["stride_x"]),
                         d["padding"], o["groups"], d["dilation"], bool(o["batch_normalize"]),
                         ctx.dialect.bn_eps, o["activation"])

    def _weight_shape(self, node: Node):
        o = node.options
        return (o["filters"], node.in_shapes[0].c // o["groups"], o["size"], o["size"])

    def num_params(self, node: Node) -> int:
        n = int(torch.Size(self._weight_shape(node)).numel())
        return n + (2 if node.options["batch_normalize"] else 1) * node.options["filters"]

    def macs(self, node: Node) -> int:
        return int(torch.Size(self._weight_shape(node)).numel()) * node.shape.h * node.shape.w

    def darknet_layout(self, node: Node):
        n = node.options["filters"]
        if node.options["batch_normalize"]:
            return [("BatchNorm2d.bias", (n,)), *_bn_layout("BatchNorm2d", n), ("Conv2d.weight", self._weight_shape(node))]
        return [("Conv2d.bias", (n,)), ("Conv2d.weight", self._weight_shape(node))]


class ConnectedBlock(nn.Module):
    def __init__(self, n_in, n_out, bn, eps, activation):
        super().__init__()
        self.Linear = nn.Linear(n_in, n_out, bias=not bn)
        self.BatchNorm1d = nn.BatchNorm1d(n_out, momentum=BN_MOMENTUM, eps=eps) if bn else None
        self.activation = make_activation(activation)

    def forward(self, x):
        x = self.Linear(x.flatten(1))
        if self.BatchNorm1d is not None:
            x = self.BatchNorm1d(x)
        return self.activation(x).view(x.shape[0], -1, 1, 1)


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


class BatchNormBlock(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.BatchNorm2d = nn.BatchNorm2d(c, momentum=BN_MOMENTUM, eps=eps)

    def forward(self, x):
        return self.BatchNorm2d(x)


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
        return BatchNormBlock(node.in_shapes[0].c, ctx.dialect.bn_eps)

    def num_params(self, node):
        return 2 * node.in_shapes[0].c

    def darknet_layout(self, node):
        c = node.in_shapes[0].c
        return [("BatchNorm2d.bias", (c,)), *_bn_layout("BatchNorm2d", c)]


class ActivationBlock(nn.Module):
    def __init__(self, activation):
        super().__init__()
        self.activation = make_activation(activation)

    def forward(self, x):
        return self.activation(x)


@register
class Activation(LayerKind):
    example = "[activation]\nactivation=relu\n"
    yolor_builds = False
    name = "activation"
    summary = "element-wise activation"
    passes_channels = True
    options = {"activation": Choice("linear", choices=ACTIVATION_NAMES)}

    def build(self, node, ctx):
        return ActivationBlock(node.options["activation"])
