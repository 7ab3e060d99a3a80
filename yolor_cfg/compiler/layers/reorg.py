"""[reorg] (space-to-depth, by dialect) and [dwt] (Haar wavelet down-sampling)."""
from __future__ import annotations

from ..options import Int
from .base import LayerKind, NodeError, Shape, register


@register
class Reorg(LayerKind):
    example = "[reorg]\nstride=2\n"
    name = "reorg"
    summary = "space-to-depth: yolor dialect 2x2 in YOLOR's order; darknet dialect Darknet's reorg"
    options = {"stride": Int(None, min=1), "reverse": Int(0, min=0, doc="")}

    def validate(self, node, ctx):
        o = node.options
        if ctx.dialect.name == "yolor":
            if o["stride"] not in (None, 2) or o["reverse"]:
                raise NodeError("the yolor dialect's [reorg] is a fixed 2x2 space-to-depth; remove stride/reverse "
                                "(or compile with dialect='darknet')", "stride")
            node.derived["stride"] = 2
        else:
            node.derived["stride"] = o["stride"] or 1  # Darknet's default
            if o["reverse"]:
                raise NodeError("reverse=1 (depth-to-space) is not supported", "reverse")

    def infer(self, node, in_shapes, ctx):
        s, k = in_shapes[0], node.derived["stride"]
        if s.h % k or s.w % k:
            raise NodeError(f"stride {k} needs an input divisible by {k}, got {s.h}x{s.w} "
                            f"(input size {ctx.net_height}x{ctx.net_width})")
        if ctx.dialect.name == "darknet" and s.c % (k * k):
            raise NodeError(f"Darknet's [reorg] needs channels divisible by {k * k}, got {s.c}")
        return Shape(s.c * k * k, s.h // k, s.w // k, s.stride * k)

    def build(self, node, ctx):
        from ..modules.reorg import ReorgDarknet, SpaceToDepthYolor

        if ctx.dialect.name == "yolor":
            return SpaceToDepthYolor()
        return ReorgDarknet(node.derived["stride"])


@register
class DWT(LayerKind):
    name = "dwt"
    example = "[dwt]\n"
    summary = "YOLOR: Haar wavelet down-sampling (4x channels, half size)"
    yolor_only = True

    def infer(self, node, in_shapes, ctx):
        s = in_shapes[0]
        if s.h % 2 or s.w % 2:
            raise NodeError(f"[dwt] needs an even input size, got {s.h}x{s.w} "
                            f"(input size {ctx.net_height}x{ctx.net_width})")
        return Shape(s.c * 4, s.h // 2, s.w // 2, s.stride * 2)

    def build(self, node, ctx):
        from ..modules.reorg import DWTBlock

        return DWTBlock()
