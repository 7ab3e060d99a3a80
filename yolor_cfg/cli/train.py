"""``yolor-cfg train``: train a cfg on a dataset (one CPU, one GPU, or torchrun for many)."""
from __future__ import annotations

import argparse

from ..train.trainer import TrainOptions, Trainer


def add_parser(sub):
    p = sub.add_parser("train", help="train a cfg (YOLO txt or COCO json data, or --data synth)")
    p.add_argument("--cfg", default="", help="network cfg (not needed with --resume)")
    p.add_argument("--data", default="synth", help="data.yaml, or 'synth' for the built-in synthetic set")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=16, help="total batch size (split across DDP ranks)")
    p.add_argument("--img", type=int, default=256)
    p.add_argument("--weights", help="initial weights (.pt or .weights)")
    p.add_argument("--hyp", help="hyperparameter yaml (YOLOR's hyp.scratch.*.yaml keys)")
    p.add_argument("--device", default="cpu", help="cpu, 0, or 0,1 (with torchrun)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--project", default="runs/train")
    p.add_argument("--name", default="exp")
    p.add_argument("--exist-ok", action="store_true")
    p.add_argument("--resume", nargs="?", const="auto", help="resume the last run (or the given last.pt)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms, no bf16 (repeatable runs)")
    p.add_argument("--adam", action="store_true")
    p.add_argument("--linear-lr", action="store_true")
    p.add_argument("--sync-bn", action="store_true")
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--nbs", type=int, default=64, help="nominal batch size (gradient accumulation target)")
    p.add_argument("--max-steps", type=int, help=argparse.SUPPRESS)  # tests: stop like a kill


def options_from_args(args) -> TrainOptions:
    return TrainOptions(cfg=args.cfg, data=args.data, epochs=args.epochs, batch=args.batch, img=args.img,
                        weights=args.weights, hyp=args.hyp, device=args.device, workers=args.workers,
                        project=args.project, name=args.name, exist_ok=args.exist_ok, resume=args.resume,
                        seed=args.seed, deterministic=args.deterministic, optimizer="adam" if args.adam else "sgd",
                        linear_lr=args.linear_lr, sync_bn=args.sync_bn, amp=not args.no_amp, nominal_batch=args.nbs,
                        max_steps=args.max_steps)


def run(args) -> int:
    if not args.cfg and not args.resume:
        print("error: --cfg is required (unless --resume)")
        return 2
    result = Trainer(options_from_args(args)).train()
    if "stopped_at_step" in result:
        print(f"stopped after {result['stopped_at_step']} optimizer steps (--max-steps): {result['save_dir']}")
    else:
        print(f"done: {result['save_dir']} (best {result['best']})")
    return 0
