"""--format tflite: onnx2tf from the checked ONNX, LiteRT's interpreter, parity with PyTorch; full-integer
INT8 calibrated on the data and guarded.

Tolerances: 1e-4 for fp32, as ONNX (measured 1.8e-6 on the trained tiny model); 1e-2 for fp16 weights
(measured 6.3e-4); INT8 by the accuracy guard and box by box against the float model."""
import importlib.util
import os

import numpy as np
import pytest
import torch

from yolor_cfg import api
from yolor_cfg.cli import main
from yolor_cfg.core.checks import UsageError
from yolor_cfg.deploy.runtimes import open_artifact

from tests.helpers import TINY_CFG, assert_commands_take, confident_box_errors

# onnx2tf runs in a subprocess; importing it here would load TensorFlow into the test process beside torch,
# onnxruntime and OpenVINO (a 2 GB runtime with threads of its own), so only its presence is checked
if importlib.util.find_spec("onnx2tf") is None:
    pytest.skip("onnx2tf is not installed (pip install --no-deps onnx2tf==1.29.24)", allow_module_level=True)
pytest.importorskip("ai_edge_litert")
# run in a pytest process of their own by test_isolated_runtimes.py (see why there)
pytestmark = pytest.mark.skipif(os.environ.get("YOLOR_CFG_ISOLATED_TESTS") != "1",
                                reason="run in their own process by test_isolated_runtimes.py")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_weights):
    out = tmp_path_factory.mktemp("tflite") / "tiny_tflite"
    report = api.export(TINY_CFG, out, weights=trained_weights, format="tflite", img_size=256)
    return out, report


def test_tflite_export_is_checked_against_pytorch(exported, trained_weights):
    out, report = exported
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "tiny.tflite"]
    assert report.runtime == "litert" and max(e for _, e in report.parity) <= 1e-4
    runtime = open_artifact(out / "tiny.tflite")  # the file itself, metadata from beside it
    assert runtime.info.names == ["circle", "square", "triangle"] and runtime.info.batch == 1
    assert runtime.interpreter.get_input_details()[0]["shape"].tolist() == [1, 256, 256, 3]  # NHWC inside
    x = torch.rand(3, 3, 256, 256, generator=torch.Generator().manual_seed(2))  # NCHW outside, any batch
    with torch.no_grad():
        ref = api.load(trained_weights).eval()(x)[0]
    assert ((runtime(x).detections - ref).abs() / ref.abs().clamp(min=1)).max() <= 1e-4


def test_detect_val_and_benchmark_take_the_folder(exported, synth_data, tmp_path, capsys):
    assert_commands_take(exported[0], synth_data, tmp_path, capsys, "litert")


@pytest.mark.slow
def test_tflite_half(tmp_path, trained_weights):
    report = api.export(TINY_CFG, tmp_path / "half_tflite", weights=trained_weights, format="tflite", img_size=256,
                        half=True)
    assert report.tolerance == 1e-2 and max(e for _, e in report.parity) <= 1e-2
    assert open_artifact(tmp_path / "half_tflite").info.precision == "fp16"


@pytest.mark.slow
def test_tflite_int8_is_all_integer_guarded_and_finds_the_float_detections(tmp_path, trained_weights, synth_data):
    out = tmp_path / "tiny8_tflite"
    report = api.export(TINY_CFG, out, weights=trained_weights, format="tflite", int8=True, data=str(synth_data),
                        calib=48, img_size=256, log=lambda *a: None)
    assert report.guard.passed and report.guard.drop <= 1.0
    runtime = open_artifact(out)
    details = runtime.interpreter.get_tensor_details()
    assert runtime.info.precision == "int8" and runtime.info.output == "heads"
    assert runtime.interpreter.get_input_details()[0]["dtype"] == np.int8
    float_tensors = [d["name"] for d in details if d["dtype"] == np.float32]
    assert not float_tensors, float_tensors[:5]  # integer end to end
    errors = confident_box_errors(runtime, trained_weights, synth_data)
    assert len(errors) >= 40 and np.median(errors) <= 1.5 and np.percentile(errors, 90) <= 4.0


@pytest.mark.slow
def test_tflite_guard_exits_1_on_an_impossible_budget(tmp_path, trained_weights, synth_data, capsys):
    out = tmp_path / "m_tflite"
    code = main(["export", "--cfg", TINY_CFG, "--weights", str(trained_weights), "--out", str(out), "--format", "tflite",
                 "--int8", "--data", str(synth_data), "--calib", "16", "--max-drop", "-100", "--img", "256"])
    captured = capsys.readouterr()
    assert code == 1 and "accuracy guard" in captured.out and "FAILED" in captured.out
    assert "more than --max-drop -100" in captured.err and out.is_dir()  # kept for inspection


@pytest.mark.parametrize("options, message", [
    ({"nms": True}, "--nms is for ONNX"), ({"dynamic": True}, "fixed input shape"), ({"raw": True}, "--raw is for ONNX")])
def test_tflite_refuses_what_it_cannot_write(tmp_path, options, message):
    with pytest.raises(UsageError, match=message):
        api.export(TINY_CFG, tmp_path / "m_tflite", format="tflite", img_size=64, **options)
    assert not (tmp_path / "m_tflite").exists()


def test_missing_onnx2tf_says_how_to_install(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "onnx2tf", None)
    assert main(["export", "--cfg", TINY_CFG, "--out", str(tmp_path / "m_tflite"), "--format", "tflite"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'yolor-cfg[tflite]'" in err and "--no-deps onnx2tf" in err and "Traceback" not in err
