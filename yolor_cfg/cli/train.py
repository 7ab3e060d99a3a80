"""``yolor-cfg train``: train a cfg on a dataset (one CPU, one GPU, or torchrun for many)."""
from __future__ import annotations

import argparse

from .common import (DIALECT_CHOICES, batch_size, count, data_spec, device, existing_file, existing_file_or_auto, output_dir, square_img)


def add_parser(sub):
    p = sub.add_parser("train", help="train a cfg (YOLO txt or COCO json data, or --data synth)")
    p.add_argument("--cfg", type=existing_file("cfg"), help="network cfg (not needed with --resume)")
    p.add_argument("--data", default="synth", type=data_spec, help="data.yaml, or synth / synth-tracks for the built-in synthetic sets")
    p.add_argument("--epochs", type=count(1, 1_000_000), default=10)
    p.add_argument("--batch", type=batch_size(), default=16, help="total batch size (split across DDP ranks)")
    p.add_argument("--img", type=square_img, default=256)
    p.add_argument("--weights", type=existing_file("weights"), help="initial weights (.pt or .weights)")
    p.add_argument("--hyp", type=existing_file("hyperparameter file"),
                   help="hyperparameter yaml (YOLOR's hyp.scratch.*.yaml keys)")
    p.add_argument("--device", default="cpu", type=device(), help="cpu, 0, or 0,1 (with torchrun)")
    p.add_argument("--workers", type=count(0, 256), default=2)
    p.add_argument("--project", default="runs/train", type=output_dir("project folder"))
    p.add_argument("--name", default="exp")
    p.add_argument("--exist-ok", action="store_true")
    p.add_argument("--resume", nargs="?", const="auto", type=existing_file_or_auto("--resume checkpoint"),
                   help="resume the newest run under --project (or the given last.pt)")
    p.add_argument("--dialect", choices=DIALECT_CHOICES, help="override the dialect the cfg implies")
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--deterministic", action="store_true", help="deterministic algorithms, no bf16 (repeatable runs)")
    p.add_argument("--adam", action="store_true")
    p.add_argument("--linear-lr", action="store_true")
    p.add_argument("--sync-bn", action="store_true")
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--nbs", type=count(1, 1_000_000), default=64,
                   help="nominal batch size (gradient accumulation target)")
    p.add_argument("--max-steps", type=count(1), help=argparse.SUPPRESS)  # tests: stop like a kill


def options_from_args(args) -> dict:
    """TrainOptions fields from the parsed arguments (cfg and data are api.train's own arguments)."""
    return dict(epochs=args.epochs, batch=args.batch, img=args.img, weights=args.weights, hyp=args.hyp,
                device=args.device, workers=args.workers, project=args.project, name=args.name,
                exist_ok=args.exist_ok, resume=args.resume, seed=args.seed, deterministic=args.deterministic,
                optimizer="adam" if args.adam else "sgd", linear_lr=args.linear_lr, sync_bn=args.sync_bn,
                amp=not args.no_amp, nominal_batch=args.nbs, max_steps=args.max_steps,
                dialect=args.dialect)


def run(args) -> int:
    from .. import api

    result = api.train(args.cfg or "", args.data, **options_from_args(args))
    if result.best is None:
        print(f"stopped after --max-steps optimizer steps: {result.save_dir}")
    else:
        print(f"done: {result.save_dir} (best {result.best})")
    return 0
