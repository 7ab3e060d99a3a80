"""INT8 deployment: calibrate on the data's train split, quantize (onnxruntime or OpenVINO), then
the accuracy guard: the float and the INT8 model evaluated on the val split, side by side."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core import checks, cpu
from ..core.choices import EXPORT_FORMATS, INT8_CALIBRATION_IMAGES, INT8_MAX_DROP, INT8_SEARCH_MODES
from ..core.errors import YolorCfgError
from .formats import ExportOptions, export_onnx
from .int8 import (OnnxQuantOptions, QuantizeReport, calibration_batches, prepare_for_quantization, quantize_onnx, quantize_openvino)
from .int8_search import (REASON_SEARCH, Attempt, Sensitivity, fewest_passing, onnx_ranking, openvino_ranking, total_macs)
from .formats.openvino import check_output_folder, export_openvino, ir_path
from ..core.files import atomic_dir, atomic_path
from .timing import time_runs
from .runtimes import open_artifact

FORMATS = EXPORT_FORMATS
DEFAULT_CALIBRATION = INT8_CALIBRATION_IMAGES
DEFAULT_MAX_DROP = INT8_MAX_DROP
SEARCH_MODES = INT8_SEARCH_MODES


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


def quantize_into(float_artifact: Path, out: Path, fmt: str, inputs: list[np.ndarray],
                  keep_float: dict[str, str] | None = None, options: OnnxQuantOptions = OnnxQuantOptions(),
                  calibration_cache: Path | None = None) -> QuantizeReport:
    """Quantize an exported float model into ``out`` (an .onnx file, or an IR folder that does not exist);
    ``options`` and ``calibration_cache`` are onnxruntime's."""
    if fmt == "onnx":
        return quantize_onnx(float_artifact, out, inputs, options, keep_float=keep_float,
                             calibration_cache=calibration_cache)
    out.mkdir()
    return quantize_openvino(float_artifact, ir_path(out), inputs, keep_float=keep_float)


def publish(artifact: Path, out: str | Path, fmt: str) -> None:
    """Copy a finished artifact onto ``out``, whole or not at all."""
    if fmt == "onnx":
        with atomic_path(out) as tmp:
            shutil.copyfile(artifact, tmp)
        return
    with atomic_dir(out) as folder:
        for part in (ir_path(artifact), ir_path(artifact).with_suffix(".bin")):
            shutil.copyfile(part, folder / (ir_path(out).stem + part.suffix))


def latency_ms(runtime, x: np.ndarray, repeat: int = 10) -> float:
    """Median time of one batch, after one warm-up run."""
    return 1000 * float(np.median(time_runs(runtime.outputs, x, 1, repeat, torch.device("cpu"))))


@dataclass
class _Int8Run:
    """One INT8 export between its steps: the float artifact, the calibration inputs, the float
    model's val result, and every quantization tried (k kept float -> its report, val, guard)."""
    fmt: str
    float_artifact: Path
    scratch: Path
    inputs: list[np.ndarray]
    float_val: object
    val: Callable[[Path], object]
    max_drop: float
    options: OnnxQuantOptions
    tries: dict = field(default_factory=dict)

    def attempt(self, k: int, ranking: list[Sensitivity]) -> Attempt:
        keep = {node: REASON_SEARCH for item in ranking[:k] for node in item.nodes}
        path = self.scratch / (f"try{k}.onnx" if self.fmt == "onnx" else f"try{k}_openvino")
        report = quantize_into(self.float_artifact, path, self.fmt, self.inputs, keep, self.options,
                               self.scratch / "calibration")
        result = self.val(path)
        guard = GuardResult(self.float_val.map50, self.float_val.map, result.map50, result.map, self.max_drop)
        self.tries[k] = (report, result, guard)
        return Attempt(k, guard.drop, guard.passed, path)

    def rank(self, first: Path, log) -> tuple[list[Sensitivity], int]:
        """The first try's quantized activations, worst first (the five worst printed), and the float
        model's convolution multiply-adds they are described against."""
        if self.fmt == "onnx":
            prepared = prepare_for_quantization(self.float_artifact, self.scratch / "pre.onnx")
            ranking = onnx_ranking(prepared, first, self.inputs)
        else:
            ranking = openvino_ranking(ir_path(first), self.inputs)
        total = total_macs(self.float_artifact)
        log(f"sensitivity ranking ({len(ranking)} quantized activations, worst first):")
        for item in ranking[:5]:
            log(f"  {item.describe(total)}")
        return ranking, total

    def search(self, first: Attempt, log) -> Attempt:
        """Rank, then keep the fewest activations float that pass; the try to publish (the one with the
        smallest drop when none passes) with the search written into its report."""
        ranking, total = self.rank(first.path, log)
        log(f"searching for the fewest activations to keep float (the first try lost {first.drop:.2f} points)")
        best, tries = fewest_passing(len(ranking), lambda k: self.attempt(k, ranking), log=log)
        chosen = best or min(tries + [first], key=lambda t: t.drop)
        report = self.tries[chosen.kept][0]
        report.search = [item.describe(total) for item in ranking[:chosen.kept]]
        report.search_tries = [(t.kept, t.drop, t.passed) for t in tries]
        return chosen

    def time(self, first: Attempt, chosen: Attempt, report: QuantizeReport) -> None:
        """Latency of the float, first-try and chosen models at batch 1, and the chosen one's kernels."""
        timed = {"float": self.float_artifact, "int8, nothing kept float by the search": first.path,
                 "int8": chosen.path}
        if chosen is first:
            del timed["int8, nothing kept float by the search"]
        runtimes = {name: open_artifact(path) for name, path in timed.items()}
        report.latency_ms = {name: latency_ms(runtime, self.inputs[0]) for name, runtime in runtimes.items()}
        report.kernels = runtimes["int8"].kernels()


