"""Benchmark: accuracy of the INT8 exports against the float model, on the synthetic val split.

    python tools/int8_accuracy.py [--weights runs/demo/weights/best.pt] [--calib 300]

Prints mAP@0.5 and mAP@0.5:0.95 of: the float model (PyTorch), onnxruntime INT8 (QDQ, head kept
float), OpenVINO INT8 (NNCF, head kept float) and, to show what keeping the head float buys,
onnxruntime INT8 with the heads quantized too. Without --weights it uses the trained tiny model
the tests use (yolor_tiny, 4 epochs of tools/train_synth.py)."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from yolor_cfg import api
from yolor_cfg.workflows.eval.validate import run_validation
from yolor_cfg.deploy.formats import ExportOptions, export_onnx
from yolor_cfg.deploy.int8 import calibration_batches, quantize_onnx
from yolor_cfg.deploy.runtimes import open_artifact
from yolor_cfg.workflows.train.data import DataConfig, build_index
from yolor_cfg.workflows.train.synth import ensure_synth

TRAINED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "trained" / "yolor_tiny_synth.pt"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=str(TRAINED), help="one of our checkpoints (it carries its cfg)")
    ap.add_argument("--calib", type=int, default=300)
    args = ap.parse_args()
    data = str(ensure_synth())
    data_config = DataConfig.load(data)
    model = api.load(args.weights)
    size = model.graph.net.height
    loader, names, _ = api._val_data(data_config, size)
    rows = []

    def score(label, runtime_or_model):
        result = run_validation(runtime_or_model, loader, names, verbose=False, progress=False)
        rows.append((label, result.map50, result.map))
        print(f"{label:<44} mAP@0.5 {result.map50:.4f}  mAP@0.5:0.95 {result.map:.4f}", flush=True)

    score("float (PyTorch)", model)
    with tempfile.TemporaryDirectory() as scratch:
        for fmt, label in (("onnx", "onnxruntime INT8 (head float)"), ("openvino", "OpenVINO INT8 (head float)")):
            out = Path(scratch) / ("m.onnx" if fmt == "onnx" else "m_openvino")
            api.export(model, out, format=fmt, int8=True, data=data, calib=args.calib, dynamic=True, max_drop=100,
                       log=lambda *a: None)
            score(label, open_artifact(out))
        train = build_index(data_config, "train").images
        inputs = calibration_batches(train, (size, size), args.calib, 1)
        export_onnx(model, Path(scratch) / "f.onnx", ExportOptions(dynamic=True, names=names))
        quantize_onnx(Path(scratch) / "f.onnx", Path(scratch) / "all.onnx", inputs, keep_head_float=False)
        score("onnxruntime INT8, heads quantized too", open_artifact(Path(scratch) / "all.onnx"))
    base = rows[0][1]
    print("\n| model | mAP@0.5 | mAP@0.5:0.95 | mAP@0.5 change |\n| --- | --- | --- | --- |")
    for label, m50, m in rows:
        print(f"| {label} | {m50:.4f} | {m:.4f} | {100 * (m50 - base):+.2f} pt |")


if __name__ == "__main__":
    main()
