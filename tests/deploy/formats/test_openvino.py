"""OpenVINO IR export: parity with PyTorch in OpenVINO, metadata carried, folders written whole."""
import json

import pytest
import torch

from yolor_cfg import api
from yolor_cfg.core.checks import UsageError
from yolor_cfg.deploy.formats import ExportOptions
from yolor_cfg.deploy.formats.openvino import export_openvino, ir_name
from yolor_cfg.deploy.runtimes import OpenVinoRuntime, open_artifact

from tests.helpers import TINY_CFG

pytest.importorskip("openvino")


def test_openvino_export_matches_pytorch(tmp_path, trained_weights):
    model = api.load(trained_weights)
    out = tmp_path / "tiny_openvino"
    report = export_openvino(model, out, ExportOptions(dynamic=True))
    assert sorted(p.name for p in out.iterdir()) == ["tiny.bin", "tiny.xml"]
    assert report.runtime == "openvino" and all(err <= 1e-4 for _, err in report.parity)
    runtime = open_artifact(out)
    assert isinstance(runtime, OpenVinoRuntime) and runtime.info.batch is None
    assert runtime.info.names == ["circle", "square", "triangle"] and runtime.info.input_size == (256, 256)
    assert runtime.info.strides == [8.0, 16.0] and len(runtime.info.anchors) == 2
    assert json.loads(runtime.info.metadata["prediction_outputs"])
    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model.eval()(x)[0]
    got = runtime(x).detections
    assert float(((got - ref).abs() / ref.abs().clamp(min=1)).max()) <= 1e-4


def test_openvino_export_refuses_nms_and_leaves_nothing(tmp_path):
    with pytest.raises(UsageError, match="--nms is for ONNX"):
        api.export(TINY_CFG, tmp_path / "x_openvino", format="openvino", nms=True)
    assert not (tmp_path / "x_openvino").exists()


def test_openvino_export_replaces_an_earlier_export(tmp_path):
    out = tmp_path / "m_openvino"
    for _ in range(2):
        api.export(TINY_CFG, out, format="openvino", img_size=64)
    assert sorted(p.name for p in out.iterdir()) == ["m.bin", "m.xml"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
    assert ir_name("yolor_p6_openvino") == "yolor_p6" and ir_name("plain") == "plain"


def test_openvino_export_into_a_folder_of_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds files other than an IR"):
        api.export(TINY_CFG, tmp_path, format="openvino", img_size=64)
    assert (tmp_path / "notes.txt").read_text() == "mine"
