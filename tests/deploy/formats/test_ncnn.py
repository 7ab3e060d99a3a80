"""--format ncnn: pnnx from the checked ONNX, ncnn's runtime, parity with PyTorch.

Tolerance: 1e-4 for fp32, as ONNX (measured here 2e-6 on the trained tiny model: ncnn's Winograd and
packed GEMM kernels sum in another order); 1e-2 with --half (fp16 weights: measured 6e-4)."""
import json
import os

import pytest
import torch

from yolor_cfg import api
from yolor_cfg.cli import main
from yolor_cfg.core.checks import UsageError
from yolor_cfg.deploy.runtimes import open_artifact

from tests.helpers import TINY_CFG, ZOO, assert_commands_take, confident_box_errors

pytest.importorskip("ncnn")
pytest.importorskip("pnnx")

# run in a pytest process of their own by test_isolated_runtimes.py (see why there)
pytestmark = pytest.mark.skipif(os.environ.get("YOLOR_CFG_ISOLATED_TESTS") != "1",
                                reason="run in their own process by test_isolated_runtimes.py")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_weights):
    out = tmp_path_factory.mktemp("ncnn") / "tiny_ncnn"
    report = api.export(TINY_CFG, out, weights=trained_weights, format="ncnn", img_size=256)
    return out, report


def test_ncnn_export_is_checked_against_pytorch(exported):
    out, report = exported
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "tiny.ncnn.bin", "tiny.ncnn.param"]
    assert [b for b, _ in report.parity] == [1, 3] and max(e for _, e in report.parity) <= 1e-4
    assert "lower_to_conv: 1 lowered" in report.fuse_summary  # the space-to-depth stem ncnn has no op for
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["format"] == "ncnn" and json.loads(meta["names"]) == ["circle", "square", "triangle"]
    assert json.loads(meta["input_size"]) == [256, 256] and "[yolo]" in meta["cfg"]


def test_ncnn_runtime_gives_pytorch_detections(exported, trained_weights, synth_data):
    out, _ = exported
    runtime = open_artifact(out)
    assert runtime.kind == "ncnn" and runtime.info.batch is None and runtime.info.input_size == (256, 256)
    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = api.load(trained_weights).eval()(x)[0]
    got = runtime(x).detections
    assert ((got - ref).abs() / ref.abs().clamp(min=1)).max() <= 1e-4
    assert max(confident_box_errors(runtime, trained_weights, synth_data)) <= 0.01


def test_ncnn_half(tmp_path, trained_weights):
    report = api.export(TINY_CFG, tmp_path / "half_ncnn", weights=trained_weights, format="ncnn", img_size=256,
                        half=True)
    assert report.tolerance == 1e-2 and max(e for _, e in report.parity) <= 1e-2
    assert open_artifact(tmp_path / "half_ncnn").info.precision == "fp16"


def test_dwt_is_lowered_for_ncnn(tmp_path):
    report = api.export(ZOO / "yolor_ssss_dwt.cfg", tmp_path / "dwt_ncnn", format="ncnn", img_size=128)
    assert "lower_to_conv: 3 lowered" in report.fuse_summary and max(e for _, e in report.parity) <= 1e-4


def test_detect_val_and_benchmark_take_the_folder(exported, synth_data, tmp_path, capsys):
    assert_commands_take(exported[0], synth_data, tmp_path, capsys, "ncnn")


@pytest.mark.parametrize("options, message", [
    ({"nms": True}, "ncnn has no NonMaxSuppression"), ({"raw": True}, "--raw is for ONNX"),
    ({"dynamic_hw": True}, "runs at its exported size")])
def test_ncnn_refuses_what_it_cannot_write(tmp_path, options, message):
    with pytest.raises(UsageError, match=message):
        api.export(TINY_CFG, tmp_path / "m_ncnn", format="ncnn", img_size=64, **options)
    assert not (tmp_path / "m_ncnn").exists()


def test_ncnn_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds files other than an ncnn model"):
        api.export(TINY_CFG, tmp_path, format="ncnn", img_size=64)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_missing_ncnn_says_how_to_install(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "pnnx", None)
    assert main(["export", "--cfg", TINY_CFG, "--out", str(tmp_path / "m_ncnn"), "--format", "ncnn", "--img", "64"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'yolor-cfg[ncnn]'" in err and "Traceback" not in err
    assert not (tmp_path / "m_ncnn").exists()
