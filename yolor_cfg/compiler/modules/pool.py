"""Modules of [maxpool], [local_avgpool], [avgpool], [upsample]."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class DarknetPool(nn.Module):
    """Darknet's max/local-average pooling: padding split as Darknet does, padded cells never win
    a max and are not counted in an average."""

    def __init__(self, size, stride, pads, average: bool, zero_pad: bool = False):
        super().__init__()
        self.size, self.stride, self.pads = size, stride, pads  # pads: (left, right, top, bottom)
        self.average, self.zero_pad = average, zero_pad

    def forward(self, x):
        left, right, top, bottom = self.pads
        if min(self.pads) < 0:  # Darknet never reads the cells past the last window
            x = x[..., : x.shape[2] + min(bottom, 0), : x.shape[3] + min(right, 0)]
            left, right, top, bottom = (max(p, 0) for p in self.pads)
        if self.average:
            ones = torch.ones_like(x[:1, :1])
            pad = (left, right, top, bottom)
            total = F.avg_pool2d(F.pad(x, pad), self.size, self.stride)
            count = F.avg_pool2d(F.pad(ones, pad), self.size, self.stride)
            return total / count
        if left == right and top == bottom and 2 * max(left, top) <= self.size:
            return F.max_pool2d(x, self.size, self.stride, (top, left))
        fill = 0.0 if self.zero_pad else float("-inf")
        return F.max_pool2d(F.pad(x, (left, right, top, bottom), value=fill), self.size, self.stride)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean((2, 3), keepdim=True)


class Upsample(nn.Module):
    def __init__(self, stride: int, scale: float):
        super().__init__()
        self.stride, self.scale = stride, scale

    def forward(self, x):
        y = F.interpolate(x, scale_factor=float(self.stride), mode="nearest")
        return y if self.scale == 1 else y * self.scale
