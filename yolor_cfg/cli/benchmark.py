"""``yolor-cfg benchmark``: inference speed of each backend against the machine's rooflines."""
from __future__ import annotations

import json

from ..core.choices import BENCHMARK_ALIASES, BENCHMARK_TORCH_BACKENDS
from .common import batch_size, count, data_spec, device, existing_file, existing_path, square_img


def add_parser(sub):
    p = sub.add_parser("benchmark", help="latency, throughput and roofline fraction per inference backend")
    p.add_argument("--cfg", type=existing_file("cfg"), help="network cfg (not needed for an exported model)")
    p.add_argument("--weights", type=existing_path("weights"),
                   help=".pt/.weights for the cfg, or an exported model (.onnx, OpenVINO folder) to measure alone")
    p.add_argument("--img", type=square_img, help="default 640 (an exported model: its own size)")
    p.add_argument("--batch", type=batch_size(), default=1)
    p.add_argument("--device", default="cpu", type=device())
    p.add_argument("--backends", type=backend_list,
                   help=f"comma-separated, of {', '.join(backend_names())} (fused-bf16 / fused-fp16 = fused-lowp; "
                        "default: all but compile, those of formats not installed left out)")
    p.add_argument("--warmup", type=count(0, 10_000), default=2)
    p.add_argument("--repeat", type=count(1, 100_000), default=10)
    p.add_argument("--data", type=data_spec,
                   help="also report each backend's mAP on this data's val split (INT8 calibrated on its train split)")
    p.add_argument("--calib", type=count(1, 100_000), default=64, help="INT8 calibration images (default 64)")
    p.add_argument("--json", action="store_true")


def backend_names() -> tuple[str, ...]:
    """PyTorch's rows and the export formats' (without importing torch)."""
    from ..deploy.formats import benchmark_rows

    return BENCHMARK_TORCH_BACKENDS + tuple(benchmark_rows())


def backend_list(text: str) -> list[str]:
    """argparse type: comma-separated backend names, each known."""
    import argparse

    known = backend_names() + tuple(BENCHMARK_ALIASES)
    names = [b.strip() for b in text.split(",") if b.strip()]
    unknown = [b for b in names if b not in known]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown backend {', '.join(unknown) or '(none given)'}; choose from "
                                         f"{', '.join(known)}")
    return names


backend_list.role = "backends"  # for the mistake tests (see common._checked)


def run(args) -> int:
    from .. import api

    report = api.benchmark(args.cfg, args.weights, args.img, args.batch, args.device, args.backends, args.warmup,
                           args.repeat, args.data, args.calib, log=(lambda *a: None) if args.json else print)
    if args.json:
        print(json.dumps(report))
    elif report["speedup_vs_eager"]:
        speed = ", ".join(f"{k} {v:.2f}x" for k, v in report["speedup_vs_eager"].items())
        print(f"model {report['model_gflops']:.3g} GFLOPs per batch; speed-up vs eager fp32: {speed}")
    return 0
