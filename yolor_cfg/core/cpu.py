"""What this CPU can do for inference, as the kernels we use will see it.

oneDNN (inside PyTorch and OpenVINO) honours ``ONEDNN_MAX_CPU_ISA``: with ``ONEDNN_MAX_CPU_ISA=AVX2`` a
VNNI or AMX machine runs the kernels an AVX2-only CPU runs. The answers here follow that cap too, so
the one variable also gives onnxruntime's INT8 the options a CPU without VNNI gets (reduce_range),
and a whole run (demo, export, tests) behaves as on the most common cloud CPU."""
from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

ISA_CAP_VARIABLE = "ONEDNN_MAX_CPU_ISA"
# oneDNN cap values (lower case) -> CPU flags that stay usable under that cap
_CAP_KEEPS = {
    "sse41": set(), "avx": set(), "avx2": {"avx2"},
    "avx2_vnni": {"avx2", "avx_vnni"}, "avx2_vnni_2": {"avx2", "avx_vnni"},
    "avx512_core": {"avx2", "avx512f"}, "avx512_core_vnni": {"avx2", "avx512f", "avx512_vnni"},
    "avx512_core_bf16": {"avx2", "avx512f", "avx512_vnni", "avx512_bf16"},
}
_ISA_FLAGS = ("avx2", "avx512f", "avx_vnni", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine(), frozenset()
    name, flags = platform.machine(), frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and name == platform.machine():
            name = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = frozenset(value.split())
    return name, flags


def isa_cap() -> str | None:
    """The oneDNN ISA cap in force (lower case), or None."""
    cap = os.environ.get(ISA_CAP_VARIABLE, "").strip().lower()
    return cap or None


def cpu_flags(capped: bool = True) -> frozenset[str]:
    """The CPU's ISA flags that matter here, less those above ``ONEDNN_MAX_CPU_ISA`` when it is set
    (unless ``capped=False``: for libraries that do not read that variable, like onnxruntime's MLAS)."""
    flags = frozenset(f for f in _cpuinfo()[1] if f in _ISA_FLAGS)
    cap = isa_cap() if capped else None
    if cap is None or cap in ("all", "default"):
        return flags
    keep = _CAP_KEEPS.get(cap, flags)  # AMX caps and values oneDNN does not know leave everything
    return flags & frozenset(keep)


def has_vnni(capped: bool = True) -> bool:
    """8-bit dot-product instructions (AVX-VNNI, AVX512-VNNI or AMX-INT8) are usable (``capped``: under
    ``ONEDNN_MAX_CPU_ISA``; False for libraries that ignore it, see ``cpu_flags``)."""
    return bool(cpu_flags(capped) & {"avx_vnni", "avx512_vnni", "amx_int8"})


def has_native_bf16() -> bool:
    """bf16 matrix instructions (AVX512-BF16 or AMX), where bf16 beats fp32."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def describe() -> str:
    """One line for benchmark and export output: the CPU, its ISA flags as our kernels see them, the cap."""
    name, _ = _cpuinfo()
    cap = isa_cap()
    flags = " ".join(f for f in _ISA_FLAGS if f in cpu_flags()) or "no AVX2"
    capped = f" ({ISA_CAP_VARIABLE}={cap.upper()})" if cap else ""
    return f"{name}, {os.cpu_count()} cores; ISA in use: {flags}{capped}; int8 dot products: " + (
        "VNNI" if has_vnni() else "none (u8 x s8 pairs sum into 16 bits)")
