"""[crop]: Darknet's crop layer (a window of the input, its values mapped to [-1, 1])."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..options import Inert, Int
from .base import LayerKind, NodeError, Shape, register


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


@register
class CropKind(LayerKind):
    example = "[crop]\ncrop_width=28\ncrop_height=24\nnoadjust=1\n"
    name = "crop"
    yolor_builds = False
    summary = "centre crop at inference (random crop and flip while training); x -> 2x - 1 unless noadjust=1"
    options = {"crop_height": Int(1, min=1), "crop_width": Int(1, min=1), "flip": Int(0, min=0),
               "noadjust": Int(0, min=0),
               # Darknet applies these only in its GPU training path (random colour and angle changes)
               **{k: Inert() for k in ("angle", "saturation", "exposure", "shift")}}

    def infer(self, node, in_shapes, ctx):
        s, o = in_shapes[0], node.options
        if o["crop_height"] > s.h or o["crop_width"] > s.w:
            key = "crop_height" if o["crop_height"] > s.h else "crop_width"
            raise NodeError(f"a {o['crop_height']}x{o['crop_width']} crop does not fit the {s.h}x{s.w} input; "
                            f"crop_height and crop_width must be at most the input's height and width", key)
        return Shape(s.c, o["crop_height"], o["crop_width"], s.stride * s.h / o["crop_height"])

    def build(self, node, ctx):
        o = node.options
        return Crop(o["crop_height"], o["crop_width"], bool(o["flip"]), bool(o["noadjust"]))
