"""Export through the format registry (``formats/``): the float export, and INT8: calibrate on the
data's train split, quantize with the format's toolkit, then the accuracy guard: the float and the INT8
model evaluated on the val split, side by side."""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core import checks, cpu
from ..core.choices import INT8_CALIBRATION_IMAGES, INT8_MAX_DROP, INT8_SEARCH_MODES
from ..core.errors import YolorCfgError
from .formats import FORMATS, ExportFormat, ExportOptions, ExportReport, get_format
from .int8 import OnnxQuantOptions, QuantizeReport, calibration_batches
from .int8_search import REASON_SEARCH, Attempt, Sensitivity, fewest_passing
from .timing import time_runs
from .runtimes import open_artifact

DEFAULT_CALIBRATION = INT8_CALIBRATION_IMAGES
# an INT8 tracking model's embeddings must keep pointing where the float model's do (mean cosine similarity of
# the confident detections' vectors): below this, identities that float tells apart start to merge
EMBEDDING_MIN_COSINE = 0.95
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


def export_float(model, out: str | Path, fmt: str, opts: ExportOptions) -> ExportReport:
    """``model`` written to ``out`` in the registered format ``fmt``, checked against PyTorch first."""
    form = get_format(fmt)
    form.check_options(opts)
    form.require()
    return form.export(model, out, opts)


def latency_ms(runtime, x: np.ndarray, repeat: int = 10) -> float:
    """Median time of one batch, after one warm-up run."""
    return 1000 * float(np.median(time_runs(runtime.outputs, x, 1, repeat, torch.device("cpu"))))


@dataclass
class _Int8Run:
    """One INT8 export between its steps: the float artifact, the calibration inputs, the float
    model's val result, and every quantization tried (k kept float -> its report, val, guard)."""
    form: ExportFormat
    model: object
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
        path = self.scratch / self.form.scratch_name(f"try{k}")
        report = self.form.quantize(self.float_artifact, path, self.inputs, keep, self.options,
                                    self.scratch / "calibration", self.model)
        result = self.val(path)
        guard = GuardResult(self.float_val.map50, self.float_val.map, result.map50, result.map, self.max_drop)
        self.tries[k] = (report, result, guard)
        return Attempt(k, guard.drop, guard.passed, path)

    def rank(self, first: Path, log) -> tuple[list[Sensitivity], int]:
        """The first try's quantized activations, worst first (the five worst printed), and the float
        model's convolution multiply-adds they are described against."""
        ranking = self.form.sensitivity(self.float_artifact, first, self.inputs, self.scratch)
        total = self.form.conv_macs(self.float_artifact)
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


def _check_int8(model, out, form: ExportFormat, opts: ExportOptions, calib: int, max_drop: float, search: str,
                calibration: str | None) -> tuple[int, int]:
    """UsageError for any argument INT8 export cannot take; the input size (height, width)."""
    if not form.int8:
        int8_formats = ", ".join(name for name, f in FORMATS.items() if f.int8)
        raise checks.UsageError(f"--format {form.name} has no INT8 export here; --int8 works with {int8_formats}")
    form.check_options(opts)
    checks.int_in(calib, "calibration images (--calib)", 1, 100_000)
    if not isinstance(max_drop, (int, float)) or not np.isfinite(max_drop):
        raise checks.UsageError(f"--max-drop {max_drop!r}: a number of mAP@0.5 points")
    if search not in SEARCH_MODES:
        raise checks.UsageError(f"--int8-search {search!r}: choose from {', '.join(SEARCH_MODES)}")
    if calibration is not None and form.name != "onnx":
        raise checks.UsageError(f"--int8-calibration is for onnxruntime's quantizer; --format {form.name} chooses "
                                "its own ranges")
    if opts.raw or opts.nms or opts.half:
        raise checks.UsageError("--int8 quantizes the float model with decoded outputs: leave out --raw, --nms and --half")
    size = opts.img_size or (model.graph.net.height, model.graph.net.width)
    if size[0] != size[1]:
        raise checks.UsageError(f"--int8 needs a square input size (the guard letterboxes the val split to one); got "
                                f"{size[0]}x{size[1]}")
    form.check_output(out)
    form.require()
    return size


def embedding_cosine(float_runtime, int8_runtime, inputs: list[np.ndarray], images: int = 32) -> float | None:
    """Mean cosine similarity of the INT8 model's embeddings to the float model's, over the detections the
    float model is confident of (score >= 0.25) on up to ``images`` calibration images; None without
    embeddings."""
    sims = []
    for x in inputs[:images]:
        ref, got = float_runtime(x), int8_runtime(x)
        if ref.embeddings is None or got.embeddings is None:
            return None
        det = ref.detections.cpu()
        confident = (det[..., 4:5] * det[..., 5:]).amax(-1) >= 0.25
        if confident.any():
            sims.append((ref.embeddings[confident] * got.embeddings[confident]).sum(-1))
    return float(torch.cat(sims).mean()) if sims else None


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
    form = get_format(fmt)
    size = _check_int8(model, out, form, opts, calib, max_drop, search, calibration)
    inputs = calibration_batches(calibration_paths, size, calib, 1 if opts.dynamic or opts.dynamic_hw else opts.batch)
    log(f"CPU: {cpu.describe()}")

    def val(path: Path):
        return score(open_artifact(path))

    with tempfile.TemporaryDirectory() as scratch:
        float_artifact = Path(scratch) / form.scratch_name("model")
        float_report = form.export(model, float_artifact, opts)
        log(f"float {fmt} export checked: " + "; ".join(f"batch {b} max error {e:.3g}" for b, e in float_report.parity))
        run = _Int8Run(form, model, float_artifact, Path(scratch), inputs, val(float_artifact), val, float(max_drop),
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
        report.embedding_cosine = embedding_cosine(open_artifact(float_artifact), open_artifact(chosen.path), inputs)
        form.publish(chosen.path, out)
    report.path = str(out)
    report.float_metrics, report.int8_metrics, report.guard = run.float_val.metrics, int8_val.metrics, guard
    if chosen is not first:
        log(report.search_summary())
        log(guard.format())
    log(report.speed_summary())
    if report.embedding_cosine is not None:
        log(f"embeddings: mean cosine similarity to float {report.embedding_cosine:.4f} on the confident detections "
            f"of the calibration images (at least {EMBEDDING_MIN_COSINE} needed)")
    log(f"wrote {out}")
    if report.embedding_cosine is not None and report.embedding_cosine < EMBEDDING_MIN_COSINE:
        raise AccuracyGuardError(f"INT8 embeddings drifted from float: mean cosine similarity "
                                 f"{report.embedding_cosine:.4f} < {EMBEDDING_MIN_COSINE}; {out} is kept for inspection")
    if not guard.passed:
        tried = "; ".join(f"{k} float: {d:+.2f}" for k, d, _ in report.search_tries) or "no search (--int8-search off)"
        raise AccuracyGuardError(f"INT8 mAP@0.5 dropped {guard.drop:.2f} points, more than --max-drop {max_drop:g} "
                                 f"(tried: first try {first.drop:+.2f}; {tried}); {out} is kept for inspection")
    return report
