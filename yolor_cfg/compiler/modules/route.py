"""Modules of [route], [shortcut], [scale_channels], [sam]."""
from __future__ import annotations

import torch
import torch.nn as nn

from .activations import make_activation


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


class Multiply(nn.Module):
    """Element-wise product of two inputs, then an activation."""

    def __init__(self, activation: str):
        super().__init__()
        self.activation = make_activation(activation)

    def forward(self, x, other):
        return self.activation(x * other)
