"""Performance paths: correctness of each backend and the executor's memory (no timings asserted)."""
import json

import pytest
import torch

import yolor_cfg
from yolor_cfg import api
from yolor_cfg.workflows.benchmark import run_benchmark
from yolor_cfg.core.checks import UsageError
from yolor_cfg.cli import main

from tests.helpers import TINY_CFG, ZOO, shared_path


def test_executor_keeps_few_intermediates():
    model = yolor_cfg.compile(ZOO / "yolor_p6.cfg", img_size=256).eval()
    x = torch.rand(1, 3, 256, 256)
    ours, keep_all = model.live_bytes(x), model.live_bytes(x, keep_all=True)
    assert ours <= 0.6 * keep_all
    assert ours < 0.15 * keep_all  # measured: 0.09 at 640


def test_optimized_model_matches_fp32():
    model = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg")).eval()
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        ref, _ = model(x)
    fast32 = model.optimize(dtype=torch.float32)
    dets, raw = fast32(x)
    assert dets.dtype == torch.float32 and len(raw) == 2
    assert float(((dets - ref).abs() / ref.abs().clamp(min=1)).max()) <= 1e-4
    low = model.optimize(dtype=torch.bfloat16)
    dets, _ = low(x)
    assert dets.dtype == torch.float32
    assert float(((dets - ref).abs() / ref.abs().clamp(min=1)).max()) <= 0.05


@pytest.mark.slow
def test_benchmark_reports_every_backend(capsys):
    model = yolor_cfg.compile(TINY_CFG, img_size=64)
    report = run_benchmark(model, 64, 1, "cpu", ["eager", "fused", "fused-bf16", "onnxruntime"], warmup=1, repeat=2,
                           log=lambda *a: None)
    names = [r["backend"] for r in report["results"]]
    assert names == ["eager", "fused", "fused-lowp", "onnxruntime"]
    for r in report["results"]:
        assert r["median_ms"] > 0 and r["images_per_s"] > 0 and 0 < r["roofline_fraction"]
        assert r["max_diff"] <= (0.05 if r["dtype"] == "bfloat16" else 1e-4)
    assert set(report["rooflines"]) >= {"float32"}
    assert report["results"][0]["live_intermediates_mb"] > 0


@pytest.mark.slow
def test_benchmark_cli_json(capsys):
    assert main(["benchmark", "--cfg", TINY_CFG, "--img", "64", "--backends", "eager,fused",
                 "--repeat", "2", "--warmup", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model_gflops"] > 0 and [r["backend"] for r in report["results"]] == ["eager", "fused"]


@pytest.mark.slow
def test_benchmark_int8_backends_with_accuracy(trained_weights, synth_data):
    pytest.importorskip("openvino")
    report = api.benchmark(TINY_CFG, trained_weights, img=256, backends=["eager", "onnxruntime-int8", "openvino-int8"],
                           warmup=0, repeat=1, data=str(synth_data), calib=16, log=lambda *a: None)
    rows = {r["backend"]: r for r in report["results"]}
    assert set(report["rooflines"]) >= {"float32", "int8 conv1x1", "int8 gemm"}
    assert report["calibration"] == "16 train images"
    for name in ("onnxruntime-int8", "openvino-int8"):
        assert rows[name]["dtype"] == "int8" and 0 < rows[name]["roofline_fraction"] and rows[name]["gemm_fraction"] > 0
        assert abs(rows[name]["map50_delta"]) <= 5.0  # the same column the INT8 export guard prints
    assert rows["eager"]["map50"] > 0.5 and rows["eager"]["map50_delta"] == 0
    # which ISA path ran: MLAS's int8 kernel, OpenVINO's oneDNN primitives, ATen's capability
    assert rows["onnxruntime-int8"]["kernels"].startswith("MLAS int8")
    assert "_I8" in rows["openvino-int8"]["kernels"] and rows["eager"]["kernels"].startswith("ATen ")
    assert "ISA in use" in report["cpu"]


def test_benchmark_refuses_cpu_runtimes_on_cuda_and_unknown_names():
    from yolor_cfg.workflows.benchmark import _check_backends

    with pytest.raises(UsageError, match="unknown backend coreml"):
        _check_backends(["coreml"], torch.device("cpu"))
    with pytest.raises(UsageError, match="run on the CUDA here"):
        _check_backends(["tensorrt"], torch.device("cpu"))
    lines = []
    assert "tensorrt" not in _check_backends(["eager", "tensorrt", "onnxruntime"], torch.device("cpu"), lines.append,
                                             named=False)
    assert "tensorrt left out" in lines[0]
    with pytest.raises(UsageError, match="run on the CPU here"):
        _check_backends(["eager", "onnxruntime-int8"], torch.device("cuda"))


@pytest.mark.slow
def test_benchmark_json_is_pure_json_with_nncf(capfd):
    """NNCF prints progress bars while quantizing; with --json stdout holds the JSON alone."""
    pytest.importorskip("openvino")
    assert main(["benchmark", "--cfg", TINY_CFG, "--img", "64", "--backends", "eager,openvino-int8",
                 "--repeat", "1", "--warmup", "0", "--json"]) == 0
    out = capfd.readouterr().out
    report = json.loads(out)
    assert [r["backend"] for r in report["results"]] == ["eager", "openvino-int8"]


def test_a_fraction_above_the_roofline_is_marked():
    from yolor_cfg.workflows.benchmark import ABOVE_ROOFLINE, BackendResult, format_row

    row = BackendResult("onnxruntime", "float32", 10, 9, 100, 400.0, 300.0, 400 / 300, None, None, 0.0, 0.1)
    assert "133.3% of 300*" in format_row(row) and "Winograd" in ABOVE_ROOFLINE
