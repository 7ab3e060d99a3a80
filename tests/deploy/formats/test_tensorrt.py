"""TensorRT engine export (--format engine): what needs no GPU (the registry's facts, the refusal to run
without a GPU, the EfficientNMS_TRT graph, its outputs turned into rows, the symmetric Q/DQ ONNX that INT8
engines are built from) runs everywhere; the engines themselves only where a CUDA GPU and TensorRT are."""
import json
import sys
import tomllib
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from yolor_cfg import api
from yolor_cfg.cli import main
from yolor_cfg.core.checks import UsageError
from yolor_cfg.deploy.formats import FORMATS, ExportError, ExportOptions, benchmark_rows, export_onnx
from yolor_cfg.deploy.formats.tensorrt import (NMS_PLUGIN, PLUGIN_DOMAIN, TensorRtFormat, append_efficient_nms,
                                               batch_profile, build_engine, tensorrt_qdq)
from yolor_cfg.deploy.int8 import REASON_CONV, calibration_batches, calibration_inputs
from yolor_cfg.deploy.nms import reference_nms
from yolor_cfg.deploy.runtimes import RUNTIMES, open_artifact, open_onnx_session
from yolor_cfg.deploy.runtimes.tensorrt import TensorRtRuntime, plugin_rows
from yolor_cfg.workflows.detect import Predictor

from tests.helpers import ROOT, TINY_CFG, cli_subparser

ENGINE = FORMATS["engine"]
on_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="TensorRT engines are built and run on a CUDA GPU")


# ---- the format's facts, and what happens without a GPU ----

def test_engine_is_registered_with_its_facts():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert isinstance(ENGINE, TensorRtFormat) and ENGINE.folder and ENGINE.suffix == "_engine"
    assert ENGINE.runtime == "tensorrt" and ENGINE.runtime in {r.kind for r in RUNTIMES}
    assert ENGINE.requires == ("tensorrt",) and ENGINE.extra == "tensorrt" and "tensorrt" in extras
    assert ENGINE.device == "cuda" and ENGINE.int8 and ENGINE.benchmark_by_default
    assert {"tensorrt", "tensorrt-int8"} <= set(benchmark_rows())
    assert "engine" in cli_subparser("export")._option_string_actions["--format"].choices
    assert ENGINE.stem("runs/yolor_p6_engine") == "yolor_p6" and ENGINE.scratch_name("model") == "model_engine"
    assert ENGINE.owns(ROOT / "x.engine") and ENGINE.owns(ROOT / "metadata.json") and not ENGINE.owns(ROOT / "x.onnx")
    assert batch_profile(ExportOptions(batch=4)) == (4, 4, 4)
    assert batch_profile(ExportOptions(dynamic=True)) == (1, 1, 16)
    assert batch_profile(ExportOptions(dynamic=True, batch=32)) == (1, 32, 32)


