"""[maxpool], [local_avgpool], [avgpool], [upsample]."""
from __future__ import annotations

from ..options import Float, Inert, Int, Refused
from .base import LayerKind, NodeError, Shape, register

_POOL_OPTIONS = {"stride": Int(1, min=1), "stride_x": Int(None, min=1), "stride_y": Int(None, min=1),
                 "size": Int(None, min=1), "padding": Int(None, min=0)}


def _darknet_window(size: int, stride: int, padding: int, n: int) -> tuple[int, int, int]:
    """(out, pad_before, pad_after) of Darknet's pooling: out = (n + padding - size) / stride + 1."""
    out = (n + padding - size) // stride + 1
    before = padding // 2
    after = (out - 1) * stride + size - n - before
    return out, before, after


@register
class MaxPool(LayerKind):
    example = "[maxpool]\nsize=3\nstride=2\n"
    name = "maxpool"
    aliases = ("max",)
    summary = "max pooling (Darknet's or YOLOR's padding rule, by dialect)"
    options = {**_POOL_OPTIONS, "maxpool_zero_nonmax": Inert(),
               "maxpool_depth": Refused(0, reason="channel-wise max pooling is not supported"),
               "out_channels": Refused(1, reason="channel-wise max pooling is not supported"),
               "antialiasing": Refused(0, reason="anti-aliased pooling is not supported")}
    average = False

    def draw_details(self, node):
        return [f"{node.derived['size']}x{node.derived['size']}/{node.options['stride']}"]

    def validate(self, node, ctx):
        o = node.options
        size = o["size"] or o["stride"]
        node.derived.update(stride_x=o["stride_x"] or o["stride"], stride_y=o["stride_y"] or o["stride"], size=size,
                            padding=size - 1 if o["padding"] is None else o["padding"])

    def _geometry(self, node, s: Shape, ctx):
        """(out_h, out_w, (left, right, top, bottom), zero_pad)."""
        o, d = node.options, node.derived
        k = d["size"]
        if ctx.dialect.name == "yolor" and not self.average:
            # YOLOR: nn.MaxPool2d(k, s, padding=(k-1)//2), and ZeroPad2d((0,1,0,1)) before a 2x2/1 pool
            if k == 2 and o["stride"] == 1:
                return s.h, s.w, (0, 1, 0, 1), True
            p = (k - 1) // 2
            return ((s.h + 2 * p - k) // d["stride_y"] + 1, (s.w + 2 * p - k) // d["stride_x"] + 1,
                    (p, p, p, p), False)
        oh, top, bottom = _darknet_window(k, d["stride_y"], d["padding"], s.h)
        ow, left, right = _darknet_window(k, d["stride_x"], d["padding"], s.w)
        return oh, ow, (left, right, top, bottom), False

    def infer(self, node, in_shapes, ctx):
        s = in_shapes[0]
        oh, ow, _, _ = self._geometry(node, s, ctx)
        if oh < 1 or ow < 1:
            raise NodeError(f"a {node.derived['size']}x{node.derived['size']} pool does not fit the "
                            f"{s.h}x{s.w} input", "size")
        return Shape(s.c, oh, ow, ctx.net_height / oh)

    def build(self, node, ctx):
        from ..modules.pool import DarknetPool

        _, _, pads, zero = self._geometry(node, node.in_shapes[0], ctx)
        d = node.derived
        return DarknetPool(d["size"], (d["stride_y"], d["stride_x"]), pads, self.average, zero)


@register
class LocalAvgPool(MaxPool):
    example = "[local_avgpool]\nsize=3\nstride=2\n"
    name = "local_avgpool"
    aliases = ("local_avg",)
    summary = "average pooling over a window (padded cells not counted)"
    options = dict(_POOL_OPTIONS)
    average = True


@register
class AvgPool(LayerKind):
    example = "[avgpool]\n"
    name = "avgpool"
    aliases = ("avg",)
    summary = "global average pooling to one value per channel"

    def infer(self, node, in_shapes, ctx):
        return Shape(in_shapes[0].c, 1, 1, ctx.net_height)

    def build(self, node, ctx):
        from ..modules.pool import GlobalAvgPool

        return GlobalAvgPool()


@register
class UpsampleKind(LayerKind):
    example = "[upsample]\nstride=2\n"
    name = "upsample"
    summary = "nearest-neighbour upsampling by stride (values times scale)"
    options = {"stride": Int(2, min=1, doc="a positive factor; Darknet's negative (reverse) stride is not "
                                           "supported"), "scale": Float(1.0)}

    def infer(self, node, in_shapes, ctx):
        s, k = in_shapes[0], node.options["stride"]
        return Shape(s.c, s.h * k, s.w * k, s.stride / k)

    def build(self, node, ctx):
        from ..modules.pool import Upsample

        return Upsample(node.options["stride"], node.options["scale"])
