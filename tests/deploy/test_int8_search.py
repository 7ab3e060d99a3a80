"""The INT8 sensitivity search: ranking by per-channel SQNR, the fewest-float search, and both formats
on a model made hard to quantize and on the demo's model with a CPU without VNNI forced."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from yolor_cfg import api
from yolor_cfg.cli import main
from yolor_cfg.deploy.int8_search import REASON_SEARCH, Attempt, channel_sqnr_db, fewest_passing
from yolor_cfg.workflows.train.synth import build_synth

from tests.helpers import TINY_CFG, TRAINED_FP32, hard_to_quantize

openvino = pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def hard(tmp_path_factory, trained_weights):
    return hard_to_quantize(trained_weights, tmp_path_factory.mktemp("hard") / "hard.pt")


def _uint8_grid(x: np.ndarray) -> np.ndarray:
    """x quantized per tensor to 256 levels between its min and max, as minmax calibration does."""
    lo, hi = x.min(), x.max()
    step = (hi - lo) / 255
    return np.round((x - lo) / step) * step + lo


def test_channel_sqnr_sees_one_huge_channel():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 4, (2, 16, 8, 8)).astype(np.float32)
    good = channel_sqnr_db([x], [_uint8_grid(x)])
    x[:, 5] = 1e4  # one channel sets the step for all the others
    bad = channel_sqnr_db([x], [_uint8_grid(x)])
    whole_tensor = 20 * np.log10(np.linalg.norm(x) / np.linalg.norm(x - _uint8_grid(x)))
    assert good > 35 and bad < 10 and whole_tensor > 40  # a whole-tensor SQNR would call it fine


def _attempts(threshold: int):
    calls = []

    def attempt(k):
        calls.append(k)
        return Attempt(k, 5.0 - k, k >= threshold, None)

    return attempt, calls


@pytest.mark.parametrize("threshold", [1, 2, 5, 17, 40])
def test_fewest_passing_finds_the_smallest_k(threshold):
    attempt, calls = _attempts(threshold)
    best, tries = fewest_passing(40, attempt, log=lambda *a: None)
    assert best.kept == threshold and len(set(calls)) == len(calls) <= 12


def test_fewest_passing_gives_up_after_keeping_everything():
    attempt, calls = _attempts(99)
    best, tries = fewest_passing(40, attempt, log=lambda *a: None)
    assert best is None and max(calls) == 40 and calls == [1, 2, 4, 8, 16, 32, 40]
    assert fewest_passing(0, attempt, log=lambda *a: None) == (None, [])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "openvino"])
def test_search_keeps_the_hostile_activation_float(tmp_path, synth_data, hard, fmt):
    """Layer 3's output has one channel at 1e4: the first try loses most of its accuracy, the search
    keeps that activation float (and no more than two activations) and the guard passes."""
    out = tmp_path / ("hard.onnx" if fmt == "onnx" else "hard_openvino")
    lines = []
    report = api.export(TINY_CFG, out, weights=hard, format=fmt, int8=True, data=str(synth_data), calib=32,
                        dynamic=True, log=lines.append)
    text = "\n".join(lines)
    assert "FAILED" in text and "sensitivity ranking" in text  # the first try failed, then the search ran
    assert report.guard.passed and 1 <= len(report.search) <= 2
    assert "module_list.3" in report.search[0] or "layer_3" in report.search[0]
    searched = [n for n, why in report.kept_float.items() if why == REASON_SEARCH]
    assert any("module_list.4" in n for n in searched)  # the convolution reading it runs float
    assert "sensitivity search kept" in text and "latency at batch 1" in text and "INT8 kernels here" in text
    assert out.exists() and not list(tmp_path.glob(".*tmp*"))


@pytest.mark.slow
def test_impossible_budget_exits_1_saying_what_was_tried(tmp_path, synth_data, hard, capsys):
    out = tmp_path / "hard.onnx"
    code = main(["export", "--cfg", TINY_CFG, "--weights", str(hard), "--out", str(out), "--int8",
                 "--data", str(synth_data), "--calib", "16", "--max-drop", "-50"])
    text = capsys.readouterr()
    assert code == 1 and out.exists()
    assert "tried: first try" in text.err and "float:" in text.err and "kept for inspection" in text.err
    assert "search: 1 kept float" in text.out


def test_search_off_fails_like_before(tmp_path, synth_data, hard):
    from yolor_cfg.deploy.export import AccuracyGuardError

    with pytest.raises(AccuracyGuardError, match="no search"):
        api.export(TINY_CFG, tmp_path / "h.onnx", weights=hard, int8=True, data=str(synth_data), calib=16,
                   int8_search="off", log=lambda *a: None)


def test_search_mode_needs_int8(tmp_path, trained_weights):
    from yolor_cfg.core.checks import UsageError

    with pytest.raises(UsageError, match="--int8-search and --int8-calibration are for --int8"):
        api.export(TINY_CFG, tmp_path / "x.onnx", weights=trained_weights, int8_search="always", log=lambda *a: None)


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    """The demo's own dataset (2000 train / 200 val images, seed 0): the split the failure was seen on."""
    return build_synth(tmp_path_factory.mktemp("demo_synth"))


@pytest.mark.slow
@pytest.mark.parametrize("fmt, calibration", [("onnx", None), ("onnx", "minmax"), ("openvino", None)])
def test_demo_model_without_vnni(tmp_path, demo_data, fmt, calibration):
    """The quick start's INT8 step as an AVX2-only CPU runs it, forced whatever CI runs on:
    ONEDNN_MAX_CPU_ISA=AVX2 caps oneDNN (OpenVINO's and PyTorch's kernels) and gives our options those
    of a CPU without VNNI (onnxruntime: 7-bit weights, percentile calibration). The model is the demo's
    as such a CPU trains it (fp32). With min-max calibration (the default before) onnxruntime's first
    try loses 1.65 points, the failure users saw, and the search keeps three activations float and
    passes; the default now passes at once (-0.80), and so does OpenVINO (+0.29 on a real AVX2 CPU)."""
    out = tmp_path / ("tiny.onnx" if fmt == "onnx" else "tiny_openvino")
    env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2")
    args = ["--int8-calibration", calibration] if calibration else []
    proc = subprocess.run([sys.executable, "-m", "yolor_cfg", "export", "--cfg", TINY_CFG,
                           "--weights", str(TRAINED_FP32), "--out", str(out), "--format", fmt, "--int8",
                           "--data", str(demo_data), "--dynamic", *args],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in text and "int8 dot products: none" in text
    guards = [line for line in text.splitlines() if line.startswith("accuracy guard")]
    assert guards[-1].endswith(": ok") and "float mAP@0.5 0.9016" in guards[0]
    if fmt == "openvino":
        kernels = next(line for line in text.splitlines() if line.startswith("INT8 kernels here"))
        assert "avx2_" in kernels and "avx512" not in kernels, kernels
    elif calibration == "minmax":
        assert "7-bit int8 weights (no VNNI" in text and "minmax calibration" in text
        # the report's drop was 1.65 with our own BN fold; torch's fuse_conv_bn_weights rounds the folded
        # weights differently in the last bit, which moves the INT8 model by about 0.02 points
        drop = float(re.search(r"drop \+(\d+\.\d+) pt \(allowed 1\): FAILED", guards[0]).group(1))
        assert 1.5 < drop < 1.8 and "sensitivity search kept 3 activations" in text
    else:
        assert "percentile calibration (this CPU's default)" in text and len(guards) == 1
