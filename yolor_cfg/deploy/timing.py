"""Timing loops shared by the INT8 report and the benchmark: device work is waited for."""
from __future__ import annotations

import time

import torch


def best_time(fn, device: torch.device, repeat: int) -> float:
    """Fastest of ``repeat`` timed calls of ``fn()`` in seconds, after two untimed ones."""
    best = float("inf")
    for i in range(repeat + 2):
        sync(device)
        t = time.perf_counter()
        fn()
        sync(device)
        if i >= 2:
            best = min(best, time.perf_counter() - t)
    return best


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_runs(fn, x, warmup: int, repeat: int, device) -> list[float]:
    """Seconds of each of ``repeat`` calls ``fn(x)`` after ``warmup`` calls (device work waited for)."""
    for _ in range(warmup):
        fn(x)
    sync(device)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(x)
        sync(device)
        times.append(time.perf_counter() - t)
    return times
