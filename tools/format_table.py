"""Benchmark: every export format of one model side by side, in one run on this machine: size on disk,
parity error against PyTorch, mAP@0.5 (float and INT8, with --data) and batch-1 latency.

    python tools/format_table.py --cfg cfg/yolor_tiny.cfg --weights tests/fixtures/trained/yolor_tiny_synth.pt \\
        --img 256 --data synth [--formats onnx,openvino,tflite,ncnn] [--int8] [--repeat 20]

Formats whose packages are not installed are listed as such. INT8 rows are exported with the accuracy
guard (``--data`` needed) and reported even when the guard fails (its drop says by how much)."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and p.name != "metadata.json"]
    return sum(p.stat().st_size for p in files) / 1e6


def main() -> None:
    import numpy as np
    import torch

    from yolor_cfg import api
    from yolor_cfg.core import cpu
    from yolor_cfg.deploy.export import AccuracyGuardError
    from yolor_cfg.deploy.formats import FORMATS
    from yolor_cfg.deploy.runtimes import as_runtime, open_artifact
    from yolor_cfg.deploy.timing import time_runs

    ap = argparse.ArgumentParser()
    ap.add_argument("--cfg", required=True)
    ap.add_argument("--weights")
    ap.add_argument("--img", type=int, default=640)
    ap.add_argument("--data", help="a data yaml (or 'synth'): mAP per row, and INT8 calibration")
    ap.add_argument("--formats", default=",".join(f for f, form in FORMATS.items() if form.device == "cpu"))
    ap.add_argument("--int8", action="store_true", help="also the INT8 export of each format that has one")
    ap.add_argument("--calib", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    data = str(api.synth()) if args.data == "synth" else args.data
    print(f"CPU: {cpu.describe()}; torch threads {torch.get_num_threads()}; {args.cfg} at {args.img}")
    x = np.random.default_rng(0).random((1, 3, args.img, args.img), dtype=np.float32)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        if args.weights:
            rows.append(("pytorch fp32", size_mb(Path(args.weights)), 0.0, open_artifact(args.weights, cfg=args.cfg),
                         {"cfg": args.cfg, "weights": args.weights}))
        else:
            model = api.compile(args.cfg, img_size=args.img)
            rows.append(("pytorch fp32", float("nan"), 0.0, as_runtime(model.eval()), {"cfg": model}))
        for name in args.formats.split(","):
            form = FORMATS[name]
            why = form.missing()
            if why:
                print(f"{name}: skipped ({why})")
                continue
            for int8 in ([False, True] if args.int8 and form.int8 else [False]):
                out = Path(scratch) / form.scratch_name(f"{name}{'_int8' if int8 else ''}")
                try:
                    report = api.export(args.cfg, out, weights=args.weights, format=name, img_size=args.img,
                                        int8=int8, data=data if int8 else None, calib=args.calib,
                                        log=lambda *a: None)
                except AccuracyGuardError as exc:
                    print(f"{name} int8: {exc}")
                    report = None
                parity = max(e for _, e in report.parity) if report is not None and not int8 else float("nan")
                rows.append((f"{name} {'int8' if int8 else 'fp32'}", size_mb(out), parity, open_artifact(out),
                             {"weights": str(out)}))
        print("| artifact | size (MB) | parity max error | mAP@0.5 | latency batch 1 (ms) | x PyTorch |")
        print("| --- | --- | --- | --- | --- | --- |")
        base = None
        for label, size, parity, rt, source in rows:
            ms = 1000 * statistics.median(time_runs(rt, x, 2, args.repeat, torch.device("cpu")))
            base = base or ms
            m = api.val(**source, data=data, img=args.img, verbose=False, workers=0).map50 if data else float("nan")
            print(f"| {label} | {size:.1f} | {parity:.2g} | {m:.4f} | {ms:.1f} | {base / ms:.2f} |")


if __name__ == "__main__":
    main()
