"""Inference benchmark: latency, throughput, achieved GFLOP/s against a matmul roofline measured in
the same run, peak memory, and output differences from fp32 eager."""
from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .backends.optimize import default_dtype, optimize
from .checks import MAX_BATCH, UsageError, img_size, int_in
from .export.onnx import max_error
from .summary import summarize

BACKENDS = ("eager", "fused", "fused-lowp", "compile", "onnxruntime")
ALIASES = {"fused-bf16": "fused-lowp", "fused-fp16": "fused-lowp"}


@dataclass
class BackendResult:
    backend: str
    dtype: str
    median_ms: float
    min_ms: float
    images_per_s: float
    gflops_per_s: float
    roofline_gflops: float
    roofline_fraction: float
    peak_rss_mb: float | None
    live_intermediates_mb: float | None
    max_diff: float
    setup_s: float
    map50_delta: float | None = None


def matmul_roofline(dtype: torch.dtype, device: torch.device, n: int = 4096, repeat: int = 5) -> float:
    """Best GFLOP/s of an n x n x n matrix product in ``dtype`` on ``device``."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    best = float("inf")
    for i in range(repeat + 2):
        _sync(device)
        t = time.perf_counter()
        a @ b
        _sync(device)
        if i >= 2:
            best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux: peak RSS is then the process's overall peak


def _peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _decoded(out):
    return (out[0] if isinstance(out, tuple) else out).float().cpu()


def _time(fn, x, warmup: int, repeat: int, device) -> list[float]:
    for _ in range(warmup):
        fn(x)
    _sync(device)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(x)
        _sync(device)
        times.append(time.perf_counter() - t)
    return times


def run_benchmark(model, img: int, batch: int = 1, device="cpu", backends=BACKENDS, warmup: int = 2, repeat: int = 10,
                  guard_loader=None, guard_names=None, log=print) -> dict:
    int_in(batch, "benchmark batch", 1, MAX_BATCH)
    int_in(repeat, "repeat", 1, 100_000)
    int_in(warmup, "warmup", 0, 10_000)
    img_size(img, "benchmark image size")
    unknown = [b for b in backends if ALIASES.get(b, b) not in BACKENDS]
    if unknown:
        raise UsageError(f"unknown backend {', '.join(unknown)}; choose from {', '.join(BACKENDS + tuple(ALIASES))}")
    device = torch.device(device)
    model = model.eval().to(device)
    gflops = summarize(model.graph)["gflops"] * (img / model.graph.net.height) * (img / model.graph.net.width) * batch
    x = torch.rand(batch, 3, img, img, device=device)
    low = default_dtype(device)
    rooflines = {torch.float32: matmul_roofline(torch.float32, device)}
    if low != torch.float32:
        rooflines[low] = matmul_roofline(low, device)
    log("matmul roofline: " + ", ".join(f"{str(k).replace('torch.', '')} {v:.1f} GFLOP/s" for k, v in rooflines.items()))
    with torch.inference_mode():
        reference = _decoded(model(x))
    results = []
    guard_ref = None
    for name in backends:
        name = ALIASES.get(name, name)
        _reset_peak_rss()
        t0 = time.perf_counter()
        live = None
        if name == "eager":
            runner, dtype = (lambda t: model(t)), torch.float32
            live = model.live_bytes(x)
        elif name in ("fused", "fused-lowp", "compile"):
            dtype = torch.float32 if name == "fused" else low
            runner = optimize(model, dtype=dtype, compile=name == "compile", cuda_graph=device.type == "cuda" and name == "compile")
            if name != "compile":
                live = runner.model.live_bytes(runner.prepare(x))
            with torch.inference_mode():
                runner(x)  # compile / capture happens on the first call
        elif name == "onnxruntime":
            runner, dtype = _onnxruntime_runner(model, img, batch), torch.float32
        else:
            raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
        setup = time.perf_counter() - t0
        with torch.inference_mode():
            times = _time(runner, x, warmup, repeat, device)
            diff = max_error(_decoded(runner(x)).numpy(), reference.numpy())
        median = statistics.median(times)
        achieved = gflops / median
        roof = rooflines.get(dtype, rooflines[torch.float32])
        result = BackendResult(name, str(dtype).replace("torch.", ""), median * 1e3, min(times) * 1e3, batch / median,
                               achieved, roof, achieved / roof, _peak_rss_mb(),
                               None if live is None else live / 2**20, diff, setup)
        if guard_loader is not None and name != "onnxruntime":
            from .eval.validate import run_validation

            val = run_validation(runner if isinstance(runner, torch.nn.Module) else model, guard_loader, guard_names,
                                 device=device, verbose=False, progress=False)
            guard_ref = val.map50 if guard_ref is None else guard_ref
            result.map50_delta = (val.map50 - guard_ref) * 100
        results.append(result)
        log(format_row(result))
    eager = next((r for r in results if r.backend == "eager"), None)
    return {"img": img, "batch": batch, "device": str(device), "model_gflops": gflops,
            "rooflines": {str(k).replace("torch.", ""): v for k, v in rooflines.items()},
            "results": [asdict(r) for r in results],
            "speedup_vs_eager": {r.backend: eager.median_ms / r.median_ms for r in results} if eager else {}}


def _onnxruntime_runner(model, img: int, batch: int):
    import onnxruntime as ort

    from .export import ExportOptions, export_onnx

    path = Path(tempfile.mkdtemp()) / "bench.onnx"
    export_onnx(model.cpu(), path, ExportOptions(img_size=(img, img), batch=batch))
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor):
        return torch.from_numpy(session.run(None, {"images": x.cpu().numpy().astype(np.float32)})[0])

    return run


def format_row(r: BackendResult) -> str:
    extra = f"  mAP50 {r.map50_delta:+.2f} pt" if r.map50_delta is not None else ""
    live = f"{r.live_intermediates_mb:7.1f}" if r.live_intermediates_mb is not None else "      -"
    rss = f"{r.peak_rss_mb:7.0f}" if r.peak_rss_mb is not None else "      -"
    return (f"{r.backend:<12} {r.dtype:<9} median {r.median_ms:8.1f} ms  min {r.min_ms:8.1f} ms  "
            f"{r.images_per_s:6.2f} img/s  {r.gflops_per_s:7.1f} GFLOP/s  {100 * r.roofline_fraction:5.1f}% of "
            f"{r.roofline_gflops:.0f}  live {live} MB  rss {rss} MB  diff {r.max_diff:.1e}{extra}")
