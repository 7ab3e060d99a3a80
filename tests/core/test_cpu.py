"""cpu.py: ISA questions answered as the kernels see them, ONEDNN_MAX_CPU_ISA included."""
import pytest

from yolor_cfg.core import cpu

SAPPHIRE_RAPIDS = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "avx_vnni"})


@pytest.fixture
def machine(monkeypatch):
    """Pretend to run on a CPU with the given flags."""

    def use(flags, cap=None):
        monkeypatch.setattr(cpu, "_cpuinfo", lambda: ("Test CPU", frozenset(flags) | {"sse4_1", "fma"}))
        if cap is None:
            monkeypatch.delenv(cpu.ISA_CAP_VARIABLE, raising=False)
        else:
            monkeypatch.setenv(cpu.ISA_CAP_VARIABLE, cap)

    return use


def test_uncapped_flags(machine):
    machine(SAPPHIRE_RAPIDS)
    assert cpu.has_vnni() and cpu.has_native_bf16()
    assert cpu.cpu_flags() == SAPPHIRE_RAPIDS  # only ISA flags that matter are reported
    assert "int8 dot products: VNNI" in cpu.describe() and "ONEDNN" not in cpu.describe()


@pytest.mark.parametrize("cap, vnni, bf16", [
    ("AVX2", False, False), ("avx2", False, False), ("AVX2_VNNI", True, False),
    ("AVX512_CORE", False, False), ("AVX512_CORE_VNNI", True, False), ("AVX512_CORE_BF16", True, True),
    ("AVX512_CORE_AMX", True, True), ("ALL", True, True),
])
def test_the_onednn_cap_hides_what_is_above_it(machine, cap, vnni, bf16):
    machine(SAPPHIRE_RAPIDS, cap)
    assert cpu.has_vnni() == vnni and cpu.has_native_bf16() == bf16
    assert cpu.cpu_flags(capped=False) == SAPPHIRE_RAPIDS  # for libraries that ignore the cap (MLAS)


def test_avx2_only_cpu(machine):
    machine({"avx2"})
    assert not cpu.has_vnni() and not cpu.has_native_bf16()
    assert "none (u8 x s8 pairs sum into 16 bits)" in cpu.describe()


def test_the_cap_is_named_in_the_description(machine):
    machine(SAPPHIRE_RAPIDS, "AVX2")
    text = cpu.describe()
    assert "ISA in use: avx2 (ONEDNN_MAX_CPU_ISA=AVX2)" in text
