"""``yolor-cfg detect``: images, folders, globs and videos, with the PyTorch model or ONNX."""
from __future__ import annotations

from ..api import compile
from ..detect import Predictor, run_detect
from .common import img_size


def add_parser(sub):
    p = sub.add_parser("detect", help="detect objects in images/videos and draw them")
    p.add_argument("--cfg", help="network cfg (not needed with --onnx)")
    p.add_argument("--weights")
    p.add_argument("--onnx", help="run an exported ONNX model with onnxruntime instead")
    p.add_argument("--source", required=True, help="image, folder, glob or video")
    p.add_argument("--img", type=img_size)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--iou", type=float, default=0.45)
    p.add_argument("--max-det", type=int, default=300)
    p.add_argument("--names", help="comma-separated class names (default: from the weights or the ONNX metadata)")
    p.add_argument("--out", default="runs/detect")


def run(args) -> int:
    names = args.names.split(",") if args.names else None
    try:
        if args.onnx:
            predictor = Predictor(onnx_path=args.onnx, img_size=args.img, names=names)
        else:
            if not args.cfg:
                print("error: --cfg is required (or --onnx)")
                return 2
            model = compile(args.cfg, img_size=args.img)
            if args.weights:
                if args.weights.endswith(".pt"):
                    from ..io.checkpoint import FORMAT, read_torch_file

                    ck = read_torch_file(args.weights)
                    names = names or (ck.get("names") if isinstance(ck, dict) and ck.get("format") == FORMAT else None)
                model.load_weights(args.weights)
            predictor = Predictor(model, names=names)
        results = run_detect(predictor, args.source, args.out, args.conf, args.iou, args.max_det)
    except FileNotFoundError as exc:
        print(f"error: {exc}")
        return 1
    n = sum(len(v) for v in results.values())
    print(f"{n} detections in {len(results)} images/frames; annotated files and detections.json in {args.out}")
    return 0
