"""YOLOR's implicit knowledge: [implicit_add|mul|cat](_2d) vectors and the layers that apply them,
[shift_channels], [control_channels], [alternate_channels] (and their _2d forms)."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..options import Int, Ints
from .base import LayerKind, NodeError, Shape, register


class Implicit(nn.Module):
    """A learned tensor with no input: (1, C, 1, 1), or (1, atoms, C, 1) for the 2-D forms."""

    def __init__(self, shape, mean: float, std: float = 0.02):
        super().__init__()
        self.implicit = nn.Parameter(torch.empty(shape))
        nn.init.normal_(self.implicit, mean=mean, std=std)

    def forward(self):
        return self.implicit


class _ImplicitKind(LayerKind):
    yolor_only = True
    implicit_source = True
    options = {"filters": Int(required=True, min=1, doc="the vector's length, e.g. filters=256")}
    mean = 0.0
    two_d = False

    def sequential(self, node):
        return False

    def _shape(self, node):
        o = node.options
        return (1, o["atoms"], o["filters"], 1) if self.two_d else (1, o["filters"], 1, 1)

    def infer(self, node, in_shapes, ctx):
        _, c, h, w = self._shape(node)
        return Shape(c, h, w, ctx.net_height)

    def build(self, node, ctx):
        return Implicit(self._shape(node), self.mean)

    def num_params(self, node):
        return int(torch.Size(self._shape(node)).numel())

    def darknet_layout(self, node):
        return [("implicit", self._shape(node))]

    def implicit_value(self, node, params: dict) -> "torch.Tensor":
        """The constant tensor this layer represents at inference, as the module returns it."""
        return params["implicit"]


def _implicit_kind(name: str, mean: float, two_d: bool, what: str):
    options = dict(_ImplicitKind.options)
    if two_d:
        options["atoms"] = Int(required=True, min=1, doc="the number of 2-D atoms")
    return register(type(name, (_ImplicitKind,), {
        "name": name, "mean": mean, "two_d": two_d, "options": options, "summary": f"YOLOR: learned {what}"}))


for _two_d in (False, True):
    _sfx = "_2d" if _two_d else ""
    _implicit_kind(f"implicit_add{_sfx}", 0.0, _two_d, "vector added by shift_channels")
    _implicit_kind(f"implicit_mul{_sfx}", 1.0, _two_d, "vector multiplied by control_channels")
    _implicit_kind(f"implicit_cat{_sfx}", 0.0, _two_d, "vector concatenated by alternate_channels")


class ApplyImplicit(nn.Module):
    """Combines the previous layer x with the implicit tensor a: x + a, x * a or cat(a, x)."""

    def __init__(self, op: str, two_d: bool):
        super().__init__()
        self.op, self.two_d = op, two_d

    def forward(self, x, a):
        if self.two_d:
            a = a.reshape(1, -1, x.shape[2], x.shape[3])
        if self.op == "add":
            return x + a
        if self.op == "mul":
            return x * a
        return torch.cat([a.expand_as(x), x], 1)


class _ApplyKind(LayerKind):
    yolor_only = True
    options = {"from": Ints(required=True, doc="the implicit layer to apply, e.g. from=203")}
    op = "add"
    two_d = False

    def input_refs(self, node):
        return [(node.options["from"][0], "from")]

    def validate(self, node, ctx):
        if len(node.options["from"]) != 1:
            raise NodeError("from= takes one layer (the implicit vector to apply)", "from")

    def infer(self, node, in_shapes, ctx):
        x, a = in_shapes
        src = node.inputs[1]
        if self.two_d:
            if a.numel % (x.h * x.w) or a.numel // (x.h * x.w) not in (1, x.c):
                raise NodeError(f"layer {src} has {a.numel} values, which do not reshape to "
                                f"1x{x.c}x{x.h}x{x.w} (or 1x1x{x.h}x{x.w})", "from")
        elif not all(d in (1, e) for d, e in zip(a.as_list(), x.as_list())) or (self.op == "cat" and a.c != x.c):
            raise NodeError(f"layer {src} has {a.c} channels ({a.c}x{a.h}x{a.w}) but the previous layer "
                            f"{node.inputs[0]} has {x.c}; set filters={x.c} there", "from")
        return Shape(2 * x.c if self.op == "cat" else x.c, x.h, x.w, x.stride)

    def build(self, node, ctx):
        return ApplyImplicit(self.op, self.two_d)


for _two_d in (False, True):
    _sfx = "_2d" if _two_d else ""
    for _name, _op, _what in (("shift_channels", "add", "add"), ("control_channels", "mul", "multiply by"),
                              ("alternate_channels", "cat", "concatenate before the features")):
        register(type(_name + _sfx, (_ApplyKind,), {"name": _name + _sfx, "op": _op, "two_d": _two_d,
                                                    "implicit_op": None if _two_d else _op,
                                                    "passes_channels": _op != "cat",
                                                    "summary": f"YOLOR: {_what} an implicit tensor"}))
