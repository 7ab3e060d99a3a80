"""YOLOR's implicit knowledge: [implicit_add|mul|cat](_2d) vectors and the layers that apply them,
[shift_channels], [control_channels], [alternate_channels] (and their _2d forms)."""
from __future__ import annotations

import math

from ..options import Choice, Float, Int, Ints
from .base import LayerKind, NodeError, Shape, register


def branch_layout(linear: str, outputs: int, weight_shape: tuple, channels: int, implicit: str) -> list:
    """The tensors of a task branch with implicit knowledge of its own ([multilabel]'s iJDC, [embedding]'s
    iJDE): the linear map ``linear`` (bias, weight), ``ia`` added to its input, ``im`` multiplying its output."""
    layout = [(f"{linear}.bias", (outputs,)), (f"{linear}.weight", weight_shape)]
    if implicit in ("add", "both"):
        layout.append(("ia", (channels,)))
    if implicit in ("mul", "both"):
        layout.append(("im", (outputs,)))
    return layout


def fold_branch_implicit(options: dict, params: dict, linear: str):
    """Such a branch with its implicit knowledge folded into the linear map, exactly:
    (W (x + a) + b) * m = (m W) x + m (W a + b); None when it has none."""
    if options["implicit"] == "none":
        return None
    w, b = params[f"{linear}.weight"], params[f"{linear}.bias"]
    if "ia" in params:
        b = b + w.reshape(len(b), -1) @ params["ia"]
    if "im" in params:
        m = params["im"]
        w, b = w * m.view(-1, *[1] * (w.dim() - 1)), b * m
    return {**options, "implicit": "none"}, {f"{linear}.weight": w, f"{linear}.bias": b}


class _ImplicitKind(LayerKind):
    yolor_only = True
    implicit_source = True
    no_weight_decay = ("implicit", "prior", "W", "Z", "c")  # every form of implicit knowledge
    options = {"filters": Int(required=True, min=1, doc="the vector's length, e.g. filters=256"),
               "model": Choice("vector", choices=("vector", "nn", "mf")),
               "prior": Int(None, min=1, doc="nn: the prior's length (default 2 x filters)"),
               "atoms": Int(None, min=1, doc="mf: the number of basis vectors"),
               "nonneg": Int(0, min=0), "std": Float(0.02, min=0),
               "learn": Ints(None, min=0, doc="learn only channels whose index modulo period is listed"),
               "period": Int(None, min=1)}
    mean = 0.0
    two_d = False

    def sequential(self, node):
        return False

    def _shape(self, node):
        o = node.options
        return (1, o["atoms"], o["filters"], 1) if self.two_d else (1, o["filters"], 1, 1)

    def validate(self, node, ctx):
        o = node.options
        if self.two_d:
            if o["model"] != "vector":
                raise NodeError("the 2-D implicit forms support model=vector only", "model")
            return
        if o["model"] == "nn":
            node.derived["prior"] = o["prior"] or 2 * o["filters"]
        if o["model"] == "mf" and not o["atoms"]:
            raise NodeError("model=mf needs atoms= (the number of basis vectors, e.g. atoms=8)", "model")
        if (o["learn"] is None) != (o["period"] is None):
            raise NodeError("learn= and period= go together (e.g. learn=2,3 period=8)", "learn" if o["learn"] else "period")
        if o["learn"] and max(o["learn"]) >= o["period"]:
            raise NodeError(f"learn= indices must be below period={o['period']}", "learn")

    def _mask(self, node):
        o = node.options
        if not o.get("learn"):
            return None
        import torch

        learned = set(o["learn"])
        return torch.tensor([float(i % o["period"] in learned) for i in range(o["filters"])])

    def infer(self, node, in_shapes, ctx):
        _, c, h, w = self._shape(node)
        return Shape(c, h, w, ctx.net_height)

    def build(self, node, ctx):
        from ..modules.implicit import Implicit

        o = node.options
        if self.two_d:
            return Implicit(self._shape(node), self.mean, o["std"])
        return Implicit(self._shape(node), self.mean, o["std"], o["model"], node.derived.get("prior", 0), o["atoms"] or 0,
                        bool(o["nonneg"]), self._mask(node))

    def _tensors(self, node):
        o, shape = node.options, self._shape(node)
        n = math.prod(shape)
        if self.two_d or o["model"] == "vector":
            return [("implicit", shape)]
        if o["model"] == "nn":
            prior = node.derived["prior"]
            return [("prior", (prior,)), ("W", (n, prior))]
        return [("Z", (o["atoms"], n)), ("c", (o["atoms"],))]

    def num_params(self, node):
        return sum(math.prod(s) for _, s in self._tensors(node))

    def darknet_layout(self, node):
        return self._tensors(node)

    def implicit_value(self, node, params: dict):
        """The constant tensor this layer represents at inference, as the module returns it."""
        from ..modules.implicit import implicit_value

        o = node.options
        form = "vector" if self.two_d else o["model"]
        return implicit_value(params, form, bool(o.get("nonneg")), self.mean, self._mask(node), self._shape(node))


def _implicit_kind(name: str, mean: float, two_d: bool, what: str):
    options = dict(_ImplicitKind.options)
    if two_d:
        options = {"filters": options["filters"], "std": options["std"], "model": options["model"],
                   "atoms": Int(required=True, min=1, doc="the number of 2-D atoms")}
    apply = {"add": "shift_channels", "mul": "control_channels", "cat": "alternate_channels"}[name.split("_")[1]]
    size = "filters=32\natoms=32\n" if two_d else "filters=8\nmodel=nn\n" if name == "implicit_add" else "filters=8\n"
    example = f"[{name}]\n{size}[route]\nlayers=0\n[{apply}{'_2d' if two_d else ''}]\nfrom=-2\n"
    return register(type(name, (_ImplicitKind,), {
        "name": name, "mean": mean, "two_d": two_d, "options": options, "summary": f"YOLOR: learned {what}",
        "example": example}))


for _two_d in (False, True):
    _sfx = "_2d" if _two_d else ""
    _implicit_kind(f"implicit_add{_sfx}", 0.0, _two_d, "vector added by shift_channels")
    _implicit_kind(f"implicit_mul{_sfx}", 1.0, _two_d, "vector multiplied by control_channels")
    _implicit_kind(f"implicit_cat{_sfx}", 0.0, _two_d, "vector concatenated by alternate_channels")


_MAP_REFUSAL = ("a 2-D implicit map varies over the image: it is a constant, but not one per channel, so no "
                "convolution bias can hold it")


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
        from ..modules.implicit import ApplyImplicit

        return ApplyImplicit(self.op, self.two_d)


for _two_d in (False, True):
    _sfx = "_2d" if _two_d else ""
    for _name, _op, _what in (("shift_channels", "add", "add"), ("control_channels", "mul", "multiply by"),
                              ("alternate_channels", "cat", "concatenate before the features")):
        _source = f"implicit_{_op}{_sfx}"
        _size = "filters=32\natoms=32" if _two_d else "filters=8"
        _example = f"[{_source}]\n{_size}\n[route]\nlayers=0\n[{_name}{_sfx}]\nfrom=-2\n"
        register(type(_name + _sfx, (_ApplyKind,), {"name": _name + _sfx, "op": _op, "two_d": _two_d, "example": _example,
                                                    "implicit_op": None if _two_d else _op,
                                                    "implicit_fold_refusal": _MAP_REFUSAL if _two_d else None,
                                                    "passes_channels": _op != "cat",
                                                    "summary": f"YOLOR: {_what} an implicit tensor"}))
