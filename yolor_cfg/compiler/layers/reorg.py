"""[reorg] (space-to-depth, by dialect) and [dwt] (Haar wavelet down-sampling)."""
from __future__ import annotations

from ..options import Int
from .base import LayerKind, NodeError, Shape, register


def _stride2_convolution(filters: int, weight, bias) -> tuple[str, dict, dict]:
    options = {"filters": filters, "size": 2, "stride": 2, "stride_x": -1, "stride_y": -1, "pad": 0, "padding": 0,
               "groups": 1, "dilation": 1, "batch_normalize": 0, "activation": "linear"}
    return "convolutional", options, {"Conv2d.weight": weight, "Conv2d.bias": bias}


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

    def lowered_convolution(self, node, params):
        """YOLOR's 2x2 space-to-depth as a stride-2 convolution whose kernel picks one input value per
        output channel (weight 1, every other 0): exact, and runnable where strided slices are not."""
        if node.dialect != "yolor":
            return None
        import torch

        c = node.in_shapes[0].c
        weight = torch.zeros(4 * c, c, 2, 2)
        for block, (row, col) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):  # YOLOR's concatenation order
            weight[block * c + torch.arange(c), torch.arange(c), row, col] = 1.0
        return _stride2_convolution(4 * c, weight, torch.zeros(4 * c))

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

    def lowered_convolution(self, node, params):
        """The Haar analysis as one stride-2 convolution: output channel c is LL / 2, channel
        C + 3c + k - 1 sub-band k / 2 + 0.5 (weights g[i] f[j] / 2 from the module's filters, bias 0.5)."""
        import torch

        c = node.in_shapes[0].c
        f0, f1 = params["DWT.xfm.h0_col"].flatten(), params["DWT.xfm.h1_col"].flatten()  # along the width
        g0, g1 = params["DWT.xfm.h0_row"].flatten(), params["DWT.xfm.h1_row"].flatten()  # along the height
        weight, bias = torch.zeros(4 * c, c, 2, 2), torch.zeros(4 * c)
        channels = torch.arange(c)
        weight[channels, channels] = torch.outer(g0, f0) / 2
        for k, (g, f) in enumerate(((g1, f0), (g0, f1), (g1, f1))):
            weight[c + 3 * channels + k, channels] = torch.outer(g, f) / 2
            bias[c + 3 * channels + k] = 0.5
        return _stride2_convolution(4 * c, weight, bias)

    def build(self, node, ctx):
        from ..modules.reorg import DWTBlock

        return DWTBlock()
