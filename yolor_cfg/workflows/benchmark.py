"""Inference benchmark: every backend (a runtime built from the model) side by side in one run:
latency, throughput, achieved GFLOP/s against a roofline of its arithmetic measured in the same run
(fp32 / bf16 / fp16 matmul, int8 quantized convolution and GEMM), peak memory, output difference
from fp32 eager and, with a val split, each backend's mAP."""
from __future__ import annotations

import statistics
import tempfile
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core import cpu
from ..core.parity import max_error
from ..deploy.timing import best_time, time_runs
from ..core.choices import BENCHMARK_ALIASES, BENCHMARK_TORCH_DEFAULTS
from ..compiler.optimize import default_dtype
from ..core.checks import MAX_BATCH, UsageError, img_size, int_in
from ..deploy.formats import ExportFormat, ExportOptions, benchmark_rows
from ..deploy.int8 import OnnxQuantOptions, calibration_batches
from ..deploy.runtimes import Runtime, TorchRuntime, open_artifact
from ..deploy.runtimes.onnx import open_onnx_session
from ..compiler.summary import summarize


@dataclass
class Setup:
    """What building a runtime to measure needs: the model, the input shape, a scratch folder,
    calibration inputs, and the float export of each format, made once."""
    model: object
    img: int
    batch: int
    device: torch.device
    scratch: Path
    calibration: list[np.ndarray]
    threads: int
    exported: dict[str, Path] = field(default_factory=dict)

    def export(self, form: ExportFormat) -> Path:
        if form.name not in self.exported:
            path = self.scratch / form.scratch_name("float")
            form.require()
            form.export(self.model.cpu(), path, ExportOptions(img_size=(self.img, self.img), batch=self.batch))
            self.exported[form.name] = path
        return self.exported[form.name]


@dataclass(frozen=True)
class Recipe:
    """How to build the runtime one benchmark row measures."""
    name: str
    arithmetic: str  # "fp32", "lowp" (bf16 on CPUs with native bf16, fp16 on CUDA) or "int8"
    build: Callable[[Setup], Runtime]
    device: str = "any"  # "any", or the one device type its runtime runs on ("cpu", "cuda")
    form: ExportFormat | None = None  # the export format it measures, if any


def _torch(setup: Setup, dtype=None, compile: bool = False) -> Runtime:
    if dtype is None:
        return TorchRuntime(setup.model, setup.device)
    cuda_graph = compile and setup.device.type == "cuda"
    return TorchRuntime(setup.model.optimize(dtype=dtype, compile=compile, cuda_graph=cuda_graph), setup.device)


def _exported(form: ExportFormat, int8: bool) -> Callable[[Setup], Runtime]:
    def build(setup: Setup) -> Runtime:
        path = setup.export(form)
        if int8:
            quantized = setup.scratch / form.scratch_name("int8")
            form.quantize(path, quantized, setup.calibration, None, OnnxQuantOptions(), None, setup.model.cpu())
            path = quantized
        return open_artifact(path, threads=setup.threads)

    return build


def recipes() -> dict[str, Recipe]:
    """Every row the benchmark can measure: the PyTorch ones, then one per export format (and its INT8)."""
    rows = [Recipe("eager", "fp32", _torch),
            Recipe("fused", "fp32", lambda s: _torch(s, torch.float32)),
            Recipe("fused-lowp", "lowp", lambda s: _torch(s, default_dtype(s.device))),
            Recipe("compile", "lowp", lambda s: _torch(s, default_dtype(s.device), compile=True))]
    rows += [Recipe(name, "int8" if int8 else "fp32", _exported(form, int8), form.device, form)
             for name, (form, int8) in benchmark_rows().items()]
    return {r.name: r for r in rows}


ALIASES = BENCHMARK_ALIASES


def default_backends() -> tuple[str, ...]:
    """The rows measured when none are named: PyTorch's, and every format's that says so."""
    return BENCHMARK_TORCH_DEFAULTS + tuple(name for name, (form, _) in benchmark_rows().items()
                                            if form.benchmark_by_default)


def backend_names() -> tuple[str, ...]:
    return tuple(recipes()) + tuple(ALIASES)


