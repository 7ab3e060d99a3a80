"""Benchmark: where the time goes in onnxruntime, fp32 against INT8 (QDQ), per operator type.

    python tools/profile_int8.py [--cfg cfg/yolor_p6.cfg] [--img 640] [--repeat 5]

Exports the cfg (random weights: speed does not depend on them), quantizes it as
``export --int8`` does (calibrated on random inputs here), runs both with onnxruntime's profiler
on this machine's threads and prints, per operator type after onnxruntime's graph fusions
(QLinearConv, fused Conv+activation, ...), the milliseconds per image and the share of the total."""
from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from yolor_cfg.deploy.runtimes.onnx import open_onnx_session
import torch

from yolor_cfg import api
from yolor_cfg.deploy.formats import ExportOptions, export_onnx
from yolor_cfg.deploy.int8 import quantize_onnx


def profile(path: Path, x: np.ndarray, repeat: int) -> dict[str, float]:
    """Milliseconds per run spent in each operator type."""
    session = open_onnx_session(path, torch.get_num_threads(), profile_prefix=str(path.with_suffix("")))
    session.run(None, {"images": x})
    trace = session.end_profiling()
    session = open_onnx_session(path, torch.get_num_threads(), profile_prefix=str(path.with_suffix("")))
    for _ in range(repeat):
        session.run(None, {"images": x})
    trace = session.end_profiling()
    per_op: dict[str, float] = defaultdict(float)
    for event in json.loads(Path(trace).read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"] / 1000 / repeat
    return dict(per_op)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cfg", default="cfg/yolor_p6.cfg")
    ap.add_argument("--img", type=int, default=640)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    model = api.compile(args.cfg, img_size=args.img)
    rng = np.random.default_rng(0)
    x = rng.random((1, 3, args.img, args.img), dtype=np.float32)
    with tempfile.TemporaryDirectory() as scratch:
        fp32, int8 = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        export_onnx(model, fp32, ExportOptions(img_size=(args.img, args.img)))
        quantize_onnx(fp32, int8, [rng.random(x.shape, dtype=np.float32) for _ in range(8)])
        profiles = {"fp32": profile(fp32, x, args.repeat), "int8": profile(int8, x, args.repeat)}
    for name, per_op in profiles.items():
        total = sum(per_op.values())
        print(f"\n{name}: {total:.1f} ms in operators per image ({torch.get_num_threads()} threads)")
        print("| operator | ms | share |\n| --- | --- | --- |")
        for op, ms in sorted(per_op.items(), key=lambda kv: -kv[1])[:12]:
            print(f"| {op} | {ms:.1f} | {100 * ms / total:.1f}% |")


if __name__ == "__main__":
    main()