def test_missing_says_there_is_no_gpu_and_what_to_install(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    why = ENGINE.missing()
    assert why.startswith("--format engine builds a TensorRT engine for the GPU it will run on, and no CUDA GPU is "
                          "visible here") and f"torch {torch.__version__}" in why
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    assert ENGINE.missing().endswith("; it also needs tensorrt, which is not installed: pip install "
                                     "'yolor-cfg[tensorrt]'")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ENGINE.missing() == ("--format engine needs tensorrt, which is not installed: pip install "
                                "'yolor-cfg[tensorrt]'")


@pytest.mark.skipif(ENGINE.missing() is None, reason="this machine can build TensorRT engines")
def test_export_without_a_gpu_exits_1_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "tiny_engine"
    code = main(["export", "--cfg", TINY_CFG, "--format", "engine", "--out", str(out), "--img", "64"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: --format engine") and ENGINE.missing() in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="--format engine"):
        api.export(TINY_CFG, out, format="engine", img_size=64)
    assert not out.exists()


def test_an_engine_folder_goes_to_the_tensorrt_runtime_which_says_what_it_needs(tmp_path, monkeypatch):
    folder = tmp_path / "m_engine"
    folder.mkdir()
    (folder / "m.engine").write_bytes(b"not an engine")
    assert TensorRtRuntime.accepts(folder) and TensorRtRuntime.accepts(folder / "m.engine")
    assert not TensorRtRuntime.accepts(tmp_path)
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(UsageError, match=r"TensorRT is not installed: pip install 'yolor-cfg\[tensorrt\]'"):
        open_artifact(folder)


def test_publish_copies_the_engine_and_its_metadata_only(tmp_path):
    scratch = tmp_path / "try3_engine"
    scratch.mkdir()
    for name in ("model.engine", "metadata.json", "float.onnx", "int8.onnx"):  # what quantize leaves in scratch
        (scratch / name).write_text(name)
    ENGINE.publish(scratch, tmp_path / "yolor_p6_int8_engine")
    published = tmp_path / "yolor_p6_int8_engine"
    assert sorted(p.name for p in published.iterdir()) == ["metadata.json", "yolor_p6_int8.engine"]
    assert (published / "yolor_p6_int8.engine").read_text() == "model.engine"


def test_raw_and_dynamic_hw_are_refused():
    for option, message in (("raw", "--raw is for ONNX"), ("dynamic_hw", "--dynamic hw is for ONNX")):
        with pytest.raises(UsageError, match=message):
            ENGINE.check_options(ExportOptions(**{option: True}))


def _fake_tensorrt(batch: int, parse_errors=()):
    """The part of TensorRT's Python API that build_engine calls, recording the builder config it builds with."""
    built = []

    class Config:
        def __init__(self):
            self.flags, self.profiles = {"TF32"}, []  # TensorRT allows TF32 unless told not to
            self.set_flag, self.clear_flag = self.flags.add, self.flags.discard
            self.add_optimization_profile = self.profiles.append

    class Profile:
        def set_shape(self, name, lo, opt, hi):
            self.shapes = (name, lo, opt, hi)

    class Builder:
        def __init__(self, logger):
            self.create_builder_config, self.create_optimization_profile = Config, Profile

        def create_network(self, flags):
            return SimpleNamespace(get_input=lambda i: SimpleNamespace(name="images", shape=(batch, 3, 64, 64)))

        def build_serialized_network(self, network, config):
            built.append(config)
            return b"serialized"

    class OnnxParser:
        num_errors = len(parse_errors)

        def __init__(self, network, logger):
            pass

        def parse_from_file(self, path):
            return not parse_errors

        def get_error(self, i):
            return SimpleNamespace(desc=lambda: parse_errors[i])

    class ILogger:
        Severity = SimpleNamespace(ERROR=1)

        def __init__(self):
            pass

    fake = SimpleNamespace(Builder=Builder, OnnxParser=OnnxParser, ILogger=ILogger,
                           BuilderFlag=SimpleNamespace(TF32="TF32", FP16="FP16", INT8="INT8"),
                           init_libnvinfer_plugins=lambda logger, namespace: True)
    return fake, built


@pytest.mark.parametrize("precision, flags", [("fp32", set()), ("fp16", {"TF32", "FP16"}),
                                              ("int8", {"TF32", "FP16", "INT8"})])
def test_build_engine_sets_the_precision_and_the_batch_profile(monkeypatch, tmp_path, precision, flags):
    from yolor_cfg.deploy.runtimes import tensorrt as runtime_module

    fake, built = _fake_tensorrt(batch=-1)
    monkeypatch.setattr(runtime_module, "require_tensorrt", lambda: fake)
    build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", precision, (1, 4, 16))
    assert (tmp_path / "m.engine").read_bytes() == b"serialized"
    assert built[0].flags == flags  # fp32: TF32 off, so that parity holds at 1e-4
    (profile,) = built[0].profiles
    assert profile.shapes == ("images", (1, 3, 64, 64), (4, 3, 64, 64), (16, 3, 64, 64))
    fake, built = _fake_tensorrt(batch=2)
    monkeypatch.setattr(runtime_module, "require_tensorrt", lambda: fake)
    build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", precision, (2, 2, 2))
    assert built[0].profiles == []  # a fixed batch needs no profile
    fake, built = _fake_tensorrt(batch=1, parse_errors=["no importer for op Foo"])
    monkeypatch.setattr(runtime_module, "require_tensorrt", lambda: fake)
    with pytest.raises(ExportError, match="TensorRT's ONNX parser refused the model: no importer for op Foo"):
        build_engine(tmp_path / "m.onnx", tmp_path / "x.engine", precision, (1, 1, 1))
    assert not built and not (tmp_path / "x.engine").exists()


# ---- --nms: TensorRT's EfficientNMS_TRT plugin ----

@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory, trained_weights):
    path = tmp_path_factory.mktemp("engine_onnx") / "tiny.onnx"
    export_onnx(api.load(trained_weights), path, ExportOptions(dynamic=True))
    return path


def test_efficient_nms_node_is_what_tensorrt_parses(tiny_onnx):
    proto = append_efficient_nms(onnx.load(str(tiny_onnx)), "detections", 0.3, 0.5, 50)
    onnx.checker.check_model(proto, full_check=True)  # the plugin's own domain: the checker leaves it alone
    plugin = [n for n in proto.graph.node if n.op_type == NMS_PLUGIN]
    assert len(plugin) == 1 and plugin[0].domain == PLUGIN_DOMAIN
    assert (PLUGIN_DOMAIN, 1) in {(o.domain, o.version) for o in proto.opset_import}
    attrs = {a.name: helper.get_attribute_value(a) for a in plugin[0].attribute}
    # TensorRT's parser turns INT attributes into the plugin's int32 fields and FLOAT into float32 ones
    types = {a.name: a.type for a in plugin[0].attribute}
    assert attrs == {"plugin_version": b"1", "background_class": -1, "box_coding": 1, "class_agnostic": 0,
                     "iou_threshold": pytest.approx(0.5), "max_output_boxes": 50, "score_activation": 0,
                     "score_threshold": pytest.approx(0.3)}
    assert types["iou_threshold"] == types["score_threshold"] == onnx.AttributeProto.FLOAT
    assert types["max_output_boxes"] == types["box_coding"] == onnx.AttributeProto.INT
    outputs = {o.name: (o.type.tensor_type.elem_type, [d.dim_param or d.dim_value
                                                       for d in o.type.tensor_type.shape.dim])
               for o in proto.graph.output}
    assert list(outputs)[:4] == list(plugin[0].output)
    assert outputs == {"num_detections": (TensorProto.INT32, ["batch", 1]),
                       "detection_boxes": (TensorProto.FLOAT, ["batch", 50, 4]),
                       "detection_scores": (TensorProto.FLOAT, ["batch", 50]),
                       "detection_classes": (TensorProto.INT32, ["batch", 50]),
                       "detections": outputs["detections"]}
    # the plugin's inputs, computed by the rest of the graph: centre-size boxes and objectness x class scores
    del proto.graph.node[-1]
    del proto.graph.output[:]
    proto.graph.output.extend([onnx.ValueInfoProto(name=n) for n in (*plugin[0].input, "detections")])
    x = np.random.default_rng(0).random((2, 3, 256, 256), dtype=np.float32)
    boxes, scores, det = open_onnx_session(proto).run(None, {"images": x})
    assert boxes.shape == (2, det.shape[1], 4) and scores.shape == (2, det.shape[1], 3)
    np.testing.assert_array_equal(boxes, det[..., :4])
    np.testing.assert_allclose(scores, det[..., 5:] * det[..., 4:5], rtol=1e-6)


def test_plugin_outputs_become_rows():
    num = np.array([[2], [0], [1]], np.int32)
    boxes = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
    scores = np.array([[0.9, 0.8, 0, 0], [0, 0, 0, 0], [0.7, 0, 0, 0]], np.float32)
    classes = np.array([[2, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]], np.int32)
    rows = plugin_rows(num, boxes, scores, classes, first_image=4)
    assert rows.dtype == np.float32 and rows.shape == (3, 7)
    np.testing.assert_array_equal(rows[:, 0], [4, 4, 6])
    np.testing.assert_array_equal(rows[:, 1:5], [boxes[0, 0], boxes[0, 1], boxes[2, 0]])
    np.testing.assert_allclose(rows[:, 5], [0.9, 0.8, 0.7])
    np.testing.assert_array_equal(rows[:, 6], [2, 0, 1])
    assert plugin_rows(np.zeros((2, 1), np.int32), boxes[:2], scores[:2], classes[:2]).shape == (0, 7)


def test_rows_of_an_nms_as_the_plugin_outputs_it_equal_our_onnx_nms_rows():
    """The plugin keeps, per image, the best boxes of a per-class NMS, best first, padded to max_det: laid
    out that way, our reference NMS comes back through plugin_rows unchanged."""
    rng = np.random.default_rng(1)
    decoded = np.concatenate([rng.random((3, 200, 2)) * 200, rng.random((3, 200, 2)) * 60 + 5,
                              rng.random((3, 200, 4))], 2).astype(np.float32)
    expect = reference_nms(decoded, 0.3, 0.45, 20)
    per_image = [expect[expect[:, 0] == b] for b in range(3)]
    num = np.array([[len(r)] for r in per_image], np.int32)
    pad = [np.concatenate([r, np.zeros((20 - len(r), 7), np.float32)]) for r in per_image]
    boxes, scores, classes = (np.stack([p[:, 1:5] for p in pad]), np.stack([p[:, 5] for p in pad]),
                              np.stack([p[:, 6] for p in pad]).astype(np.int32))
    assert len(expect) > 10
    np.testing.assert_array_equal(plugin_rows(num, boxes, scores, classes), expect)


# ---- INT8: the symmetric Q/DQ ONNX TensorRT builds from ----

def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _box_errors(reference: Predictor, other: Predictor, synth_data) -> list[float]:
    """For every confident detection of ``reference`` (conf 0.7) on the val images, the largest coordinate
    error of ``other``'s best match (same class; the match must overlap it with IoU >= 0.7)."""
    errors = []
    for path in sorted((synth_data.parent / "images" / "val").glob("*.png")):
        got = other(str(path), conf=0.25)
        for d in reference(str(path), conf=0.7):
            best = max((g for g in got if g.cls == d.cls), key=lambda g: _iou(g.box, d.box), default=None)
            assert best is not None and _iou(best.box, d.box) >= 0.7, (path.name, d, best)
            errors.append(np.abs(np.array(best.box) - np.array(d.box)).max())
    return errors


@pytest.fixture(scope="module")
def symmetric_qdq(tmp_path_factory, tiny_onnx, synth_data):
    from yolor_cfg.workflows.train.data import DataConfig, build_index

    images = build_index(DataConfig.load(synth_data), "train").images
    out = tmp_path_factory.mktemp("engine_qdq") / "int8.onnx"
    report = tensorrt_qdq(tiny_onnx, out, calibration_batches(images, (256, 256), 48, 1))
    return out, report


def test_qdq_onnx_is_symmetric_int8_at_the_convolutions(symmetric_qdq):
    out, report = symmetric_qdq
    proto = onnx.load(str(out))
    init = {i.name: i for i in proto.graph.initializer}
    qdq = [n for n in proto.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert len(qdq) > 20
    for node in qdq:
        assert len(node.input) == 3, node.name  # without a zero point, QuantizeLinear would make uint8
        zero = init[node.input[2]]
        assert zero.data_type == TensorProto.INT8, node.name  # signed, as TensorRT reads Q/DQ
        assert not onnx.numpy_helper.to_array(zero).any(), node.name  # symmetric: zero points 0
    producer = {v: n for n in proto.graph.node for v in n.output}
    readers: dict[str, set[str]] = {}
    for n in proto.graph.node:
        for v in n.input:
            readers.setdefault(v, set()).add(n.op_type)
    # pairs only where a convolution reads (TensorRT fuses them into it; other readers of the same value share it)
    assert all("Conv" in readers[n.output[0]] for n in qdq if n.op_type == "DequantizeLinear")
    dq_readers = set().union(*(readers[n.output[0]] for n in qdq if n.op_type == "DequantizeLinear"))
    assert not dq_readers & {"Sigmoid", "LeakyRelu", "Relu"}  # activations read the convolutions' float outputs
    assert not [i for i in proto.graph.initializer if i.data_type == TensorProto.INT32]  # biases stay float
    float_convs = [n.name for n in proto.graph.node if n.op_type == "Conv"
                   and getattr(producer.get(n.input[1]), "op_type", None) != "DequantizeLinear"]
    assert sorted(n for n, why in report.kept_float.items() if why == REASON_CONV) == sorted(float_convs)
    assert len(float_convs) == 2  # the final convolution of each of yolor_tiny's two heads
    assert {p.key: p.value for p in proto.metadata_props}["precision"] == "int8"
    assert "symmetric int8" in report.format() and report.runtime == "tensorrt"


def test_qdq_onnx_detects_what_the_float_model_does(symmetric_qdq, trained_weights, synth_data):
    """Run by onnxruntime (whose int8 arithmetic stands in for TensorRT's here), every confident float
    detection is found again and the typical box moves by about a pixel, as onnxruntime's own INT8 does
    (test_int8.py)."""
    out, _ = symmetric_qdq
    errors = _box_errors(Predictor(api.load(trained_weights)), Predictor(open_artifact(out)), synth_data)
    assert len(errors) >= 40
    assert np.median(errors) <= 1.5 and np.percentile(errors, 90) <= 4.0, np.percentile(errors, [50, 90, 100])


# ---- on a CUDA GPU with TensorRT ----

@pytest.fixture(scope="module")
def trt():
    if not torch.cuda.is_available():
        pytest.skip("TensorRT engines are built and run on a CUDA GPU")
    return pytest.importorskip("tensorrt")


@on_gpu
@pytest.mark.parametrize("half", [False, True])
def test_engine_export_matches_pytorch(trt, tmp_path, trained_weights, half):
    model = api.load(trained_weights)
    out = tmp_path / "tiny_engine"
    report = api.export(model, out, format="engine", dynamic=True, half=half)
    tol = 1e-2 if half else 1e-4
    assert report.runtime == "tensorrt" and [b for b, _ in report.parity] == [1, 3]
    assert report.tolerance == tol and all(err <= tol for _, err in report.parity)
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "tiny.engine"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["tensorrt"] == trt.__version__ and meta["precision"] == ("fp16" if half else "fp32")
    assert meta["format"] == "engine" and json.loads(meta["batch_profile"]) == [1, 1, 16]
    runtime = open_artifact(out)
    assert isinstance(runtime, TensorRtRuntime) and not runtime.fixed_batch and runtime.max_batch == 16
    assert runtime.info.names == ["circle", "square", "triangle"] and runtime.info.input_size == (256, 256)
    x = torch.rand(20, 3, 256, 256, generator=torch.Generator().manual_seed(3))  # 20 > 16: run in two chunks
    with torch.no_grad():
        ref = model.eval()(x)[0]
    got = runtime(x).detections
    assert float(((got - ref).abs() / ref.abs().clamp(min=1)).max()) <= tol


@on_gpu
def test_static_batch_engine_runs_any_batch(trt, tmp_path, trained_weights):
    out = tmp_path / "b2_engine"
    api.export(api.load(trained_weights), out, format="engine", batch=2)
    runtime = open_artifact(out)
    assert runtime.fixed_batch and runtime.max_batch == 2
    assert json.loads(json.loads((out / "metadata.json").read_text())["batch_profile"]) == [2, 2, 2]
    assert runtime(torch.rand(3, 3, 256, 256)).detections.shape[0] == 3  # two batches, the second padded


@on_gpu
def test_engine_nms_rows_match_our_onnx_nms(trt, tmp_path, trained_weights, synth_data):
    model = api.load(trained_weights)
    thresholds = dict(conf=0.3, iou=0.5, max_det=20)
    api.export(model, tmp_path / "nms_engine", format="engine", nms=True, dynamic=True, **thresholds)
    api.export(model, tmp_path / "nms.onnx", nms=True, dynamic=True, **thresholds)
    engine, ours = open_artifact(tmp_path / "nms_engine"), open_artifact(tmp_path / "nms.onnx")
    assert engine.info.output == "nms" and engine.info.nms_thresholds == thresholds
    x = np.concatenate(calibration_inputs(sorted((synth_data.parent / "images" / "val").glob("*.png")), (256, 256), 8))
    got, expect = engine(x).nms_rows.numpy(), ours(x).nms_rows.numpy()
    assert len(expect) and got.shape == expect.shape
    np.testing.assert_array_equal(got[:, [0, 6]], expect[:, [0, 6]])
    np.testing.assert_allclose(got[:, 1:6], expect[:, 1:6], rtol=1e-4, atol=1e-3)


@on_gpu
def test_engine_int8_export_keeps_the_guard(trt, tmp_path, trained_weights, synth_data):
    out = tmp_path / "tiny_int8_engine"
    report = api.export(TINY_CFG, out, weights=trained_weights, format="engine", int8=True, data=str(synth_data),
                        calib=48, dynamic=True, log=lambda *a: None)
    assert report.guard.passed and report.int8_metrics["AP50"] > 0.5
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "tiny_int8.engine"]  # no ONNX by-products
    runtime = open_artifact(out)
    assert runtime.info.precision == "int8" and "TensorRT" in runtime.kernels()
    errors = _box_errors(Predictor(api.load(trained_weights)), Predictor(runtime), synth_data)
    assert len(errors) >= 40 and np.median(errors) <= 1.5, np.percentile(errors, [50, 90, 100])
