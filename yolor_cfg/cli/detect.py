"""``yolor-cfg detect``: images, folders, globs and videos, with any runtime (PyTorch, onnxruntime, OpenVINO)."""
from __future__ import annotations

from .common import DIALECT_CHOICES, count, device, existing_file, existing_path, img_size, output_dir, probability


def add_parser(sub):
    p = sub.add_parser("detect", help="detect objects in images/videos and draw them")
    p.add_argument("--cfg", type=existing_file("cfg"), help="network cfg (not needed for our .pt or an exported model)")
    p.add_argument("--weights", type=existing_path("weights"),
                   help=".pt/.weights for the cfg, or an exported model: .onnx, OpenVINO folder")
    p.add_argument("--onnx", type=existing_file("ONNX model"), help="an exported ONNX model (same as --weights x.onnx)")
    p.add_argument("--source", required=True, help="image, folder, glob or video")
    p.add_argument("--img", type=img_size)
    p.add_argument("--conf", type=probability(), default=0.25)
    p.add_argument("--iou", type=probability(), default=0.45)
    p.add_argument("--max-det", type=count(1, 100_000), default=300)
    p.add_argument("--names", help="comma-separated class names (default: from the weights or the export's metadata)")
    p.add_argument("--dialect", choices=DIALECT_CHOICES, help="with --cfg: override the dialect the cfg implies")
    p.add_argument("--device", default="cpu", type=device(), help="for PyTorch models: cpu or a CUDA index")
    p.add_argument("--out", default="runs/detect", type=output_dir("detect output folder"))


def run(args) -> int:
    from .. import api

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    results = api.detect(args.source, args.cfg, args.weights, args.onnx, args.out, args.img, args.conf, args.iou,
                         args.max_det, names, device=args.device, dialect=args.dialect)
    print(f"{results.summary()}\nannotated files and detections.json in {args.out}")
    return 1 if results.unreadable and not results else 0
