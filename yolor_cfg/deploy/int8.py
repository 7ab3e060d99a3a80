"""Post-training INT8 quantization of an exported model: onnxruntime QDQ or OpenVINO via NNCF,
calibrated on letterboxed images, with the head's final convolutions and its decoding kept float.

Why keep them float: a [yolo] head's decoding turns one tensor into box centres and sizes in input
pixels (up to the image size) and probabilities in 0..1; quantized with one scale, the probabilities
would get a step of several hundredths and the boxes a step of pixels. The final prediction
convolution feeds that tensor directly, so it stays float too (its output range is what decoding
reads)."""
from __future__ import annotations

import contextlib
import json
import logging
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..core import cpu
from ..core.checks import UsageError
from ..core.choices import INT8_CALIBRATION_METHODS
from ..core.errors import YolorCfgError
from ..core.images import letterbox
from .runtimes.openvino import METADATA_KEY, read_metadata, require_openvino

PREDICTION_OUTPUTS = "prediction_outputs"  # metadata key: the values the heads read (set by export)
CONV_TYPES = {"Conv", "Convolution", "GroupConvolution"}
REASON_CONV = "final prediction convolution (feeds the head's decoding)"
REASON_BETWEEN = "bias or implicit op of a final prediction convolution"
REASON_DECODE = "head decoding (boxes in pixels and probabilities must not share one scale)"


class QuantizationError(YolorCfgError):
    """INT8 quantization could not be done."""


def calibration_inputs(paths: list[str | Path], size: tuple[int, int], count: int) -> list[np.ndarray]:
    """Up to ``count`` images, letterboxed as detect letterboxes them (1 x 3 x H x W, RGB, 0..1)."""
    batches = []
    for path in paths[:count]:
        image = cv2.imread(str(path))
        if image is None:
            raise UsageError(f"{path}: a calibration image OpenCV cannot read")
        padded, _, _ = letterbox(image, size, scaleup=True)
        batches.append(np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255)
    if not batches:
        raise UsageError("no calibration images: the data's train split is empty")
    return batches


def sample_paths(paths: list[str], count: int, seed: int = 0) -> list[str]:
    """``count`` of ``paths`` drawn without replacement by a seeded generator (all when fewer)."""
    if len(paths) <= count:
        return list(paths)
    chosen = np.random.default_rng(seed).choice(len(paths), count, replace=False)
    return [paths[i] for i in sorted(chosen)]


def calibration_batches(paths: list[str | Path], size: tuple[int, int], count: int, batch: int) -> list[np.ndarray]:
    """``count`` images drawn from ``paths`` (seeded), letterboxed, grouped into batches of ``batch``
    (the exported model's batch; 1 for a dynamic one); a remainder smaller than a batch is left out."""
    inputs = calibration_inputs(sample_paths(paths, count), size, count)
    batches = [np.concatenate(inputs[i:i + batch]) for i in range(0, len(inputs) - batch + 1, batch)]
    if not batches:
        raise UsageError(f"--calib {count}: fewer calibration images than one batch of {batch} (the export's "
                         "fixed batch); give more, or export with --dynamic")
    return batches


@dataclass
class GraphNode:
    """The little a float-region search needs of an ONNX node or an OpenVINO op."""
    name: str
    op: str
    inputs: list[str]  # values computed by other nodes (constants and weights left out)
    outputs: list[str]


def float_region(nodes: list[GraphNode], seeds: set[str]) -> dict[str, str]:
    """Node name -> why it stays float: the producers of the values heads read (back through
    constant-operand elementwise ops to the convolution), and everything computed from those values."""
    producer = {out: node for node in nodes for out in node.outputs}
    region: dict[str, str] = {}
    for seed in seeds:
        node = producer.get(seed)
        while node is not None and node.name not in region:
            if node.op in CONV_TYPES:
                region[node.name] = REASON_CONV
                break
            if len(node.inputs) != 1:
                break  # the head reads a route/shortcut, not a convolution: nothing to keep float here
            region[node.name] = REASON_BETWEEN
            node = producer.get(node.inputs[0])
    readers: dict[str, list[GraphNode]] = {}
    for node in nodes:
        for value in node.inputs:
            readers.setdefault(value, []).append(node)
    stack = list(seeds)
    while stack:
        for node in readers.get(stack.pop(), []):
            if node.name not in region:
                region[node.name] = REASON_DECODE
                stack.extend(node.outputs)
    return region


