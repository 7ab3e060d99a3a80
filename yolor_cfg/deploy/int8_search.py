"""Accuracy-aware INT8: when a quantized model misses its accuracy budget, find the activations whose
quantization hurts most and keep the fewest of them in float until the budget is met.

Ranking. Every quantized activation (a QuantizeLinear/DequantizeLinear pair in ONNX, a FakeQuantize
in OpenVINO) is scored by its signal-to-quantization-noise ratio, SQNR = 20 log10(|x| / |x - q(x)|),
per channel and averaged, over a few calibration images, x being the value before and q(x) after
its quantization in the quantized model itself (read as extra model outputs, in onnxruntime with
graph optimizations off so that every pair stays, and in OpenVINO). A low SQNR is an activation whose
range the 8-bit grid covers badly, e.g. one channel far larger than the rest. Keeping it float means leaving
its producer and the nodes that read it unquantized.

Search. The top-k of that ranking are kept float for k = 1, 2, 4, ... until the accuracy guard
passes, then k is bisected down to the fewest that pass. Each try is a whole quantization and a run
of the accuracy guard, because SQNR ranks but does not predict mAP."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RANKING_IMAGES = 8  # calibration images the ranking runs on (all activations of each are held at once)
SQNR_CAP_DB = 60.0  # above 8-bit's best (about 50 dB for a uniform signal): "no measurable loss"
REASON_SEARCH = "sensitivity search (quantizing it cost accuracy)"


@dataclass
class Sensitivity:
    """One quantized activation and what keeping it float means."""
    value: str  # the activation's name in the graph
    nodes: list[str]  # its producer and the quantized nodes reading it: kept float together
    sqnr_db: float
    macs: int = 0  # convolution multiply-adds among ``nodes``, per image

    def describe(self, total_macs: int) -> str:
        share = f"{100 * self.macs / total_macs:.1f}% of the convolution work" if total_macs else "no convolution"
        return f"{self.value}: SQNR {self.sqnr_db:.1f} dB; float: {', '.join(self.nodes)} ({share})"


def channel_sqnr_db(before: list[np.ndarray], after: list[np.ndarray]) -> float:
    """Mean over channels (axis 1) of each channel's SQNR in dB, over a list of batches.

    Per channel, because activations are quantized per tensor: one channel with a huge range sets the
    step for all, and the others are rounded to a level or two. A whole-tensor SQNR would not see it
    (the huge channel dominates both norms); the mean of per-channel SQNRs does. Each channel counts
    at most ``SQNR_CAP_DB``, so that one exactly representable channel cannot outweigh the rest."""
    x = np.concatenate([np.asarray(b, np.float64) for b in before])
    y = np.concatenate([np.asarray(a, np.float64) for a in after])
    if x.ndim < 2:
        x, y = x.reshape(-1, 1), y.reshape(-1, 1)
    axes = tuple(k for k in range(x.ndim) if k != 1)
    eps = np.finfo(np.float32).eps
    signal = np.maximum(np.sqrt((x ** 2).sum(axis=axes)), eps)
    noise = np.maximum(np.sqrt(((x - y) ** 2).sum(axis=axes)), eps)
    return float(np.mean(np.minimum(20 * np.log10(signal / noise), SQNR_CAP_DB)))


def conv_macs(proto) -> dict[str, int]:
    """Multiply-adds per image of each Conv node of an ONNX model (its shapes inferred)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    weights = {init.name: list(init.dims) for init in proto.graph.initializer}
    macs = {}
    for node in proto.graph.node:
        out = shapes.get(node.output[0], [])
        if node.op_type == "Conv" and node.input[1] in weights and len(out) == 4 and all(out[1:]):
            macs[node.name] = int(np.prod(out[1:]) * np.prod(weights[node.input[1]][1:]))
    return macs