@dataclass
class BackendResult:
    backend: str
    dtype: str
    median_ms: float
    min_ms: float
    images_per_s: float
    gflops_per_s: float | None
    roofline_gflops: float
    roofline_fraction: float | None
    peak_rss_mb: float | None
    live_intermediates_mb: float | None
    max_diff: float | None
    setup_s: float
    map50: float | None = None
    map: float | None = None
    map50_delta: float | None = None
    gemm_fraction: float | None = None  # int8 only: fraction of the int8 GEMM limit
    kernels: str = ""  # the code path its convolutions took on this CPU (Runtime.kernels)


ABOVE_ROOFLINE = ("* above 100%: the model's GFLOPs count every multiply of a direct convolution; a backend that "
                  "computes 3x3 convolutions with fewer (Winograd) gets an effective rate above the GEMM roofline")


def matmul_roofline(dtype: torch.dtype, device: torch.device, n: int = 4096, repeat: int = 5) -> float:
    """Best GFLOP/s of an n x n x n matrix product in ``dtype`` on ``device``; for fp32 on the CPU the
    better of torch's and onnxruntime's GEMM (torch's BLAS can take a slow path on some CPUs, and a
    roofline below what the models reach would make every fraction meaningless)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    best = 2 * n ** 3 / best_time(lambda: a @ b, device, repeat) / 1e9
    if device.type == "cpu" and dtype == torch.float32:
        from onnx import TensorProto, helper, numpy_helper

        gemm = _ort_session([helper.make_node("MatMul", ["a", "b"], ["y"])],
                            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
                            helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n]),
                            [numpy_helper.from_array(b.numpy(), "b")], torch.get_num_threads())
        x = a.numpy()
        best = max(best, 2 * n ** 3 / best_time(lambda: gemm.run(None, {"a": x}), device, repeat) / 1e9)
    return best


def _ort_session(nodes, inputs, output, inits, threads: int):
    """An onnxruntime CPU session for a one-graph model built from ONNX helper pieces."""
    from onnx import helper

    graph = helper.make_graph(nodes, "roofline", inputs, [output], inits)
    return open_onnx_session(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), threads)


def int8_rooflines(threads: int, repeat: int = 5) -> dict[str, float]:
    """Best GOP/s of 8-bit arithmetic through onnxruntime on this CPU: a quantized 1x1 convolution
    (QLinearConv, 512 -> 512 channels at 80 x 80: the shape of a detector's mid stage, and the op a
    QDQ model runs) and a 2048^3 MatMulInteger GEMM (the raw dot-product limit)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    c, hw, n = 512, 80, 2048

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value), name)

    def session(nodes, inputs, output, inits):
        return _ort_session(nodes, inputs, output, inits, threads)

    conv = session([helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])],
                   [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, c, hw, hw])],
                   helper.make_tensor_value_info("y", TensorProto.UINT8, [1, c, hw, hw]),
                   [const("w", rng.integers(-127, 127, (c, c, 1, 1), dtype=np.int8)),
                    const("xs", np.float32(0.01)), const("xz", np.uint8(128)), const("ws", np.full(c, 0.01, np.float32)),
                    const("wz", np.zeros(c, np.int8)), const("ys", np.float32(0.5)), const("yz", np.uint8(128))])
    x = rng.integers(0, 255, (1, c, hw, hw), dtype=np.uint8)
    gemm = session([helper.make_node("MatMulInteger", ["a", "b"], ["y"])],
                   [helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n])],
                   helper.make_tensor_value_info("y", TensorProto.INT32, [n, n]),
                   [const("b", rng.integers(-127, 127, (n, n), dtype=np.int8))])
    a = rng.integers(0, 255, (n, n), dtype=np.uint8)
    cpu = torch.device("cpu")
    return {"int8 conv1x1": 2 * c * c * hw * hw / best_time(lambda: conv.run(None, {"x": x}), cpu, repeat) / 1e9,
            "int8 gemm": 2 * n ** 3 / best_time(lambda: gemm.run(None, {"a": a}), cpu, repeat) / 1e9}