@dataclass
class QuantizeReport:
    path: str
    runtime: str
    calibration_images: int
    kept_float: dict[str, str]  # node name -> reason
    op_types: dict[str, str]  # node name -> op type (for the summary)
    notes: list[str] = field(default_factory=list)
    float_metrics: dict | None = None
    int8_metrics: dict | None = None
    guard: object = None  # deploy.GuardResult, once the accuracy guard ran
    search: list[str] = field(default_factory=list)  # activations the sensitivity search kept float
    search_tries: list[tuple[int, float, bool]] = field(default_factory=list)  # (kept float, drop, passed)
    latency_ms: dict[str, float] = field(default_factory=dict)  # batch-1 latency of float and INT8, this CPU
    kernels: str = ""  # the INT8 artifact's code path on this CPU (Runtime.kernels)
    embedding_cosine: float | None = None  # a tracking model's INT8 embeddings against float's

    def kept_float_summary(self) -> list[str]:
        by_reason: dict[str, Counter] = {}
        for name, reason in self.kept_float.items():
            by_reason.setdefault(reason, Counter())[self.op_types.get(name, "?")] += 1
        return [f"{sum(c.values())} nodes: {reason} ({', '.join(f'{op} {n}' for op, n in c.most_common())})"
                for reason, c in by_reason.items()]

    def format(self) -> str:
        lines = [f"{self.runtime} INT8 for {self.path}, calibrated on {self.calibration_images} images"]
        lines += self.notes
        lines += ["kept float: " + line for line in self.kept_float_summary()]
        return "\n".join(lines)

    def search_summary(self) -> str:
        lines = [f"sensitivity search kept {len(self.search)} activations float:"]
        lines += [f"  {line}" for line in self.search]
        lines.append("  tries: " + ", ".join(f"{k} float {d:+.2f} pt{' ok' if ok else ''}"
                                             for k, d, ok in self.search_tries))
        return "\n".join(lines)

    def speed_summary(self) -> str:
        ms = self.latency_ms
        if "float" not in ms:
            return ""
        return (f"INT8 kernels here: {self.kernels}\nlatency at batch 1 on this CPU: " + ", ".join(
            f"{name} {value:.2f} ms ({ms['float'] / value:.2f}x float)" for name, value in ms.items()))


