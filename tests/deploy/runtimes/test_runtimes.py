"""One runtime interface: artifacts opened by what they are; detect, val and benchmark take each."""
import importlib.util
import json

import numpy as np
import pytest
import torch

from yolor_cfg import api
from yolor_cfg.core.checks import UsageError
from yolor_cfg.cli import main
from yolor_cfg.deploy.runtimes import OnnxRuntime, OpenVinoRuntime, TorchRuntime, open_artifact

from tests.helpers import TINY_CFG


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, trained_weights, synth_data):
    """Our .pt, a fixed-batch ONNX file and an OpenVINO folder of the trained tiny model, plus data."""
    root = tmp_path_factory.mktemp("artifacts")
    found = {"pytorch": trained_weights}
    api.export(TINY_CFG, root / "tiny.onnx", weights=trained_weights)
    found["onnxruntime"] = root / "tiny.onnx"
    if _has_openvino():
        api.export(TINY_CFG, root / "tiny_openvino", weights=trained_weights, format="openvino", dynamic=True)
        found["openvino"] = root / "tiny_openvino"
    return found, synth_data


def _has_openvino() -> bool:
    return importlib.util.find_spec("openvino") is not None


def test_open_artifact_picks_the_runtime(artifacts):
    found, _ = artifacts
    kinds = {TorchRuntime: "pytorch", OnnxRuntime: "onnxruntime", OpenVinoRuntime: "openvino"}
    for kind, path in found.items():
        runtime = open_artifact(path)
        assert kinds[type(runtime)] == kind
        assert runtime.info.input_size == (256, 256) and runtime.info.names == ["circle", "square", "triangle"]


def test_every_runtime_gives_the_same_detections(artifacts):
    found, _ = artifacts
    x = torch.rand(3, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    outs = {kind: open_artifact(path)(x).detections for kind, path in found.items()}
    ref = outs.pop("pytorch")
    for kind, got in outs.items():
        assert got.shape == ref.shape, kind
        assert float(((got - ref).abs() / ref.abs().clamp(min=1)).max()) <= 1e-4, kind


def test_fixed_batch_artifact_runs_any_batch_in_chunks(artifacts):
    found, _ = artifacts
    runtime = open_artifact(found["onnxruntime"])
    assert runtime.info.batch == 1
    x = np.random.default_rng(0).random((3, 3, 256, 256), dtype=np.float32)
    together = runtime(x).detections
    alone = torch.cat([runtime(x[i:i + 1]).detections for i in range(3)])
    assert torch.equal(together, alone)


@pytest.mark.parametrize("path, message", [
    ("model.mlmodel", "not a model artifact this tool runs"),
    ("model.tflite", "not a readable LiteRT model"),
    ("model.ncnn.param", "ncnn could not load this model|weights file model.ncnn.bin is missing"),
    ("w.weights", "need the network's cfg"),
    ("nothing_here.onnx", "no such file or folder"),
])
def test_open_artifact_mistakes(tmp_path, path, message):
    if not path.startswith("nothing"):
        (tmp_path / path).write_bytes(b"\0" * 16)
    with pytest.raises(UsageError, match=message):
        open_artifact(tmp_path / path)


def test_val_takes_each_artifact(artifacts, tmp_path):
    found, data = artifacts
    scores = {kind: api.val(weights=path, data=str(data), batch=8, workers=0, out=None, verbose=False).map50
              for kind, path in found.items()}
    ref = scores.pop("pytorch")
    assert ref > 0.5
    for kind, score in scores.items():
        assert abs(score - ref) < 1e-3, (kind, score, ref)


def test_detect_and_benchmark_cli_take_each_artifact(artifacts, tmp_path, capsys):
    found, data = artifacts
    images = data.parent / "images" / "val"
    for kind, path in found.items():
        out = tmp_path / kind
        assert main(["detect", "--weights", str(path), "--source", str(images), "--out", str(out), "--conf", "0.5"]) == 0
        detections = json.loads((out / "detections.json").read_text())["detections"]
        assert len(detections) == 48 and sum(map(len, detections.values())) > 0
        assert main(["benchmark", "--weights", str(path), "--repeat", "1", "--warmup", "0", "--json"]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["results"][0]["median_ms"] > 0


def test_val_refuses_a_size_the_artifact_does_not_take(artifacts):
    found, data = artifacts
    with pytest.raises(UsageError, match="takes 256x256 inputs"):
        api.val(weights=found["onnxruntime"], data=str(data), img=320, out=None, verbose=False)


def test_missing_openvino_is_a_message_with_the_install_command(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    code = main(["export", "--cfg", TINY_CFG, "--out", str(tmp_path / "m_openvino"), "--format", "openvino",
                 "--img", "64"])
    err = capsys.readouterr().err
    assert code == 1 and "pip install 'yolor-cfg[openvino]'" in err and "Traceback" not in err
    assert not (tmp_path / "m_openvino").exists()
    with pytest.raises(UsageError, match=r"yolor-cfg\[openvino\]"):
        api.benchmark(TINY_CFG, img=64, backends=["openvino"], repeat=1, warmup=0, log=lambda *a: None)
