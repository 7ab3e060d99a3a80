"""[route], [route_lhalf], [shortcut], [scale_channels], [sam]: layers that read other layers."""
from __future__ import annotations

import torch
import torch.nn as nn

from .activations import make_activation
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


class Concat(nn.Module):
    """Concatenates the inputs' channel group ``group_id`` of ``groups`` (Darknet's route)."""

    def __init__(self, groups: int = 1, group_id: int = 0, half: bool = False):
        super().__init__()
        self.groups, self.group_id, self.half = groups, group_id, half

    def forward(self, *xs):
        if self.half:  # YOLOR route_lhalf: the first half of each input
            xs = tuple(x[:, : x.shape[1] // 2] for x in xs)
        elif self.groups > 1:
            xs = tuple(x.chunk(self.groups, 1)[self.group_id] for x in xs)
        return xs[0] if len(xs) == 1 else torch.cat(xs, 1)


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


class Residual(nn.Module):
    """x + sum(from), channels matched as Darknet and YOLOR do (add into the common channels)."""

    def __init__(self, activation: str):
        super().__init__()
        self.activation = make_activation(activation)

    def forward(self, x, *others):
        for a in others:
            x = _add_into(x, a)
        return self.activation(x)


def _add_into(x, a):
    """x + a over their common channels (extra channels of x pass through, extra of a are dropped)."""
    nx, na = x.shape[1], a.shape[1]
    if nx == na:
        return x + a
    if nx > na:
        return torch.cat([x[:, :na] + a, x[:, na:]], 1)
    return x + a[:, :nx]


# Darknet's weighted shortcut divides by (0.0001 + the sum of the weights) in both normalisations
# (blas.c, shortcut_multilayer_cpu: the sum starts at eps), so all-zero relu weights give zero, not NaN.
NORMALIZE_EPS = 1e-4


class WeightedResidualDarknet(nn.Module):
    """Darknet's weighted shortcut: out = w0 x + sum_i w_i from_i, with one weight per input
    (per_feature) or per input and channel (per_channel), normalised by relu or softmax."""

    def __init__(self, n_inputs: int, channels: int, normalization: str, activation: str):
        super().__init__()
        self.weights = nn.Parameter(torch.ones(n_inputs, channels))
        self.normalization = normalization
        self.activation = make_activation(activation)

    def _normalized(self):
        w = self.weights
        if self.normalization in ("relu", "avg_relu"):
            w = torch.relu(w)
            return w / (w.sum(0, keepdim=True) + NORMALIZE_EPS)
        if self.normalization == "softmax":
            e = torch.exp(w - w.max(0, keepdim=True).values)
            return e / (e.sum(0, keepdim=True) + NORMALIZE_EPS)
        return w

    def forward(self, x, *others):
        w = self._normalized()
        c = x.shape[1]

        def scaled(t, i):  # per_channel weights follow the output's channels
            wi = w[i] if w.shape[1] == 1 else w[i, : t.shape[1]]
            return t * wi.view(1, -1, 1, 1)

        x = scaled(x, 0)
        for i, a in enumerate(others, 1):
            a = a[:, :c] if a.shape[1] > c else a
            x = _add_into(x, scaled(a, i))
        return self.activation(x)


class WeightedResidualYolor(nn.Module):
    """YOLOR's WeightedFeatureFusion: weights sigmoid(w) * 2 / n, one per input (key ``w``)."""

    def __init__(self, n_inputs: int):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(n_inputs))

    def forward(self, x, *others):
        w = torch.sigmoid(self.w) * (2 / self.w.numel())
        x = x * w[0]
        for i, a in enumerate(others, 1):
            x = _add_into(x, a * w[i])
        return x


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
        o, shape = node.options, self._weight_shape(node)
        if shape is None:
            return Residual(o["activation"])
        if ctx.dialect.name == "yolor":
            return WeightedResidualYolor(shape[0])
        return WeightedResidualDarknet(shape[0], shape[1], o["weights_normalization"], o["activation"])

    def num_params(self, node):
        shape = self._weight_shape(node)
        return 0 if shape is None else int(torch.Size(shape).numel())

    def darknet_layout(self, node):
        shape = self._weight_shape(node)
        if shape is None:
            return []
        return [("w" if len(shape) == 1 else "weights", shape)]


class Multiply(nn.Module):
    """Element-wise product of two inputs, then an activation."""

    def __init__(self, activation: str):
        super().__init__()
        self.activation = make_activation(activation)

    def forward(self, x, other):
        return self.activation(x * other)


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
        return Multiply(node.options["activation"])
