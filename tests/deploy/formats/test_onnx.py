"""ONNX export: clean graphs, parity with PyTorch (onnxruntime and OpenCV), in-graph NMS, verify."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from yolor_cfg.cli import main
from yolor_cfg.deploy.formats import ExportOptions, export_onnx, verify_onnx
from yolor_cfg.deploy.nms import reference_nms
from yolor_cfg.deploy.formats import ExportError

from tests.helpers import TINY_CFG, shared_path
from tests.compiler.passes.support import randomized


@pytest.fixture(scope="module")
def p6_export(tmp_path_factory):
    model = randomized(shared_path("reference-cfg", "yolor", "yolor_p6.cfg"), 256)
    path = tmp_path_factory.mktemp("onnx") / "p6.onnx"
    report = export_onnx(model, path, ExportOptions(dynamic=True))
    return model, path, report


def test_yolor_p6_export_is_clean(p6_export):
    model, path, report = p6_export
    proto = onnx.load(str(path))
    ops = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" not in ops and "Identity" not in ops
    assert ops.count("Conv") == sum(n.kind == "convolutional" for n in model.graph.nodes) == 145
    vectors = {i.name for i in proto.graph.initializer
               if len(i.dims) == 4 and i.dims[0] == 1 and i.dims[2] == 1 and i.dims[3] == 1 and i.dims[1] > 1}
    fed_by_vector = [n for n in proto.graph.node if n.op_type in ("Add", "Mul") and set(n.input) & vectors]
    assert not fed_by_vector
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["strides"]) == [8, 16, 32, 64] and meta["dialect"] == "yolor"
    assert len(json.loads(meta["anchors"])) == 4 and json.loads(meta["input_size"]) == [256, 256]
    assert "letterbox" in meta["preprocessing"]


def test_yolor_p6_parity_onnxruntime_and_opencv(p6_export):
    model, path, report = p6_export
    assert [b for b, _ in report.parity] == [1, 3] and all(err <= 1e-4 for _, err in report.parity)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(3, 3, 256, 256)
    with torch.no_grad():
        ref = model(x)[0].numpy()
    got = session.run(None, {"images": x.numpy()})[0]
    assert np.abs(got - ref).max() / np.abs(ref).max() <= 1e-4
    cv2 = pytest.importorskip("cv2")
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(x[:1].numpy())
    assert np.abs(net.forward() - ref[:1]).max() / np.abs(ref).max() <= 1e-4


def test_nms_output_equals_reference_nms(tmp_path):
    model = randomized(shared_path("conformance", "all_layers.cfg"))
    plain, with_nms = tmp_path / "plain.onnx", tmp_path / "nms.onnx"
    export_onnx(model, plain, ExportOptions(dynamic=True))
    export_onnx(model, with_nms, ExportOptions(dynamic=True, nms=True, conf=0.2, iou=0.5, max_det=15))
    x = np.random.default_rng(0).random((3, 3, 128, 128), dtype=np.float32)
    decoded = ort.InferenceSession(str(plain)).run(None, {"images": x})[0]
    rows = ort.InferenceSession(str(with_nms)).run(None, {"images": x})[0]
    expect = reference_nms(decoded, 0.2, 0.5, 15)
    assert rows.shape[1] == 7 and len(expect) > 10
    np.testing.assert_allclose(rows, expect, rtol=1e-5, atol=1e-4)
    assert max(np.bincount(rows[:, 0].astype(int))) <= 15


def test_half_export_parity(tmp_path):
    model = randomized(shared_path("conformance", "all_layers.cfg"))
    report = export_onnx(model, tmp_path / "half.onnx", ExportOptions(half=True))
    assert report.tolerance == 1e-2 and all(err <= 1e-2 for _, err in report.parity)
    assert onnx.load(str(tmp_path / "half.onnx")).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16


def test_parity_failure_exits_nonzero(tmp_path, capsys):
    cfg = shared_path("conformance", "all_layers.cfg")
    code = main(["export", "--cfg", str(cfg), "--out", str(tmp_path / "m.onnx"), "--tolerance", "0"])
    assert code == 1 and "parity FAILED" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # written only once it matches PyTorch


def test_cli_export_and_verify(tmp_path, capsys):
    cfg = shared_path("reference-cfg", "darknet", "yolov4-tiny.cfg")
    weights = tmp_path / "w.pt"
    randomized(cfg, 160).save_weights(weights)
    out = tmp_path / "tiny.onnx"
    assert main(["export", "--cfg", str(cfg), "--weights", str(weights), "--img", "160", "--out", str(out),
                 "--dynamic", "hw"]) == 0
    text = capsys.readouterr().out
    assert "passes: fold_bn: 19 folded" in text and "parity onnxruntime vs PyTorch, batch 3" in text
    assert main(["verify", "--cfg", str(cfg), "--weights", str(weights), "--onnx", str(out)]) == 0
    assert "layers agree" in capsys.readouterr().out


def test_verify_names_first_diverging_layer(tmp_path):
    model = randomized(shared_path("conformance", "all_layers.cfg"))
    path = tmp_path / "m.onnx"
    export_onnx(model, path, ExportOptions(fuse=False))
    proto = onnx.load(str(path))
    producer = {o: n for n in proto.graph.node for o in n.output}
    node = producer["layer_14"]  # silu: Mul(conv, Sigmoid(conv)); walk back to the Conv
    while node.op_type != "Conv":
        node = producer[node.input[0]]
    target = next(i for i in proto.graph.initializer if i.name == node.input[1])
    tampered = numpy_helper.to_array(target).copy()
    tampered[0] += 0.5
    target.CopyFrom(numpy_helper.from_array(tampered, target.name))
    onnx.save(proto, str(path))
    with pytest.raises(ExportError, match=r"first divergence: layer 14 \[convolutional\] at .*all_layers.cfg:96"):
        verify_onnx(model, path)


def test_one_channel_cfg_exports(tmp_path):
    """Darknet's own go.test.cfg style: channels=1 (the exporter used to build 3-channel inputs)."""
    cfg = tmp_path / "gray.cfg"
    cfg.write_text("[net]\nwidth=32\nheight=32\nchannels=1\n[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\n"
                   "activation=leaky\n[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"
                   "[yolo]\nmask=0,1,2\nanchors=10,13,16,30,33,23\nclasses=2\nnum=3\n")
    out = tmp_path / "gray.onnx"
    assert main(["export", "--cfg", str(cfg), "--out", str(out)]) == 0
    assert onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[1].dim_value == 1



def test_head_inputs_export_is_decoded_by_the_runtime(tmp_path, trained_weights):
    """``head_inputs``: the graph ends where the heads begin (what the all-integer LiteRT model outputs);
    any runtime decodes the maps with the heads of the cfg in the metadata, as PyTorch does."""
    from yolor_cfg import api
    from yolor_cfg.deploy.runtimes import open_artifact

    out = tmp_path / "heads.onnx"
    report = api.export(TINY_CFG, out, weights=trained_weights, img_size=256, head_inputs=True, dynamic=True)
    assert max(e for _, e in report.parity) <= 1e-4
    assert [o.name for o in onnx.load(str(out)).graph.output] == ["head_input_0", "head_input_1"]
    runtime = open_artifact(out)
    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = api.load(trained_weights).eval()(x)[0]
    assert runtime.info.output == "heads"
    assert ((runtime(x).detections - ref).abs() / ref.abs().clamp(min=1)).max() <= 1e-4
