"""INT8 deployment: calibrate on the data's train split, quantize (onnxruntime or OpenVINO), then
the accuracy guard: the float and the INT8 model evaluated on the val split, side by side."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import checks
from .errors import YolorCfgError
from .eval.validate import run_validation
from .export import ExportOptions, export_onnx
from .export.int8 import QuantizeReport, calibration_batches, quantize_onnx, quantize_openvino
from .export.openvino import check_output_folder, export_openvino, ir_path
from .files import atomic_dir, atomic_path
from .runtimes import open_artifact

FORMATS = ("onnx", "openvino")
DEFAULT_CALIBRATION = 300
DEFAULT_MAX_DROP = 1.0  # mAP@0.5 points


class AccuracyGuardError(YolorCfgError):
    """The INT8 model lost more accuracy than allowed (the file is kept for inspection)."""


@dataclass
class GuardResult:
    float_map50: float
    float_map: float
    int8_map50: float
    int8_map: float
    max_drop: float

    @property
    def drop(self) -> float:
        """mAP@0.5 points lost by quantizing (negative: INT8 scored higher)."""
        return 100 * (self.float_map50 - self.int8_map50)

    @property
    def passed(self) -> bool:
        return self.drop <= self.max_drop

    def format(self) -> str:
        return (f"accuracy guard (val split): float mAP@0.5 {self.float_map50:.4f} mAP@0.5:0.95 {self.float_map:.4f} | "
                f"int8 mAP@0.5 {self.int8_map50:.4f} mAP@0.5:0.95 {self.int8_map:.4f} | "
                f"mAP@0.5 drop {self.drop:+.2f} pt (allowed {self.max_drop:g}): {'ok' if self.passed else 'FAILED'}")


def export_float(model, out: str | Path, fmt: str, opts: ExportOptions):
    """The float export in ``fmt``; returns (its report, the file a runtime opens)."""
    if fmt == "onnx":
        return export_onnx(model, out, opts), Path(out)
    return export_openvino(model, out, opts), ir_path(out)


def quantize_artifact(float_artifact: Path, out: str | Path, fmt: str, inputs: list[np.ndarray]) -> QuantizeReport:
    """Quantize an exported float model into ``out`` (written whole or not at all)."""
    if fmt == "onnx":
        with atomic_path(out) as tmp:
            report = quantize_onnx(float_artifact, tmp, inputs)
    else:
        with atomic_dir(out) as folder:
            report = quantize_openvino(float_artifact, folder / ir_path(out).name, inputs)
    report.path = str(out)  # not the temporary it was written to
    return report


def export_int8(model, out: str | Path, fmt: str, opts: ExportOptions, calibration_paths: list[str],
                val_loader, names: list[str], calib: int = DEFAULT_CALIBRATION, max_drop: float = DEFAULT_MAX_DROP,
                log=print) -> QuantizeReport:
    """Float export (parity-checked), INT8 quantization calibrated on ``calib`` of ``calibration_paths``,
    then the accuracy guard on ``val_loader``. Raises AccuracyGuardError when mAP@0.5 drops by more than
    ``max_drop`` points; the INT8 file is written and kept either way."""
    if fmt not in FORMATS:
        raise checks.UsageError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    checks.int_in(calib, "calibration images (--calib)", 1, 100_000)
    if not isinstance(max_drop, (int, float)) or not np.isfinite(max_drop):
        raise checks.UsageError(f"--max-drop {max_drop!r}: a number of mAP@0.5 points")
    if opts.raw or opts.nms or opts.half:
        raise checks.UsageError("--int8 quantizes the float model with decoded outputs: leave out --raw, --nms and --half")
    size = opts.img_size or (model.graph.net.height, model.graph.net.width)
    if size[0] != size[1]:
        raise checks.UsageError(f"--int8 needs a square input size (the guard letterboxes the val split to one); got "
                                f"{size[0]}x{size[1]}")
    if fmt == "onnx":
        checks.output_file(out, "INT8 output")
    else:
        check_output_folder(out)
    inputs = calibration_batches(calibration_paths, size, calib, 1 if opts.dynamic or opts.dynamic_hw else opts.batch)
    with tempfile.TemporaryDirectory() as scratch:
        float_out = Path(scratch) / ("model.onnx" if fmt == "onnx" else "model_openvino")
        float_report, float_artifact = export_float(model, float_out, fmt, opts)
        log(f"float {fmt} export checked: " + "; ".join(f"batch {b} max error {e:.3g}" for b, e in float_report.parity))
        report = quantize_artifact(float_artifact, out, fmt, inputs)
        log(report.format())
        float_val = run_validation(open_artifact(float_artifact), val_loader, names, verbose=False, progress=False)
    int8_val = run_validation(open_artifact(out), val_loader, names, verbose=False, progress=False)
    guard = GuardResult(float_val.map50, float_val.map, int8_val.map50, int8_val.map, float(max_drop))
    report.float_metrics, report.int8_metrics = float_val.metrics, int8_val.metrics
    report.guard = guard
    log(guard.format())
    if not guard.passed:
        raise AccuracyGuardError(f"INT8 mAP@0.5 dropped {guard.drop:.2f} points, more than --max-drop "
                                 f"{max_drop:g}; {out} is kept for inspection")
    return report
