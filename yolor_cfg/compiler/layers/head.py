"""Detection heads: [yolo] (YOLOv3/v4/YOLOR) and [region] (YOLOv2).

Training mode returns the raw head tensor, batch x anchors x H x W x (5 + classes).
Eval mode returns (decoded, raw): decoded is batch x (anchors*H*W) x (5 + classes) with
centre x, centre y, width, height in input pixels, then objectness and class scores.
"""
from __future__ import annotations

from ..options import Floats, Inert, Int, Ints, Float, Refused
from .base import HeadSpec, LayerKind, NodeError, register

_YOLO_INERT = ("max", "show_details", "max_delta", "counters_per_class", "label_smooth_eps", "objectness_smooth",
               "iou_normalizer", "obj_normalizer", "cls_normalizer", "delta_normalizer", "iou_loss",
               "iou_thresh_kind", "beta_nms", "nms_kind", "jitter", "resize", "focal_loss", "ignore_thresh",
               "truth_thresh", "iou_thresh", "random", "track_history_size", "sim_thresh", "dets_for_track",
               "dets_for_show", "track_ciou_norm", "embedding_layer", "map", "from")


def _anchor_pairs(node, count: int) -> list[tuple[float, float]]:
    values = node.options["anchors"]
    if values is None:
        raise NodeError("needs anchors= (width,height pairs in pixels)")
    if len(values) % 2:
        raise NodeError(f"anchors= has {len(values)} numbers; it needs width,height pairs (an even count)",
                        "anchors")
    pairs = [(values[i], values[i + 1]) for i in range(0, len(values), 2)]
    if len(pairs) < count:
        raise NodeError(f"num={count} but anchors= has only {len(pairs)} pairs", "anchors")
    return pairs


def _head_spec(node, ctx) -> HeadSpec:
    s = node.in_shapes[0]
    return HeadSpec(tuple(tuple(a) for a in node.derived["anchor_pairs"]), (ctx.net_height / s.h, ctx.net_width / s.w),
                    node.options["classes"])


def head_filter_sources(nodes, head) -> list:
    """The layers whose ``filters=`` set a head's input channels: the convolution before it, and the
    implicit vectors applied on the way (e.g. the [implicit_mul] of a control_channels)."""
    found = []
    i = head.inputs[0]
    while i >= 0:
        node = nodes[i]
        if node.spec.passes_channels:
            if node.spec.implicit_op in ("add", "mul"):
                found.append(nodes[node.inputs[1]])
            i = node.inputs[0]
            continue
        if "filters" in node.options:
            found.append(node)
        break
    return found


def _check_filters(node, in_shapes, ctx, per_anchor: int, count: int):
    need = count * per_anchor
    got = in_shapes[0].c
    if got != need:
        prev = ctx.nodes[node.inputs[0]]
        why = f"{need} = {count} anchors x (classes {per_anchor - 5} + 5)"
        related = [(src, "filters", f"filters={src.options['filters']} does not fit the head at line {node.loc.line}, "
                                    f"which needs {why}; set filters={need}")
                   for src in head_filter_sources(ctx.nodes, node) if src.options.get("filters") != need]
        raise NodeError(f"the layer before (layer {prev.index}, line {prev.loc.line}) gives {got} channels, but this "
                        f"head needs {why}; set filters={need} there"
                        + (" (and in the layers named below)" if len(related) > 1 else ""), related=related)


@register
class Yolo(LayerKind):
    example = "[convolutional]\nfilters=21\nsize=1\nactivation=linear\n[yolo]\nmask=0,1,2\nanchors=10,13,16,30,33,23\nclasses=2\nnum=3\n"
    name = "yolo"
    is_head = True
    summary = "YOLO detection head (anchors from mask=; decoding by dialect)"
    extension_keys = frozenset({"aux"})

    def inference_output(self, node):
        return not node.options["aux"]
    options = {"classes": Int(20, min=1), "num": Int(1, min=1), "mask": Ints(None, min=0),
               "anchors": Floats(None, min=0), "scale_x_y": Float(1.0), "new_coords": Int(0, min=0),
               # yolor-cfg: a training-only head (yolov7's auxiliary heads): in the loss, never at inference
               "aux": Int(0, min=0),
               **{k: Inert() for k in _YOLO_INERT}}

    def validate(self, node, ctx):
        o = node.options
        mask = o["mask"] if o["mask"] is not None else list(range(o["num"]))
        pairs = _anchor_pairs(node, o["num"])
        for m in mask:
            if m >= len(pairs) or m >= o["num"]:
                raise NodeError(f"mask index {m} is outside the anchors (there are {min(len(pairs), o['num'])}: "
                                f"0..{min(len(pairs), o['num']) - 1})", "mask")
        node.derived.update(mask=mask, anchor_pairs=[pairs[m] for m in mask])

    def infer(self, node, in_shapes, ctx):
        _check_filters(node, in_shapes, ctx, node.options["classes"] + 5, len(node.derived["mask"]))
        return in_shapes[0]

    def head(self, node, ctx):
        return _head_spec(node, ctx)

    def build(self, node, ctx):
        o, s = node.options, node.in_shapes[0]
        if ctx.dialect.name == "yolor":
            decoding = "yolor"
        else:
            decoding = "darknet_new_coords" if o["new_coords"] else "darknet"
        from ..modules.head import DetectHead

        return DetectHead(node.derived["anchor_pairs"], o["classes"], (ctx.net_height / s.h, ctx.net_width / s.w),
                          decoding, o["scale_x_y"])


@register
class Region(LayerKind):
    example = "[convolutional]\nfilters=14\nsize=1\nactivation=linear\n[region]\nanchors=1,1,2,2\nclasses=2\nnum=2\nsoftmax=1\n"
    yolor_builds = False
    name = "region"
    is_head = True
    summary = "YOLOv2 detection head (anchors in grid cells)"
    options = {"classes": Int(20, min=1), "num": Int(1, min=1), "anchors": Floats(None, min=0),
               "softmax": Int(0, min=0), "coords": Refused(4, reason="only coords=4 boxes are supported"),
               **{k: Inert() for k in ("max", "log", "sqrt", "focal_loss", "jitter", "resize", "rescore", "thresh",
                                       "classfix", "absolute", "random", "coord_scale", "object_scale",
                                       "noobject_scale", "mask_scale", "class_scale", "bias_match", "tree", "map")}}

    def validate(self, node, ctx):
        node.derived["anchor_pairs"] = _anchor_pairs(node, node.options["num"])[: node.options["num"]]

    def infer(self, node, in_shapes, ctx):
        _check_filters(node, in_shapes, ctx, node.options["classes"] + 5, node.options["num"])
        return in_shapes[0]

    def head(self, node, ctx):
        return _head_spec(node, ctx)

    def build(self, node, ctx):
        from ..modules.head import DetectHead

        o, s = node.options, node.in_shapes[0]
        return DetectHead(node.derived["anchor_pairs"], o["classes"], (ctx.net_height / s.h, ctx.net_width / s.w),
                          "region", class_softmax=bool(o["softmax"]))
