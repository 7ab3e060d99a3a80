"""[route], [route_lhalf], [shortcut], [scale_channels], [sam]: layers that read other layers."""
from __future__ import annotations

import math

from ..options import Choice, Inert, Int, Ints
from .base import LayerKind, NodeError, Shape, register
from .conv import ACTIVATION_NAMES


def _same_size(node, shapes, what="inputs", why=""):
    first = shapes[0]
    for i, s in zip(node.inputs[1:], shapes[1:]):
        if (s.h, s.w) != (first.h, first.w):
            src = node.inputs[0]
            raise NodeError(f"{what} have different sizes: layer {src} is {first.h}x{first.w}, layer {i} is "
                            f"{s.h}x{s.w} ({why or 'the input size must be a multiple of every stride the network uses'})")


@register
class Route(LayerKind):
    example = "[convolutional]\nfilters=4\nsize=1\nactivation=leaky\n[route]\nlayers=-1,0\ngroups=2\ngroup_id=1\n"
    name = "route"
    summary = "concatenate layers along channels (optionally one channel group of each)"
    options = {"layers": Ints(required=True, doc="the layers to concatenate, e.g. layers=-1,61"),
               "groups": Int(1, min=1), "group_id": Int(0, min=0), "stream": Inert(), "wait_stream": Inert()}
    half = False

    def sequential(self, node):
        return False

    def input_refs(self, node):
        return [(i, "layers") for i in node.options["layers"]]

    def validate(self, node, ctx):
        if node.options["group_id"] >= node.options["groups"]:
            raise NodeError(f"group_id={node.options['group_id']} must be below groups={node.options['groups']}",
                            "group_id")

    def infer(self, node, in_shapes, ctx):
        _same_size(node, in_shapes, "route inputs")
        div = 2 if self.half else node.options["groups"]
        for i, s in zip(node.inputs, in_shapes):
            if s.c % div:
                raise NodeError(f"layer {i} has {s.c} channels, which do not split into {div} equal groups",
                                "layers")
        return Shape(sum(s.c for s in in_shapes) // div, in_shapes[0].h, in_shapes[0].w, in_shapes[0].stride)

    def build(self, node, ctx):
        from ..modules.route import Concat

        return Concat(node.options["groups"], node.options["group_id"], half=self.half)


@register
class RouteLHalf(Route):
    example = "[route_lhalf]\nlayers=0\n"
    name = "route_lhalf"
    summary = "YOLOR: concatenate the first half of each layer's channels"
    options = {"layers": Ints(required=True, doc="the layers to take the first half of")}
    yolor_only = True
    half = True

    def validate(self, node, ctx):
        node.options.update(groups=1, group_id=0)


@register
class Shortcut(LayerKind):
    example = "[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n[shortcut]\nfrom=0\nweights_type=per_channel\nweights_normalization=softmax\nactivation=linear\n"
    name = "shortcut"
    summary = "residual: add earlier layers to the previous one (optionally weighted)"
    no_weight_decay = ("w", "weights")  # the residual weights
    edge_style = "shortcut"
    closes_residual = True
    options = {"from": Ints(required=True, doc="the layer(s) to add, e.g. from=-3"),
               "activation": Choice("linear", choices=ACTIVATION_NAMES),
               "weights_type": Choice("none", choices=("none", "per_feature", "per_layer", "per_channel")),
               "weights_normalization": Choice("none", choices=("none", "relu", "avg_relu", "softmax"))}

    def _weight_shape(self, node):
        o = node.options
        n = len(node.inputs)
        if o["weights_type"] == "none":
            return None
        if node.dialect == "yolor":
            return (n,)
        return (n, node.in_shapes[0].c if o["weights_type"] == "per_channel" else 1)


    def input_refs(self, node):
        return [(i, "from") for i in node.options["from"]]

    def infer(self, node, in_shapes, ctx):
        _same_size(node, in_shapes, "shortcut inputs",
                   "not built: pjreddie's Darknet adds such maps by strided sampling and AlexeyAB's by flat "
                   "index, so there is no one meaning to follow; make both inputs the same size, or check the "
                   "input size is a multiple of every stride")
        if ctx.dialect.name == "yolor":
            for i, s in zip(node.inputs[1:], in_shapes[1:]):
                if s.c != in_shapes[0].c:
                    raise NodeError(f"cannot add layer {i} ({s.c} channels) to layer {node.inputs[0]} "
                                    f"({in_shapes[0].c} channels): a residual needs equal channels", "from")
        return in_shapes[0]

    def build(self, node, ctx):
        from ..modules.route import Residual, WeightedResidualDarknet, WeightedResidualYolor

        o, shape = node.options, self._weight_shape(node)
        if shape is None:
            return Residual(o["activation"])
        if ctx.dialect.name == "yolor":
            return WeightedResidualYolor(shape[0])
        return WeightedResidualDarknet(shape[0], shape[1], o["weights_normalization"], o["activation"])

    def num_params(self, node):
        shape = self._weight_shape(node)
        return 0 if shape is None else math.prod(shape)

    def darknet_layout(self, node):
        shape = self._weight_shape(node)
        if shape is None:
            return []
        return [("w" if len(shape) == 1 else "weights", shape)]


@register
class ScaleChannels(LayerKind):
    example = "[avgpool]\n[convolutional]\nfilters=8\nsize=1\nactivation=logistic\n[scale_channels]\nfrom=0\n"
    name = "scale_channels"
    summary = "multiply a feature map (from=) by the previous layer's per-channel (or per-pixel) scale"
    options = {"from": Int(required=True), "scale_wh": Int(0, min=0),
               "activation": Choice("linear", choices=ACTIVATION_NAMES)}

    def input_refs(self, node):
        return [(node.options["from"], "from")]

    def infer(self, node, in_shapes, ctx):
        scale, feature = in_shapes
        want = Shape(1, feature.h, feature.w) if node.options["scale_wh"] else Shape(feature.c, 1, 1)
        if scale.as_list() != want.as_list():
            raise NodeError(f"the previous layer is {scale.c}x{scale.h}x{scale.w}, but scaling layer "
                            f"{node.inputs[1]} ({feature.c}x{feature.h}x{feature.w}) needs "
                            f"{want.c}x{want.h}x{want.w}", "from")
        return feature

    def build(self, node, ctx):
        from ..modules.route import Multiply

        return Multiply(node.options["activation"])


@register
class SAM(LayerKind):
    example = "[convolutional]\nfilters=8\nsize=1\nactivation=logistic\n[sam]\nfrom=0\n"
    name = "sam"
    summary = "spatial attention: element-wise product of the previous layer and from="
    options = {"from": Int(required=True), "activation": Choice("linear", choices=ACTIVATION_NAMES)}

    def input_refs(self, node):
        return [(node.options["from"], "from")]

    def infer(self, node, in_shapes, ctx):
        if in_shapes[0].as_list() != in_shapes[1].as_list():
            raise NodeError(f"[sam] needs equal shapes: {in_shapes[0].as_list()} vs {in_shapes[1].as_list()}",
                            "from")
        return in_shapes[1]

    def build(self, node, ctx):
        from ..modules.route import Multiply

        return Multiply(node.options["activation"])
