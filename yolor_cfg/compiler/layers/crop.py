"""[crop]: Darknet's crop layer (a window of the input, its values mapped to [-1, 1])."""
from __future__ import annotations

from ..options import Inert, Int
from .base import LayerKind, NodeError, Shape, register


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
        from ..modules.crop import Crop

        o = node.options
        return Crop(o["crop_height"], o["crop_width"], bool(o["flip"]), bool(o["noadjust"]))
