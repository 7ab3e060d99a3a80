"""Module of [multilabel]."""
from __future__ import annotations

import torch
import torch.nn as nn


class MultiLabelHead(nn.Module):
    """Global average pool -> (+ implicit) -> linear to class logits -> (x implicit)."""

    def __init__(self, channels: int, classes: int, implicit: str, std: float):
        super().__init__()
        self.Linear = nn.Linear(channels, classes)
        self.ia = nn.Parameter(torch.randn(channels) * std) if implicit in ("add", "both") else None
        self.im = nn.Parameter(1 + torch.randn(classes) * std) if implicit in ("mul", "both") else None

    def forward(self, x):
        v = x.mean((2, 3))
        if self.ia is not None:
            v = v + self.ia
        logits = self.Linear(v)
        if self.im is not None:
            logits = logits * self.im
        return logits
