"""Module of [crop]."""
from __future__ import annotations

import torch
import torch.nn as nn


class Crop(nn.Module):
    """Darknet's forward_crop_layer: a height x width window, centred at inference; while training at
    a random offset, mirrored half the time when ``flip`` (one draw per batch, as Darknet draws once
    per forward). Values become 2x - 1 unless ``noadjust`` (then they pass unchanged)."""

    def __init__(self, height: int, width: int, flip: bool, noadjust: bool):
        super().__init__()
        self.height, self.width, self.flip, self.noadjust = height, width, flip, noadjust

    def forward(self, x):
        h, w = x.shape[-2:]
        if self.training:
            dh = int(torch.randint(h - self.height + 1, ()))
            dw = int(torch.randint(w - self.width + 1, ()))
            mirrored = self.flip and bool(torch.randint(2, ()))
        else:
            dh, dw, mirrored = (h - self.height) // 2, (w - self.width) // 2, False
        if mirrored:  # Darknet reads column w - dw - 1 - j for output column j
            left = w - dw - self.width
            y = x[..., dh:dh + self.height, left:left + self.width].flip(-1)
        else:
            y = x[..., dh:dh + self.height, dw:dw + self.width]
        return y if self.noadjust else y * 2 - 1
