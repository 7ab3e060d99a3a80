"""Modules of YOLOR's implicit knowledge: the learned tensors and the layers that apply them."""
from __future__ import annotations

import torch
import torch.nn as nn


def implicit_value(params: dict, form: str, nonneg: bool, start: float, mask: torch.Tensor | None, shape):
    """The tensor an implicit layer represents, from its parameters (used by the module and the passes).

    vector: the tensor itself; nn: g = W z (a learned prior z, a learned matrix W);
    mf: g = Z^T c (atoms Z, coefficients c; both made non-negative by abs when nonneg=1).
    With ``mask``, only the masked channels are learned; the others stay at ``start``."""
    if form == "vector":
        g = params["implicit"]
    elif form == "nn":
        g = (params["W"] @ params["prior"]).view(shape)
    else:
        Z, c = params["Z"], params["c"]
        if nonneg:
            Z, c = Z.abs(), c.abs()
        g = (c @ Z).view(shape)
    if mask is not None:
        g = start + mask.view(shape) * (g - start)
    return g


class Implicit(nn.Module):
    """A learned tensor with no input: (1, C, 1, 1), or (1, atoms, C, 1) for the 2-D forms.

    Initialisation follows the paper's section 4.3: the represented tensor starts at ``start``
    (0 for add and concatenate, 1 for multiply) plus N(0, std)."""

    def __init__(self, shape, start: float, std: float = 0.02, form: str = "vector", prior: int = 0,
                 atoms: int = 0, nonneg: bool = False, mask: torch.Tensor | None = None):
        super().__init__()
        self.shape, self.start, self.form, self.nonneg = tuple(shape), start, form, nonneg
        n = int(torch.Size(shape).numel())
        if form == "vector":
            self.implicit = nn.Parameter(torch.empty(shape))
            nn.init.normal_(self.implicit, mean=start, std=std)
        elif form == "nn":
            z = torch.randn(prior)
            w = torch.randn(n, prior) * std / prior ** 0.5
            w += start * torch.outer(torch.ones(n), z) / z.dot(z)  # W z = start + N(0, std^2)
            self.prior, self.W = nn.Parameter(z), nn.Parameter(w)
        else:
            Z = torch.randn(atoms, n).abs() if nonneg else torch.randn(atoms, n)
            c = torch.randn(atoms) * std / atoms ** 0.5
            c = c.abs() if nonneg else c
            if start:
                Z[0], c[0] = start, 1.0
            self.Z, self.c = nn.Parameter(Z), nn.Parameter(c)
        if mask is not None:
            self.register_buffer("learn_mask", mask.view(shape), persistent=False)
        else:
            self.learn_mask = None

    def forward(self):
        params = dict(self.named_parameters())
        return implicit_value(params, self.form, self.nonneg, self.start, self.learn_mask, self.shape)


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
