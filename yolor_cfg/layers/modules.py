"""Small modules shared by several layer kinds."""
from __future__ import annotations

import torch.nn as nn


class Identity(nn.Module):
    """Passes its first input through (silence, dropout at inference, cost)."""

    def forward(self, x, *rest):
        return x
