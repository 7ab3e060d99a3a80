"""Modules of [dropout] and [softmax]."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F


class Dropout(nn.Module):
    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)


class Softmax(nn.Module):
    def __init__(self, groups: int, temperature: float):
        super().__init__()
        self.groups, self.temperature = groups, temperature

    def forward(self, x):
        b = x.shape[0]
        flat = x.reshape(b, self.groups, -1) / self.temperature
        return flat.softmax(-1).reshape(x.shape)
