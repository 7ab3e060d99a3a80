"""INT8 export: onnxruntime QDQ and OpenVINO NNCF, the float region, the accuracy guard."""
import json

import numpy as np
import onnx
import pytest

from yolor_cfg import api
from yolor_cfg.core import cpu
from yolor_cfg.cli import main
from yolor_cfg.deploy.export import AccuracyGuardError
from yolor_cfg.deploy.int8 import REASON_BETWEEN, REASON_CONV, REASON_DECODE, GraphNode, float_region
from yolor_cfg.deploy.runtimes import open_artifact

from tests.helpers import TINY_CFG, confident_box_errors

openvino = pytest.importorskip("openvino")


def _exported(tmp, weights, data, fmt):
    out = tmp / ("tiny_int8.onnx" if fmt == "onnx" else "tiny_int8_openvino")
    report = api.export(TINY_CFG, out, weights=weights, format=fmt, int8=True, data=str(data), calib=48, dynamic=True,
                        log=lambda *a: None)
    return out, report


@pytest.fixture(scope="module", params=["onnx", "openvino"])
def int8(request, tmp_path_factory, trained_weights, synth_data):
    tmp = tmp_path_factory.mktemp(f"int8_{request.param}")
    out, report = _exported(tmp, trained_weights, synth_data, request.param)
    return request.param, out, report


def test_int8_detections_match_the_float_model(int8, trained_weights, synth_data):
    """Every confident float detection is found by the INT8 model (same class, IoU >= 0.7), and the
    typical box moves by about a pixel (measured: median 0.6-1.0 px, 90th percentile 1.6-3 px, worst
    about 9 px on a 90 px object, in 256 x 256 images)."""
    fmt, out, report = int8
    runtime = open_artifact(out)
    assert runtime.info.precision == "int8" and runtime.info.names == ["circle", "square", "triangle"]
    errors = confident_box_errors(runtime, trained_weights, synth_data)
    assert len(errors) >= 40
    assert np.median(errors) <= 1.5 and np.percentile(errors, 90) <= 4.0, np.percentile(errors, [50, 90, 100])


def test_int8_keeps_the_head_float_and_says_why(int8):
    fmt, out, report = int8
    reasons = set(report.kept_float.values())
    assert REASON_CONV in reasons and REASON_DECODE in reasons
    convs = [n for n, why in report.kept_float.items() if why == REASON_CONV]
    assert len(convs) == 2  # yolor_tiny has two [yolo] heads, each fed by one convolution
    text = report.format()
    assert "kept float: 2 nodes: final prediction convolution" in text.replace(" (Conv 2)", "").replace(
        " (Convolution 2)", "")
    assert report.guard.passed and report.guard.drop <= 1.0
    assert report.int8_metrics["AP50"] > 0.5


def test_int8_onnx_is_qdq_with_per_channel_weights(tmp_path, trained_weights, synth_data):
    out, report = _exported(tmp_path, trained_weights, synth_data, "onnx")
    proto = onnx.load(str(out))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["precision"] == "int8" and json.loads(meta["input_size"]) == [256, 256]
    per_channel = [init for init in proto.graph.initializer if init.data_type == onnx.TensorProto.FLOAT
                   and init.name.endswith("_scale") and len(init.dims) == 1 and init.dims[0] > 1]
    assert per_channel, "weights should carry one scale per output channel"
    assert ("7-bit" in report.format()) == (not cpu.has_vnni())


@pytest.mark.slow
def test_guard_exits_1_and_keeps_the_file(tmp_path, trained_weights, synth_data, capsys):
    out = tmp_path / "guarded.onnx"
    code = main(["export", "--cfg", TINY_CFG, "--weights", str(trained_weights), "--out", str(out), "--int8", "--data",
                 str(synth_data), "--calib", "8", "--max-drop", "-1"])
    text = capsys.readouterr()
    assert code == 1 and out.exists()
    assert "accuracy guard" in text.out and "FAILED" in text.out
    assert "kept for inspection" in text.err


@pytest.mark.slow
def test_guard_raises_in_python(tmp_path, trained_weights, synth_data):
    with pytest.raises(AccuracyGuardError, match="more than --max-drop -1"):
        api.export(TINY_CFG, tmp_path / "g.onnx", weights=trained_weights, int8=True, data=str(synth_data), calib=8,
                   max_drop=-1, log=lambda *a: None)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "--int8 needs --data"),
    ({"data": "synth", "raw": True}, "leave out --raw"),
    ({"data": "synth", "img_size": (256, 320)}, "square input size"),
    ({"data": "synth", "calib": 0}, "calibration images"),
])
def test_int8_argument_mistakes(tmp_path, trained_weights, kwargs, message):
    from yolor_cfg.core.checks import UsageError

    with pytest.raises(UsageError, match=message):
        api.export(TINY_CFG, tmp_path / "x.onnx", weights=trained_weights, int8=True, log=lambda *a: None, **kwargs)
    assert not (tmp_path / "x.onnx").exists()


def _chain(*ops):
    """GraphNodes in a line: x -> op0 -> op1 -> ..., each reading the previous one's value."""
    nodes, value = [], "x"
    for k, op in enumerate(ops):
        nodes.append(GraphNode(f"n{k}", op, [value], [f"v{k}"]))
        value = f"v{k}"
    return nodes


def test_float_region_walks_back_to_the_convolution_and_forward_through_decoding():
    nodes = _chain("Conv", "Add", "Sigmoid", "Mul")  # conv, its bias (as OpenVINO splits it), decoding
    region = float_region(nodes, {"v1"})
    assert region == {"n1": REASON_BETWEEN, "n0": REASON_CONV, "n2": REASON_DECODE, "n3": REASON_DECODE}


def test_float_region_does_not_swallow_a_route():
    nodes = _chain("Conv", "Relu") + [GraphNode("cat", "Concat", ["v0", "v1"], ["c"]), GraphNode("s", "Sigmoid", ["c"], ["y"])]
    region = float_region(nodes, {"c"})
    assert region == {"s": REASON_DECODE}  # the head reads a Concat of two values: nothing upstream is kept


def test_percentile_falls_back_to_minmax_on_a_near_constant_activation(tmp_path):
    """onnxruntime's histogram calibrators fail when a float32 tensor spans only a few ulps of a large
    value (numpy cannot make 2048 distinct bin edges); export says so and calibrates with min-max."""
    from onnx import TensorProto, helper, numpy_helper

    from yolor_cfg.deploy.int8 import OnnxQuantOptions, quantize_onnx

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv"), helper.make_node("Relu", ["y"], ["z"])],
        "near_constant", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4, 8, 8])],
        [numpy_helper.from_array(np.full((4, 3, 1, 1), 1e-4, np.float32), "w"),
         numpy_helper.from_array(np.full(4, 1e4, np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "f.onnx")
    inputs = [np.random.default_rng(k).random((1, 3, 8, 8), dtype=np.float32) for k in range(4)]
    report = quantize_onnx(tmp_path / "f.onnx", tmp_path / "q.onnx", inputs, OnnxQuantOptions(calibration="percentile"))
    assert "percentile calibration failed" in report.format() and "min-max calibration used instead" in report.format()
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in onnx.load(str(tmp_path / "q.onnx")).graph.node}
