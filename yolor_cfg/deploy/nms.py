"""In-graph NMS: decoded detections [B, N, 5+nc] -> [K, 7] rows (batch, x1, y1, x2, y2, score, class),
built from ONNX ops (NonMaxSuppression per class, then at most max_det rows per image, by score)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _const(name: str, value, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def append_nms(model: onnx.ModelProto, det_name: str, conf: float, iou: float, max_det: int,
               out_name: str = "detections") -> onnx.ModelProto:
    g = model.graph
    p = "nms/"
    g.initializer.extend([
        _const(p + "s0", [0]), _const(p + "s2", [2]), _const(p + "s4", [4]), _const(p + "s5", [5]),
        _const(p + "big", [2**62]), _const(p + "ax2", [2]), _const(p + "ax1", [1]),
        _const(p + "max_det", [max_det]), _const(p + "iou", [iou], np.float32), _const(p + "conf", [conf], np.float32),
        _const(p + "half", [0.5], np.float32), _const(p + "two", [2.0], np.float32),
        _const(p + "col0", [0]), _const(p + "col1", [1]), _const(p + "col2", [2]),
    ])
    dt = next(o for o in g.output if o.name == det_name).type.tensor_type.elem_type
    n = []

    def node(op, inputs, outputs, **attrs):
        n.append(helper.make_node(op, [x if x.startswith(p) or x == det_name else p + x for x in inputs],
                                  [p + o for o in outputs], **attrs))

    det = det_name
    if dt != TensorProto.FLOAT:
        node("Cast", [det], ["det32"], to=TensorProto.FLOAT)
        det = p + "det32"
    node("Slice", [det, p + "s0", p + "s2", p + "ax2"], ["xy"])
    node("Slice", [det, p + "s2", p + "s4", p + "ax2"], ["wh"])
    node("Slice", [det, p + "s4", p + "s5", p + "ax2"], ["obj"])
    node("Slice", [det, p + "s5", p + "big", p + "ax2"], ["cls"])
    node("Mul", ["wh", p + "half"], ["half_wh"])
    node("Sub", ["xy", "half_wh"], ["x1y1"])
    node("Add", ["xy", "half_wh"], ["x2y2"])
    node("Concat", ["x1y1", "x2y2"], ["boxes"], axis=2)  # B, N, 4
    node("Mul", ["cls", "obj"], ["scores"])  # B, N, nc
    node("Transpose", ["scores"], ["scores_t"], perm=[0, 2, 1])  # B, nc, N
    node("NonMaxSuppression", ["boxes", "scores_t", p + "max_det", p + "iou", p + "conf"], ["sel"],
         center_point_box=0)  # K, 3: batch, class, box
    node("Gather", ["sel", p + "col0"], ["b2"], axis=1)  # K, 1
    node("Gather", ["sel", p + "col1"], ["c2"], axis=1)
    node("Gather", ["sel", p + "col2"], ["i2"], axis=1)
    node("Concat", ["b2", "i2"], ["bi"], axis=1)
    node("GatherND", ["boxes", "bi"], ["kboxes"])  # K, 4
    node("GatherND", ["scores_t", "sel"], ["kscores"])  # K
    node("Unsqueeze", ["kscores", p + "ax1"], ["kscores2"])  # K, 1
    # rank of each row within its image: rows of the same image with a higher score (ties: earlier row)
    node("Cast", ["b2"], ["bf"], to=TensorProto.FLOAT)
    node("Mul", ["bf", p + "two"], ["b_twice"])
    node("Sub", ["b_twice", "kscores2"], ["key"])  # K, 1: ascending = by image, then by score descending
    node("Transpose", ["key"], ["key_t"], perm=[1, 0])  # 1, K
    node("Less", ["key_t", "key"], ["before"])  # K, K: row j sorts before row i
    node("Shape", ["key"], ["kshape"])
    node("Gather", ["kshape", p + "col0"], ["k"], axis=0)
    node("Squeeze", ["k"], ["k0"])
    node("Range", [p + "zero_i", "k0", p + "one_i"], ["idx"])
    g.initializer.extend([_const(p + "zero_i", 0), _const(p + "one_i", 1)])
    node("Unsqueeze", ["idx", p + "ax1"], ["idx_col"])  # K, 1
    node("Unsqueeze", ["idx", p + "col0"], ["idx_row"])  # 1, K
    node("Less", ["idx_row", "idx_col"], ["earlier"])
    node("Equal", ["key_t", "key"], ["tied"])
    node("And", ["tied", "earlier"], ["tie_before"])
    node("Or", ["before", "tie_before"], ["ahead"])
    node("Transpose", ["b2"], ["b2_t"], perm=[1, 0])
    node("Equal", ["b2", "b2_t"], ["same_image"])
    node("And", ["ahead", "same_image"], ["ahead_same"])
    node("Cast", ["ahead_same"], ["ahead_i"], to=TensorProto.INT64)
    node("ReduceSum", ["ahead_i", p + "ax1"], ["rank"], keepdims=1)  # K, 1
    node("Less", ["rank", p + "max_det"], ["keep2"])
    node("Squeeze", ["keep2", p + "ax1"], ["keep"])
    node("Cast", ["c2"], ["cf"], to=TensorProto.FLOAT)
    node("Concat", ["bf", "kboxes", "kscores2", "cf"], ["rows"], axis=1)  # K, 7
    node("Compress", ["rows", "keep"], ["kept"], axis=0)
    node("Compress", ["key", "keep"], ["kept_key"], axis=0)
    # final order: by image, then by score (descending)
    node("Neg", ["kept_key"], ["neg_key"])
    node("Squeeze", ["neg_key", p + "ax1"], ["neg_key1"])
    node("Shape", ["neg_key1"], ["kk"])
    node("TopK", ["neg_key1", "kk"], ["_vals", "order"], axis=0, largest=1, sorted=1)
    n.append(helper.make_node("Gather", [p + "kept", p + "order"], [out_name], axis=0))
    g.node.extend(n)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["num_detections", 7]))
    return model


def reference_nms(decoded: np.ndarray, conf: float, iou: float, max_det: int) -> np.ndarray:
    """A slow, obviously-correct reference: per image and class greedy NMS, then the top max_det."""
    rows = []
    for b, det in enumerate(decoded):
        xy, wh = det[:, :2], det[:, 2:4]
        boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)
        scores = det[:, 5:] * det[:, 4:5]
        image_rows = []
        for c in range(scores.shape[1]):
            cand = [i for i in np.argsort(-scores[:, c], kind="stable") if scores[i, c] > conf]
            kept: list[int] = []
            for i in cand:
                if all(_iou(boxes[i], boxes[j]) <= iou for j in kept):
                    kept.append(i)
            image_rows += [(b, *boxes[i], scores[i, c], c) for i in kept[:max_det]]
        image_rows.sort(key=lambda r: -r[5])
        rows += image_rows[:max_det]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 7)


def _iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
