"""``yolor-cfg benchmark``: inference speed of each backend against the machine's matmul roofline."""
from __future__ import annotations

import json

import torch

from ..api import compile
from ..benchmark import BACKENDS, run_benchmark
from .common import torch_device


def add_parser(sub):
    p = sub.add_parser("benchmark", help="latency, throughput and roofline fraction per inference backend")
    p.add_argument("--cfg", required=True)
    p.add_argument("--weights")
    p.add_argument("--img", type=int, default=640)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--backends", default=",".join(BACKENDS[:3] + BACKENDS[4:]),
                   help=f"comma-separated, of {', '.join(BACKENDS)} (fused-bf16 / fused-fp16 = fused-lowp)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--data", help="accuracy guard: also report each backend's mAP@0.5 change on this data's val split")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    model = compile(args.cfg, img_size=args.img)
    if args.weights:
        model.load_weights(args.weights)
    loader = names = None
    if args.data:
        from ..train.data import DataConfig, DetectionDataset, build_index, collate

        data = DataConfig.load(args.data)
        index = build_index(data, "val")
        loader = torch.utils.data.DataLoader(DetectionDataset(index, args.img), batch_size=16, collate_fn=collate)
        names = data.names
    device = torch_device(args.device)
    report = run_benchmark(model, args.img, args.batch, device, [b for b in args.backends.split(",") if b],
                           args.warmup, args.repeat, loader, names, log=(lambda *a: None) if args.json else print)
    if args.json:
        print(json.dumps(report))
    else:
        speed = ", ".join(f"{k} {v:.2f}x" for k, v in report["speedup_vs_eager"].items())
        print(f"model {report['model_gflops']:.1f} GFLOPs per batch; speed-up vs eager fp32: {speed}")
    return 0
