"""Modules of [convolutional], [connected], [batchnorm], [activation]; attribute names match YOLOR's keys."""
from __future__ import annotations

import torch.nn as nn

from .activations import make_activation
from .common import BN_MOMENTUM


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


class BatchNormBlock(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.BatchNorm2d = nn.BatchNorm2d(c, momentum=BN_MOMENTUM, eps=eps)

    def forward(self, x):
        return self.BatchNorm2d(x)


class ActivationBlock(nn.Module):
    def __init__(self, activation):
        super().__init__()
        self.activation = make_activation(activation)

    def forward(self, x):
        return self.activation(x)
