"""``yolor-cfg export``: cfg + weights -> deployment-clean ONNX, checked against PyTorch."""
from __future__ import annotations

from .. import api
from .common import (DIALECT_CHOICES, batch_size, count, existing_file, img_size, opset, output_file,
                     tolerance, probability)


def add_parser(sub):
    p = sub.add_parser("export", help="export to ONNX (fused, self-checked against PyTorch)")
    p.add_argument("--cfg", required=True, type=existing_file("cfg"))
    p.add_argument("--weights", type=existing_file("weights"),
                   help=".pt or .weights (random weights when omitted: for trying things out)")
    p.add_argument("--out", required=True, type=output_file("ONNX output"))
    p.add_argument("--img", type=img_size, help="input size: 640, or HEIGHTxWIDTH (default: the cfg's)")
    p.add_argument("--batch", type=batch_size(), default=1)
    p.add_argument("--dynamic", nargs="?", const="batch", choices=("batch", "hw"),
                   help="dynamic batch (--dynamic) or batch, height and width (--dynamic hw)")
    p.add_argument("--opset", type=opset(), default=17)
    p.add_argument("--no-fuse", action="store_true")
    p.add_argument("--half", action="store_true", help="float16 weights and input")
    p.add_argument("--raw", action="store_true", help="head outputs only (no decoding)")
    p.add_argument("--nms", action="store_true", help="append ONNX NonMaxSuppression: output [N, 7]")
    p.add_argument("--conf", type=probability(), default=0.25)
    p.add_argument("--iou", type=probability(), default=0.45)
    p.add_argument("--max-det", type=count(1, 100_000), default=300)
    p.add_argument("--tolerance", type=tolerance(), help="parity tolerance (default 1e-4; 1e-2 with --half)")
    p.add_argument("--dialect", choices=DIALECT_CHOICES)


def run(args) -> int:
    size = args.img if isinstance(args.img, tuple) else ((args.img, args.img) if args.img else None)
    report = api.export(args.cfg, args.out, args.weights, args.dialect, img_size=size, batch=args.batch,
                        dynamic=bool(args.dynamic), dynamic_hw=args.dynamic == "hw", opset=args.opset,
                        fuse=not args.no_fuse, half=args.half, raw=args.raw, nms=args.nms, conf=args.conf,
                        iou=args.iou, max_det=args.max_det, tolerance=args.tolerance)
    print(report.format())
    return 0