def onnx_ranking(prepared_float, quantized_onnx: str | Path, inputs: list[np.ndarray]) -> list[Sensitivity]:
    """The quantized activations of a QDQ model, worst SQNR first. ``prepared_float`` is the float proto
    it was quantized from (for the convolutions' sizes)."""
    import onnx
    from .runtimes.onnx import open_onnx_session

    proto = onnx.load(str(quantized_onnx))
    producer = {out: node.name for node in proto.graph.node for out in node.output}
    readers: dict[str, list[str]] = {}
    for node in proto.graph.node:
        for value in node.input:
            readers.setdefault(value, []).append(node.name)
    quantizes = {node.output[0]: node.input[0] for node in proto.graph.node if node.op_type == "QuantizeLinear"}
    dequantized: dict[str, list[str]] = {}  # float value -> the outputs of its DequantizeLinear nodes
    for node in proto.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in quantizes:
            dequantized.setdefault(quantizes[node.input[0]], []).append(node.output[0])
    probes = sorted(dequantized)
    # each activation before its quantization and after it, as extra graph outputs
    outputs = [n for value in probes for n in (value, dequantized[value][0])]
    proto.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in outputs)
    session = open_onnx_session(proto, optimize=False)  # every Q/DQ pair kept
    name = session.get_inputs()[0].name
    collected = [session.run(outputs, {name: x}) for x in inputs[:RANKING_IMAGES]]
    macs = conv_macs(prepared_float)
    ranking = []
    for k, value in enumerate(probes):
        nodes = [producer[value]] if value in producer else []
        nodes += sorted({r for out in dequantized[value] for r in readers.get(out, [])})
        score = channel_sqnr_db([c[2 * k] for c in collected], [c[2 * k + 1] for c in collected])
        ranking.append(Sensitivity(value, nodes, score, sum(macs.get(n, 0) for n in nodes)))
    return sorted(ranking, key=lambda s: s.sqnr_db)


def openvino_ranking(quantized_xml: str | Path, inputs: list[np.ndarray]) -> list[Sensitivity]:
    """The activation FakeQuantize ops of an NNCF-quantized IR, worst SQNR first."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(quantized_xml))
    probes = [op for op in model.get_ordered_ops()  # activation FakeQuantize ops (not weights')
              if op.get_type_name() == "FakeQuantize" and op.input_value(0).get_node().get_type_name() != "Constant"]
    if not probes:
        return []
    extra = model.add_outputs([o for op in probes for o in (op.input_value(0), op.output(0))])
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    collected: list[list[np.ndarray]] = [[] for _ in extra]
    for x in inputs[:RANKING_IMAGES]:
        results = request.infer({0: x})
        for k, port in enumerate(compiled.outputs[-len(extra):]):
            collected[k].append(np.array(results[port]))
    ranking = []
    for k, op in enumerate(probes):
        source = op.input_value(0).get_node()
        nodes = [source.get_friendly_name()] + sorted(t.get_node().get_friendly_name()
                                                       for t in op.output(0).get_target_inputs())
        macs = sum(_openvino_macs(t.get_node()) for t in op.output(0).get_target_inputs()) + _openvino_macs(source)
        ranking.append(Sensitivity(source.get_friendly_name(), nodes,
                                   channel_sqnr_db(collected[2 * k], collected[2 * k + 1]), macs))
    return sorted(ranking, key=lambda s: s.sqnr_db)


def _openvino_macs(op) -> int:
    kind = op.get_type_name()
    if kind not in ("Convolution", "GroupConvolution"):
        return 0
    out, weights = op.get_output_partial_shape(0), op.get_input_partial_shape(1)
    if not (out.is_static or all(d.is_static for d in list(out)[1:])) or not weights.is_static:
        return 0
    out_dims = [d.get_length() for d in list(out)[1:]]
    w = [d.get_length() for d in weights]
    return int(np.prod(out_dims) * np.prod(w[2:] if kind == "GroupConvolution" else w[1:]))


def openvino_macs(xml: Path) -> int:
    """Convolution multiply-adds per image of a float OpenVINO IR."""
    import openvino as ov

    return sum(_openvino_macs(op) for op in ov.Core().read_model(str(xml)).get_ordered_ops())


@dataclass
class Attempt:
    kept: int  # how many of the ranking were kept float
    drop: float  # mAP@0.5 points lost
    passed: bool
    path: Path


def fewest_passing(count: int, attempt: Callable[[int], Attempt], log=print) -> tuple[Attempt | None, list[Attempt]]:
    """The smallest k in 1..count whose ``attempt(k)`` passes: k doubles until one passes, then is bisected
    between the last failure and the first pass (assuming that keeping more float never hurts, which
    the ranking makes likely but does not guarantee). Returns (the passing attempt or None, every try)."""
    tries: dict[int, Attempt] = {}

    def run(k: int) -> Attempt:
        if k not in tries:
            tries[k] = attempt(k)
            log(f"  search: {k} kept float -> mAP@0.5 drop {tries[k].drop:+.2f} pt: "
                f"{'ok' if tries[k].passed else 'not yet'}")
        return tries[k]

    if count == 0:
        return None, []
    low, k = 0, 1
    while not run(min(k, count)).passed:
        if k >= count:
            return None, list(tries.values())
        low, k = k, 2 * k
    high = min(k, count)
    while high - low > 1:
        mid = (low + high) // 2
        if run(mid).passed:
            high = mid
        else:
            low = mid
    return tries[high], list(tries.values())
