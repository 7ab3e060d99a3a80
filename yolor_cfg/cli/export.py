"""``yolor-cfg export``: cfg + weights -> a deployment artifact in any registered format
(``deploy/formats/``), float or INT8, checked against PyTorch (and, for INT8, guarded by val on the
data's val split)."""
from __future__ import annotations

from ..core.choices import (INT8_CALIBRATION_IMAGES, INT8_CALIBRATION_METHODS, INT8_MAX_DROP, INT8_SEARCH_MODES)
from .common import (DIALECT_CHOICES, batch_size, count, data_spec, existing_file, finite_number, img_size, opset, probability, tolerance)


def add_parser(sub):
    from ..deploy.formats import FORMATS

    p = sub.add_parser("export", help=f"export to {', '.join(FORMATS)}, float or INT8 (self-checked)")
    p.add_argument("--cfg", required=True, type=existing_file("cfg"))
    p.add_argument("--weights", type=existing_file("weights"),
                   help=".pt or .weights (random weights when omitted: for trying things out)")
    p.add_argument("--out", required=True,
                   help="the artifact: a file or folder named as --format says")
    p.add_argument("--format", choices=list(FORMATS), default="onnx",
                   help="; ".join(f"{name}: {form.summary}" for name, form in FORMATS.items()))
    p.add_argument("--img", type=img_size, help="input size: 640, or HEIGHTxWIDTH (default: the cfg's)")
    p.add_argument("--batch", type=batch_size(), default=1)
    p.add_argument("--dynamic", nargs="?", const="batch", choices=("batch", "hw"),
                   help="dynamic batch (--dynamic) or batch, height and width (--dynamic hw)")
    p.add_argument("--opset", type=opset(), default=17)
    p.add_argument("--no-fuse", action="store_true")
    p.add_argument("--half", action="store_true", help="float16 weights and input")
    p.add_argument("--raw", action="store_true", help="head outputs only (no decoding)")
    p.add_argument("--nms", action="store_true", help="NMS in the graph, output [N, 7] rows (ONNX NonMaxSuppression; TensorRT: its EfficientNMS plugin)")
    p.add_argument("--conf", type=probability(), default=0.25,
                   help="--nms: score threshold built into the graph (default 0.25; detect cannot go below it)")
    p.add_argument("--iou", type=probability(), default=0.45, help="--nms: IoU threshold built into the graph")
    p.add_argument("--max-det", type=count(1, 100_000), default=300, help="--nms: detections per image, at most")
    p.add_argument("--tolerance", type=tolerance(), help="parity tolerance (default 1e-4; 1e-2 with --half)")
    p.add_argument("--dialect", choices=DIALECT_CHOICES)
    p.add_argument("--int8", action="store_true",
                   help="post-training INT8 quantization (needs --data), then the accuracy guard")
    p.add_argument("--data", type=data_spec, help="--int8: calibration (train split) and guard (val split) data")
    p.add_argument("--calib", type=count(1, 100_000), default=INT8_CALIBRATION_IMAGES,
                   help=f"--int8: calibration images (default {INT8_CALIBRATION_IMAGES})")
    p.add_argument("--max-drop", type=finite_number(), default=INT8_MAX_DROP,
                   help=f"--int8: exit 1 when mAP@0.5 drops by more points than this (default {INT8_MAX_DROP:g})")
    p.add_argument("--int8-calibration", choices=INT8_CALIBRATION_METHODS,
                   help="--int8, onnxruntime: calibration method (default: minmax with VNNI, percentile without)")
    p.add_argument("--int8-search", choices=INT8_SEARCH_MODES, default="auto",
                   help="--int8: keep the activations quantization hurts most in float until --max-drop is met: "
                        "auto (when the first try misses it), always (also rank them when it does not), off")


def run(args) -> int:
    from .. import api

    size = args.img if isinstance(args.img, tuple) else ((args.img, args.img) if args.img else None)
    report = api.export(args.cfg, args.out, args.weights, args.dialect, format=args.format, int8=args.int8,
                        data=args.data, calib=args.calib, max_drop=args.max_drop,
                        int8_search=args.int8_search,
                        int8_calibration=args.int8_calibration, img_size=size, batch=args.batch,
                        dynamic=bool(args.dynamic), dynamic_hw=args.dynamic == "hw", opset=args.opset,
                        fuse=not args.no_fuse, half=args.half, raw=args.raw, nms=args.nms, conf=args.conf,
                        iou=args.iou, max_det=args.max_det, tolerance=args.tolerance)
    if not args.int8:  # the INT8 flow prints its steps as they happen
        print(report.format())
    return 0