def _onnx_nodes(graph) -> list[GraphNode]:
    constants = {init.name for init in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    return [GraphNode(node.name, node.op_type, [v for v in node.input if v and v not in constants], list(node.output))
            for node in graph.node]


CALIBRATION_CHUNK = 2  # calibration images whose activations are held at once


class _Reader:
    """onnxruntime's calibration reader protocol over a list of inputs, read in ranges
    (``set_range``): onnxruntime then collects statistics a range at a time instead of holding every
    activation of every calibration image (about 1.5 GB an image for yolor_p6 at 640)."""

    def __init__(self, name: str, inputs: list[np.ndarray]):
        self.name, self.inputs = name, inputs
        self.set_range(0, len(inputs))

    def __len__(self) -> int:
        return len(self.inputs)

    def set_range(self, start_index: int, end_index: int) -> None:
        self.items = iter(self.inputs[start_index:end_index])

    def get_next(self):
        x = next(self.items, None)
        return None if x is None else {self.name: x}

    def rewind(self):
        raise QuantizationError("calibration was asked to read its images twice")


def calibration_stride(count: int, chunk: int = CALIBRATION_CHUNK) -> int:
    """The largest divisor of ``count`` up to ``chunk`` (onnxruntime's strided calibration needs one)."""
    return max(d for d in range(1, min(chunk, count) + 1) if count % d == 0)


CALIBRATION_METHODS = INT8_CALIBRATION_METHODS
WEIGHT_TYPES = ("s8", "u8")


@dataclass(frozen=True)
class OnnxQuantOptions:
    """onnxruntime's static-quantization choices (tools/int8_options.py measures them; docs/int8.md).

    ``None`` means the default for this CPU, chosen from those measurements:
    - ``reduce_range``: on where the CPU has no VNNI. There onnxruntime's u8 x s8 kernel multiplies with
      VPMADDUBSW, which adds two 8-bit products into 16 bits and saturates (tools/int8_saturation.py
      counts it on our models: the first convolution, reading image pixels, saturates); 7-bit weights
      cannot. ``weights="u8"`` takes another kernel (no saturation) at full range, but slower.
    - ``calibration``: min-max with VNNI; with 7-bit weights percentile (99.999%), which gave back
      about half of what the lost weight bit cost on the demo's model (-0.80 instead of -1.65 points).
      ``entropy`` is offered; it measured between the two (docs/int8.md)."""
    calibration: str | None = None
    weights: str = "s8"
    reduce_range: bool | None = None
    per_channel: bool = True

    def __post_init__(self):
        if self.calibration is not None and self.calibration not in CALIBRATION_METHODS:
            raise UsageError(f"--int8-calibration {self.calibration!r}: choose from {', '.join(CALIBRATION_METHODS)}")
        if self.weights not in WEIGHT_TYPES:
            raise UsageError(f"weight type {self.weights!r}: choose from {', '.join(WEIGHT_TYPES)}")

    def resolved_reduce_range(self) -> bool:
        return (self.weights == "s8" and not cpu.has_vnni()) if self.reduce_range is None else self.reduce_range

    def resolved_calibration(self) -> str:
        if self.calibration is not None:
            return self.calibration
        return "percentile" if self.resolved_reduce_range() else "minmax"

    def describe(self) -> str:
        weights = "7-bit" if self.resolved_reduce_range() else "8-bit"
        why = ""
        if self.reduce_range is None and self.weights == "s8":
            why = (" (no VNNI on this CPU: 16-bit pair sums must not saturate)" if self.resolved_reduce_range()
                   else " (VNNI/AMX on this CPU)")
        granularity = "per-channel" if self.per_channel else "per-tensor"
        chosen = " (this CPU's default)" if self.calibration is None else ""
        return (f"QDQ, {granularity} {weights} {'int8' if self.weights == 's8' else 'uint8'} weights{why}, "
                f"uint8 activations, {self.resolved_calibration()} calibration{chosen}")


def quantize_onnx(float_onnx: str | Path, out: str | Path, inputs: list[np.ndarray],
                  options: OnnxQuantOptions = OnnxQuantOptions(), keep_head_float: bool = True,
                  keep_float: dict[str, str] | None = None, calibration_cache: Path | None = None,
                  for_tensorrt: bool = False) -> QuantizeReport:
    """Static QDQ quantization of an ONNX file written by export, after onnxruntime's ``quant_pre_process``;
    written to ``out`` (the caller writes atomically). The heads stay float (``keep_head_float=False``
    quantizes them too, to measure what that buys: tools/int8_accuracy.py); ``keep_float`` names more
    nodes to leave float, with the reason (the sensitivity search's choice). ``calibration_cache``: a
    file (made on first use) to keep the calibration ranges in, for quantizing the same model again.

    ``for_tensorrt``: the Q/DQ graph TensorRT's explicit quantization builds from instead: signed int8
    with zero points 0 (its quantization is symmetric), full-range per-channel weights, biases left float
    (it dequantizes int8, not onnxruntime's int32 biases), and only the inputs of weighted ops quantized,
    not their outputs (TensorRT fuses each Q/DQ pair into the convolution that reads it, and a convolution
    with its activation and the next quantization)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[options.resolved_calibration()]
    reduce_range = options.resolved_reduce_range()
    with tempfile.TemporaryDirectory() as scratch:
        pre = Path(scratch) / "pre.onnx"
        proto = prepare_for_quantization(float_onnx, pre)
        meta = {p.key: p.value for p in proto.metadata_props}
        seeds = set(json.loads(meta.get(PREDICTION_OUTPUTS, "[]"))) if keep_head_float else set()
        region = float_region(_onnx_nodes(proto.graph), seeds)
        region.update({name: why for name, why in (keep_float or {}).items() if name not in region})
        notes = [options.describe()]

        scheme = dict(per_channel=options.per_channel, reduce_range=reduce_range, activation_type=QuantType.QUInt8,
                      weight_type=QuantType.QInt8 if options.weights == "s8" else QuantType.QUInt8)
        extra = {"CalibStridedMinMax": calibration_stride(len(inputs))}
        if for_tensorrt:
            weighted = ["Conv", "ConvTranspose", "MatMul", "Gemm"]
            scheme = dict(per_channel=True, reduce_range=False, activation_type=QuantType.QInt8,
                          weight_type=QuantType.QInt8, op_types_to_quantize=weighted)
            extra |= {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                      "OpTypesToExcludeOutputQuantization": weighted}
            notes = [f"explicit quantization (Q/DQ by onnxruntime, {options.resolved_calibration()} calibration): "
                     "symmetric int8 activations and per-channel weights at the convolutions' inputs, float biases"]

        def run(calibrate_method):
            with contextlib.redirect_stdout(sys.stderr):  # calibrators may print progress: never on a --json stdout
                quantize_static(str(pre), str(out), _Reader(proto.graph.input[0].name, inputs), quant_format=QuantFormat.QDQ,
                                nodes_to_exclude=sorted(region), calibrate_method=calibrate_method, extra_options=extra,
                                **scheme, **_cache_argument(calibration_cache, calibrate_method))

        try:
            run(method)
        except ValueError as exc:
            # numpy cannot bin a float32 tensor whose values all lie within a few ulps of a large value
            # (onnxruntime's histogram calibrators give up); min-max needs no histogram
            if method == CalibrationMethod.MinMax or "bins" not in str(exc):
                raise
            notes.append(f"{options.resolved_calibration()} calibration failed on a near-constant activation "
                         f"({exc}); min-max calibration used instead")
            run(CalibrationMethod.MinMax)
    quantized = onnx.load(str(out))
    _set_metadata(quantized, {"precision": "int8"})
    onnx.save(quantized, str(out))
    return QuantizeReport(str(out), "tensorrt" if for_tensorrt else "onnxruntime", sum(len(x) for x in inputs), region,
                          {n.name: n.op_type for n in proto.graph.node}, notes)


def _cache_argument(path: Path | None, method) -> dict:
    """onnxruntime's calibration cache, where its version has one: ranges computed once serve every later
    quantization of the same model with the same method (the sensitivity search's tries)."""
    import inspect

    from onnxruntime.quantization import quantize_static

    if path is None or "calibration_cache_path" not in inspect.signature(quantize_static).parameters:
        return {}
    return {"calibration_cache_path": str(Path(path).with_name(f"{Path(path).stem}.{method.name.lower()}.json"))}


def prepare_for_quantization(float_onnx: str | Path, out: Path):
    """onnxruntime's ``quant_pre_process`` into ``out``, every node named; returns the proto."""
    import onnx
    from onnxruntime.quantization import quant_pre_process

    # onnxruntime's symbolic shape inference stops at dynamic batch sizes; ONNX's own is enough here
    quant_pre_process(str(float_onnx), str(out), skip_symbolic_shape=True)
    proto = onnx.load(str(out))
    for k, node in enumerate(proto.graph.node):
        node.name = node.name or f"{node.op_type}_{k}"
    onnx.save(proto, str(out))
    return proto


def _set_metadata(proto, values: dict[str, str]) -> None:
    keep = [p for p in proto.metadata_props if p.key not in values]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    import onnx

    for key, value in values.items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))


