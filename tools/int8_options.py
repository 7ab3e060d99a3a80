"""Benchmark: onnxruntime INT8 options measured on one model, for docs/int8.md's options table.

    python tools/int8_options.py [--weights runs/demo/weights/best.pt] [--calib 300]

Quantizes the model once per option set (calibration MinMax / Percentile / Entropy; int8 weights with
and without reduce_range, uint8 weights; per-channel and per-tensor), every time with the head float
and without any search, and prints each artifact's mAP@0.5 on the synthetic val split next to the
float model's (speed is `yolor-cfg benchmark`'s job: at 256 px the tiny model runs in about 2 ms,
too little to rank options by). The arithmetic of a QDQ model
depends on the CPU only through these options, except for one thing this table cannot show on a VNNI
CPU: without VNNI, int8 weights at full range can saturate onnxruntime's 16-bit pair sums
(tools/int8_saturation.py counts how often that would happen)."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from yolor_cfg import api
from yolor_cfg.workflows.eval.validate import run_validation
from yolor_cfg.deploy.formats import ExportOptions, export_onnx
from yolor_cfg.core import cpu
from yolor_cfg.deploy.int8 import OnnxQuantOptions, calibration_batches, quantize_onnx
from yolor_cfg.deploy.runtimes import open_artifact
from yolor_cfg.workflows.train.data import DataConfig, build_index
from yolor_cfg.workflows.train.synth import ensure_synth

TRAINED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "trained" / "yolor_tiny_synth.pt"
OPTION_SETS = [
    OnnxQuantOptions(calibration="minmax", reduce_range=False),
    OnnxQuantOptions(calibration="minmax", reduce_range=True),
    OnnxQuantOptions(calibration="percentile", reduce_range=True),
    OnnxQuantOptions(calibration="entropy", reduce_range=True),
    OnnxQuantOptions(calibration="percentile", reduce_range=False),
    OnnxQuantOptions(calibration="minmax", weights="u8", reduce_range=False),
    OnnxQuantOptions(calibration="minmax", reduce_range=True, per_channel=False),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=str(TRAINED), help="one of our checkpoints (it carries its cfg)")
    ap.add_argument("--calib", type=int, default=300)
    args = ap.parse_args()
    print(f"CPU: {cpu.describe()}")
    data = ensure_synth()
    data_config = DataConfig.load(data)
    model = api.load(args.weights)
    size = model.graph.net.height
    loader, names, _ = api._val_data(data_config, size)
    inputs = calibration_batches(build_index(data_config, "train").images, (size, size), args.calib, 1)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        float_onnx = Path(scratch) / "float.onnx"
        export_onnx(model, float_onnx, ExportOptions(dynamic=True, names=names))
        runtime = open_artifact(float_onnx)
        base = run_validation(runtime, loader, names, verbose=False, progress=False)
        print(f"float: mAP@0.5 {base.map50:.4f}", flush=True)
        for k, options in enumerate(OPTION_SETS):
            out = Path(scratch) / f"q{k}.onnx"
            quantize_onnx(float_onnx, out, inputs, options)
            runtime = open_artifact(out)
            result = run_validation(runtime, loader, names, verbose=False, progress=False)
            rows.append((options.describe(), result.map50, result.map))
            print(f"{options.describe()}: mAP@0.5 {result.map50:.4f} ({100 * (result.map50 - base.map50):+.2f} pt)",
                  flush=True)
    print("\n| options | mAP@0.5 | mAP@0.5:0.95 | mAP@0.5 change |\n| --- | --- | --- | --- |")
    print(f"| float | {base.map50:.4f} | {base.map:.4f} | |")
    for label, m50, m in rows:
        print(f"| {label} | {m50:.4f} | {m:.4f} | {100 * (m50 - base.map50):+.2f} pt |")


if __name__ == "__main__":
    main()