def _reset_peak_rss() -> None:
    """Start a new peak for getrusage (Linux resets the process's high-water mark on this write)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux: peak RSS is then the process's overall peak


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux


def _check_backends(backends, device: torch.device, log=print, named: bool = True) -> list[str]:
    """The rows to measure (aliases resolved): UsageError for an unknown row, one for another device, or
    (``named``: the user asked for it) one whose format is not installed here; of the default rows
    (``named`` False) those are left out with a line saying how to install them."""
    rows = recipes()
    names = [ALIASES.get(b, b) for b in backends]
    unknown = [b for b, n in zip(backends, names) if n not in rows]
    if unknown:
        raise UsageError(f"unknown backend {', '.join(unknown)}; choose from {', '.join(backend_names())}")
    elsewhere = [n for n in names if rows[n].device not in ("any", device.type)]
    if elsewhere and named:
        raise UsageError(f"{', '.join(elsewhere)} run on the {rows[elsewhere[0]].device.upper()} here; benchmark "
                         f"them with --device {'cpu' if rows[elsewhere[0]].device == 'cpu' else '0'}")
    if elsewhere:
        log(f"{', '.join(elsewhere)} left out: {'they run' if len(elsewhere) > 1 else 'it runs'} on another device "
            f"({rows[elsewhere[0]].device.upper()}) than --device {device}")
    kept = []
    for name in (n for n in names if n not in elsewhere):
        why = rows[name].form.missing() if rows[name].form else None
        if why and named:
            raise UsageError(why)
        if why:
            log(f"{name} left out: {why}")
        else:
            kept.append(name)
    return kept


def run_benchmark(model, img: int, batch: int = 1, device="cpu", backends=None, warmup: int = 2,
                  repeat: int = 10, guard_loader=None, guard_names=None, calibration_paths=None, calib: int = 64,
                  log=print) -> dict:
    """Measure each backend on ``model`` (or a single opened artifact, a Runtime); INT8 backends are
    calibrated on ``calib`` images of ``calibration_paths`` (random inputs without them: speed only).
    ``backends``: row names (default ``default_backends()``)."""
    int_in(batch, "benchmark batch", 1, MAX_BATCH)
    int_in(repeat, "repeat", 1, 100_000)
    int_in(warmup, "warmup", 0, 10_000)
    int_in(calib, "calibration images (--calib)", 1, 100_000)
    img_size(img, "benchmark image size")
    device = torch.device(device)
    log(f"CPU: {cpu.describe()}")
    if isinstance(model, Runtime):
        return _run_artifact(model, batch, warmup, repeat, guard_loader, guard_names, log)
    names = _check_backends(list(backends or default_backends()), device, log, named=bool(backends))
    model = model.eval().to(device)
    gflops = summarize(model.graph)["gflops"] * (img / model.graph.net.height) * (img / model.graph.net.width) * batch
    x = torch.rand(batch, 3, img, img, device=device)
    rows = recipes()
    rooflines = _rooflines(device, {rows[n].arithmetic for n in names})
    log("rooflines: " + ", ".join(f"{k} {v:.0f} G{'OP' if k.startswith('int8') else 'FLOP'}/s"
                                  for k, v in rooflines.items()))
    with torch.inference_mode():
        reference = _decoded(model(x))
    calibration = _calibration(calibration_paths, calib, img, batch)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        setup = Setup(model, img, batch, device, Path(scratch), calibration, torch.get_num_threads())
        for name in names:
            result, runtime = _measure(rows[name], setup, x, reference, gflops, rooflines, warmup, repeat)
            if guard_loader is not None:
                _add_accuracy(result, runtime, guard_loader, guard_names, device, results[0] if results else None)
            results.append(result)
            log(format_row(result))
    if any(r.roofline_fraction and r.roofline_fraction > 1 for r in results):
        log(ABOVE_ROOFLINE)
    eager = next((r for r in results if r.backend == "eager"), None)
    return {"img": img, "batch": batch, "device": str(device), "cpu": cpu.describe(), "model_gflops": gflops,
            "rooflines": rooflines,
            "calibration": "random inputs" if calibration_paths is None else f"{len(calibration) * batch} train images",
            "results": [asdict(r) for r in results],
            "speedup_vs_eager": {r.backend: eager.median_ms / r.median_ms for r in results} if eager else {}}


def _rooflines(device: torch.device, arithmetic: set[str]) -> dict[str, float]:
    rooflines = {"float32": matmul_roofline(torch.float32, device)}
    low = default_dtype(device)
    if "lowp" in arithmetic and low != torch.float32:
        rooflines[str(low).replace("torch.", "")] = matmul_roofline(low, device)
    if "int8" in arithmetic:
        rooflines |= int8_rooflines(torch.get_num_threads())
    return rooflines


def _calibration(paths, count: int, img: int, batch: int) -> list[np.ndarray]:
    if paths is None:
        rng = np.random.default_rng(0)
        return [rng.random((batch, 3, img, img), dtype=np.float32) for _ in range(min(count, 8))]
    return calibration_batches(paths, (img, img), count, batch)


def _decoded(out) -> torch.Tensor:
    return (out[0] if isinstance(out, tuple) else out).float().cpu()


def _measure(backend: Recipe, setup: Setup, x, reference, gflops, rooflines, warmup,
             repeat) -> tuple[BackendResult, Runtime]:
    _reset_peak_rss()
    t0 = time.perf_counter()
    runtime = backend.build(setup)
    live = runtime.live_bytes(x)
    runtime(x)  # compile / capture / first-run allocation happen here
    setup_s = time.perf_counter() - t0
    times = time_runs(runtime, x, warmup, repeat, setup.device)
    diff = max_error(runtime(x).detections.cpu().numpy(), reference.numpy())
    median = statistics.median(times)
    dtype, roof = _arithmetic(backend.arithmetic, setup.device, rooflines)
    achieved = gflops / median
    result = BackendResult(backend.name, dtype, median * 1e3, min(times) * 1e3, setup.batch / median, achieved,
                           roof, achieved / roof, _peak_rss_mb(), None if live is None else live / 2**20, diff,
                           setup_s)
    if backend.arithmetic == "int8":
        result.gemm_fraction = achieved / rooflines["int8 gemm"]
    result.kernels = runtime.kernels()
    return result, runtime


def _arithmetic(kind: str, device: torch.device, rooflines: dict[str, float]) -> tuple[str, float]:
    if kind == "int8":
        return "int8", rooflines["int8 conv1x1"]
    low = str(default_dtype(device)).replace("torch.", "")
    if kind == "lowp" and low in rooflines:
        return low, rooflines[low]
    return "float32", rooflines["float32"]


def _add_accuracy(result: BackendResult, runtime, loader, names, device, baseline: BackendResult | None) -> None:
    from .eval.validate import run_validation

    val = run_validation(runtime, loader, names, device=device, verbose=False, progress=False)
    result.map50, result.map = val.map50, val.map
    reference = baseline.map50 if baseline is not None else val.map50
    result.map50_delta = (val.map50 - reference) * 100


def _run_artifact(runtime: Runtime, batch: int, warmup: int, repeat: int, loader, names, log) -> dict:
    """One artifact measured alone (no model to compare with: no diff, no roofline fraction)."""
    h, w = runtime.info.input_size
    x = torch.rand(batch, 3, h, w)
    t0 = time.perf_counter()
    runtime(x)
    setup_s = time.perf_counter() - t0
    times = time_runs(runtime, x, warmup, repeat, torch.device("cpu"))
    median = statistics.median(times)
    result = BackendResult(f"{runtime.kind}-{runtime.info.precision}", runtime.info.precision, median * 1e3,
                           min(times) * 1e3, batch / median, None, 0.0, None, _peak_rss_mb(), None, None, setup_s,
                           kernels=runtime.kernels())
    if loader is not None:
        _add_accuracy(result, runtime, loader, names, "cpu", None)
    log(format_row(result))
    return {"img": h, "batch": batch, "device": "cpu", "cpu": cpu.describe(), "model_gflops": None, "rooflines": {},
            "results": [asdict(result)], "speedup_vs_eager": {}}


def format_row(r: BackendResult) -> str:
    def opt(value, fmt, width):
        return format(value, fmt).rjust(width) if value is not None else "-".rjust(width)

    fraction = f"{100 * r.roofline_fraction:5.1f}% of {r.roofline_gflops:.0f}" if r.roofline_fraction else "   -"
    if r.roofline_fraction and r.roofline_fraction > 1:
        fraction += "*"
    if r.gemm_fraction is not None:
        fraction += f" ({100 * r.gemm_fraction:.0f}% of gemm)"
    accuracy = ""
    if r.map50 is not None:
        accuracy = f"  mAP50 {r.map50:.4f} mAP {r.map:.4f} ({r.map50_delta:+.2f} pt)"
    return (f"{r.backend:<17} {r.dtype:<9} median {r.median_ms:8.1f} ms  min {r.min_ms:8.1f} ms  "
            f"{r.images_per_s:6.2f} img/s  {opt(r.gflops_per_s, '.1f', 7)} G/s  {fraction}  "
            f"live {opt(r.live_intermediates_mb, '.1f', 7)} MB  rss {opt(r.peak_rss_mb, '.0f', 6)} MB  "
            f"diff {opt(r.max_diff, '.1e', 7)}{accuracy}  [{r.kernels}]")