def _openvino_nodes(model) -> tuple[list[GraphNode], dict[str, str]]:
    """GraphNodes of an OpenVINO model, values named ``op:port``; and each tensor name's value."""
    nodes, values = [], {}
    for op in model.get_ordered_ops():
        name = op.get_friendly_name()
        inputs = [f"{v.get_node().get_friendly_name()}:{v.get_index()}" for v in op.input_values()
                  if v.get_node().get_type_name() != "Constant"]
        outputs = [f"{name}:{k}" for k in range(op.get_output_size())]
        for k in range(op.get_output_size()):
            for tensor_name in op.output(k).get_names():
                values[tensor_name] = outputs[k]
        nodes.append(GraphNode(name, op.get_type_name(), inputs, outputs))
    return nodes, values


def quantize_openvino(float_xml: str | Path, out_xml: str | Path, inputs: list[np.ndarray],
                      keep_float: dict[str, str] | None = None) -> QuantizeReport:
    """NNCF post-training quantization of an OpenVINO IR written by export (its metadata kept); the
    heads and the ops named in ``keep_float`` stay float."""
    ov = require_openvino()
    try:
        import nncf
    except ImportError:
        raise UsageError("NNCF is not installed: pip install 'yolor-cfg[openvino]'") from None
    nncf.set_log_level(logging.WARNING)  # export prints its own summary
    model = ov.Core().read_model(str(float_xml))
    nodes, values = _openvino_nodes(model)
    meta = read_metadata(model)
    seeds = {values[name] for name in json.loads(meta.get(PREDICTION_OUTPUTS, "[]")) if name in values}
    region = float_region([n for n in nodes if n.op not in ("Parameter", "Result")], seeds)
    region.update({name: why for name, why in (keep_float or {}).items() if name not in region})
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars: never on a --json stdout
        quantized = nncf.quantize(model, nncf.Dataset(inputs), subset_size=len(inputs),
                                  preset=nncf.QuantizationPreset.MIXED,
                                  ignored_scope=nncf.IgnoredScope(names=sorted(region), validate=False))
    quantized.set_rt_info("int8", [METADATA_KEY, "precision"])
    ov.save_model(quantized, str(out_xml), compress_to_fp16=False)
    return QuantizeReport(str(out_xml), "openvino", len(inputs), region, {n.name: n.op for n in nodes},
                          ["NNCF post-training quantization, mixed preset: symmetric int8 weights, asymmetric activations "
                           "(activations after SiLU / leaky ReLU are not centred on zero)"])
