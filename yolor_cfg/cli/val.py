"""``yolor-cfg val``: COCO metrics (pycocotools) of a model on a dataset's val split."""
from __future__ import annotations

from .common import (DIALECT_CHOICES, batch_size, count, data_spec, device, existing_file, existing_path, output_dir, probability, square_img)


def add_parser(sub):
    p = sub.add_parser("val", help="evaluate on a dataset's val split (COCO AP with pycocotools)")
    p.add_argument("--cfg", type=existing_file("cfg"), help="network cfg (not needed for our .pt or an exported model)")
    p.add_argument("--weights", type=existing_path("weights"),
                   help=".pt/.weights for the cfg, or an exported model: .onnx, OpenVINO folder")
    p.add_argument("--data", default="synth", type=data_spec)
    p.add_argument("--img", type=square_img, help="default 256, or an exported model's input size")
    p.add_argument("--batch", type=batch_size(), default=16)
    p.add_argument("--conf", type=probability(), help="default 0.001 for detection mAP, 0.3 for --task track")
    p.add_argument("--iou", type=probability(), help="NMS IoU: default 0.65 for detection mAP, 0.45 for --task track")
    p.add_argument("--max-det", type=count(1, 100_000), default=300)
    p.add_argument("--dialect", choices=DIALECT_CHOICES, help="with --cfg: override the dialect the cfg implies")
    p.add_argument("--device", default="cpu", type=device())
    p.add_argument("--out", default="runs/val", type=output_dir("val output folder"),
                   help="folder for predictions.json, metrics.json, pr_curve.png")
    p.add_argument("--workers", type=count(0, 256), default=2)
    p.add_argument("--task", choices=("detect", "track"), default="detect",
                   help="track: HOTA, MOTA, IDF1 and ID switches (TrackEval) on the val sequences (MOTChallenge "
                        "folders; --data synth-tracks: the synthetic ones)")
    p.add_argument("--match", choices=("embed", "iou"), default="embed", help="--task track: how tracks are associated")


def run(args) -> int:
    from .. import api

    if args.task == "track":
        from ..workflows.track.run import format_metrics

        conf = 0.3 if args.conf is None else args.conf
        iou = 0.45 if args.iou is None else args.iou
        metrics, runs = api.val_tracking(args.weights, args.data, args.cfg, args.match, conf, iou, args.out, args.device)
        print(format_metrics(metrics, runs))
        return 0
    result = api.val(args.cfg, args.weights, args.data, args.img, args.batch, 0.001 if args.conf is None else args.conf,
                     0.65 if args.iou is None else args.iou, args.max_det, args.device, args.out, args.workers,
                     dialect=args.dialect)
    print(f"mAP@0.5 {result.map50:.4f}  mAP@0.5:0.95 {result.map:.4f}  (saved in {args.out})")
    return 0
