"""Module of [repconv] (its training form; ``layers/repconv.py`` folds it into one convolution)."""
from __future__ import annotations

import torch.nn as nn

from .activations import make_activation
from .common import BN_MOMENTUM


class RepConvBlock(nn.Module):
    def __init__(self, c1: int, c2: int, k: int, stride: int, eps: float, activation: str):
        super().__init__()
        self.rbr_dense = nn.Sequential(nn.Conv2d(c1, c2, k, stride, k // 2, bias=False),
                                       nn.BatchNorm2d(c2, eps=eps, momentum=BN_MOMENTUM))
        self.rbr_1x1 = nn.Sequential(nn.Conv2d(c1, c2, 1, stride, 0, bias=False),
                                     nn.BatchNorm2d(c2, eps=eps, momentum=BN_MOMENTUM))
        self.rbr_identity = nn.BatchNorm2d(c1, eps=eps, momentum=BN_MOMENTUM) if c1 == c2 and stride == 1 else None
        self.activation = make_activation(activation)

    def forward(self, x):
        y = self.rbr_dense(x) + self.rbr_1x1(x)
        if self.rbr_identity is not None:
            y = y + self.rbr_identity(x)
        return self.activation(y)