def _check_int8(model, out, fmt: str, opts: ExportOptions, calib: int, max_drop: float, search: str,
                calibration: str | None) -> tuple[int, int]:
    """UsageError for any argument INT8 export cannot take; the input size (height, width)."""
    if fmt not in FORMATS:
        raise checks.UsageError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    checks.int_in(calib, "calibration images (--calib)", 1, 100_000)
    if not isinstance(max_drop, (int, float)) or not np.isfinite(max_drop):
        raise checks.UsageError(f"--max-drop {max_drop!r}: a number of mAP@0.5 points")
    if search not in SEARCH_MODES:
        raise checks.UsageError(f"--int8-search {search!r}: choose from {', '.join(SEARCH_MODES)}")
    if calibration is not None and fmt != "onnx":
        raise checks.UsageError("--int8-calibration is for onnxruntime: NNCF chooses its own ranges for OpenVINO")
    if opts.raw or opts.nms or opts.half:
        raise checks.UsageError("--int8 quantizes the float model with decoded outputs: leave out --raw, --nms and --half")
    size = opts.img_size or (model.graph.net.height, model.graph.net.width)
    if size[0] != size[1]:
        raise checks.UsageError(f"--int8 needs a square input size (the guard letterboxes the val split to one); got "
                                f"{size[0]}x{size[1]}")
    if fmt == "onnx":
        checks.output_file(out, "INT8 output", (".onnx",))
    else:
        check_output_folder(out)
    return size


def export_int8(model, out: str | Path, fmt: str, opts: ExportOptions, calibration_paths: list[str],
                score: Callable, calib: int = DEFAULT_CALIBRATION, max_drop: float = DEFAULT_MAX_DROP,
                search: str = "auto", calibration: str | None = None, log=print) -> QuantizeReport:
    """Float export (parity-checked), INT8 quantization calibrated on ``calib`` of ``calibration_paths``,
    then the accuracy guard: ``score(runtime)`` evaluates a runtime on the val split and returns its
    metrics (``.map50``, ``.map``, ``.metrics``; the workflows pass their validation). When mAP@0.5 drops by more than ``max_drop`` points and
    ``search`` is "auto", the sensitivity search keeps the fewest damaged activations float until the
    guard passes (export/int8_search.py; "always" also ranks when the first try passes, "off" never).
    ``calibration`` is onnxruntime's method (None: this CPU's default, see OnnxQuantOptions). Raises
    AccuracyGuardError when nothing meets the budget; the INT8 file with the smallest drop is written
    and kept either way."""
    size = _check_int8(model, out, fmt, opts, calib, max_drop, search, calibration)
    inputs = calibration_batches(calibration_paths, size, calib, 1 if opts.dynamic or opts.dynamic_hw else opts.batch)
    log(f"CPU: {cpu.describe()}")

    def val(path: Path):
        return score(open_artifact(path))

    with tempfile.TemporaryDirectory() as scratch:
        float_out = Path(scratch) / ("model.onnx" if fmt == "onnx" else "model_openvino")
        float_report, float_artifact = export_float(model, float_out, fmt, opts)
        log(f"float {fmt} export checked: " + "; ".join(f"batch {b} max error {e:.3g}" for b, e in float_report.parity))
        run = _Int8Run(fmt, float_artifact, Path(scratch), inputs, val(float_artifact), val, float(max_drop),
                       OnnxQuantOptions(calibration=calibration))
        chosen = first = run.attempt(0, [])
        run.tries[0][0].path = str(out)
        log(run.tries[0][0].format())
        log(run.tries[0][2].format())
        if search == "always" or (search == "auto" and not first.passed):
            if first.passed:
                run.rank(first.path, log)
            else:
                chosen = run.search(first, log)
        report, int8_val, guard = run.tries[chosen.kept]
        run.time(first, chosen, report)
        publish(chosen.path, out, fmt)
    report.path = str(out)
    report.float_metrics, report.int8_metrics, report.guard = run.float_val.metrics, int8_val.metrics, guard
    if chosen is not first:
        log(report.search_summary())
        log(guard.format())
    log(report.speed_summary())
    log(f"wrote {out}")
    if not guard.passed:
        tried = "; ".join(f"{k} float: {d:+.2f}" for k, d, _ in report.search_tries) or "no search (--int8-search off)"
        raise AccuracyGuardError(f"INT8 mAP@0.5 dropped {guard.drop:.2f} points, more than --max-drop {max_drop:g} "
                                 f"(tried: first try {first.drop:+.2f}; {tried}); {out} is kept for inspection")
    return report
