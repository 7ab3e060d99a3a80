"""Benchmark: would onnxruntime's INT8 kernel for CPUs without VNNI saturate on this model?

    python tools/int8_saturation.py [--weights runs/demo/weights/best.pt] [--images 8]

Without VNNI, onnxruntime's MLAS multiplies uint8 activations by int8 weights with VPMADDUBSW, which
adds each two neighbouring products into a signed 16-bit lane and saturates there: with full-range
weights a pair can reach 2 x 255 x 127 = 64770, twice the lane. With reduce_range (7-bit weights,
at most 2 x 255 x 63 = 32130) it cannot. A VNNI CPU never saturates, so this cannot be observed on
one: this tool replays the integer arithmetic instead. It quantizes the model with full-range int8
weights, runs it on calibration images, and for every quantized convolution forms the products in
the order of onnxruntime's NHWC im2col (kernel row, kernel column, channel; neighbours paired),
counts the pairs beyond the 16-bit range and recomputes the convolution with them clipped, as a
relative error of the layer's output. Depthwise convolutions (another kernel) are left out."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
from yolor_cfg.deploy.runtimes.onnx import open_onnx_session
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from yolor_cfg import api
from yolor_cfg.core import cpu
from yolor_cfg.deploy.formats import ExportOptions, export_onnx
from yolor_cfg.deploy.int8 import OnnxQuantOptions, calibration_batches, quantize_onnx
from yolor_cfg.workflows.train.data import DataConfig, build_index
from yolor_cfg.workflows.train.synth import ensure_synth

TRAINED = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "trained" / "yolor_tiny_synth.pt"
INT16 = 32767


def quantized_convs(proto):
    """(conv node, quantized input value, its zero point, int8 weights) for each QDQ convolution."""
    init = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    made_by = {out: node for node in proto.graph.node for out in node.output}
    found = []
    for node in proto.graph.node:
        if node.op_type != "Conv":
            continue
        x_dq, w_dq = made_by.get(node.input[0]), made_by.get(node.input[1])
        if not (x_dq and w_dq and x_dq.op_type == w_dq.op_type == "DequantizeLinear"):
            continue
        weights = init.get(w_dq.input[0])
        if weights is None or weights.dtype != np.int8:
            continue
        found.append((node, x_dq.input[0], int(init[x_dq.input[2]]), weights))
    return found


def replay(node, x_q: np.ndarray, zero_point: int, weights: np.ndarray) -> tuple[int, int, float]:
    """(pairs formed, pairs beyond int16, relative output error) of one convolution on one input."""
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    group = attrs.get("group", 1)
    kh, kw = weights.shape[2:]
    pads = attrs.get("pads", [0, 0, 0, 0])
    x = F.pad(torch.from_numpy(x_q.astype(np.float64)), (pads[1], pads[3], pads[0], pads[2]), value=zero_point)
    cols = F.unfold(x, (kh, kw), dilation=attrs.get("dilations", [1, 1]), stride=attrs.get("strides", [1, 1]))[0]
    c_in = x.shape[1] // group
    if c_in == 1 and group > 1:
        return 0, 0, 0.0
    pairs = saturated = 0
    errors, signal = 0.0, 0.0
    for g in range(group):
        a = cols[g * c_in * kh * kw:(g + 1) * c_in * kh * kw].reshape(c_in, kh * kw, -1).permute(1, 0, 2)
        a = a.reshape(kh * kw * c_in, -1).numpy().astype(np.int32)  # K ordered (row, column, channel)
        w = weights[g * (weights.shape[0] // group):(g + 1) * (weights.shape[0] // group)]
        w = w.transpose(0, 2, 3, 1).reshape(w.shape[0], -1).astype(np.int32)
        if a.shape[0] % 2:
            a, w = np.pad(a, ((0, 1), (0, 0))), np.pad(w, ((0, 0), (0, 1)))
        for start in range(0, a.shape[1], 256):
            block = a[:, start:start + 256]
            pair = w[:, 0::2, None] * block[None, 0::2] + w[:, 1::2, None] * block[None, 1::2]
            exact = pair.sum(1, dtype=np.int64) - zero_point * w.sum(1, dtype=np.int64)[:, None]
            clipped = np.clip(pair, -INT16 - 1, INT16).sum(1, dtype=np.int64) - zero_point * w.sum(1, dtype=np.int64)[:, None]
            pairs += pair.size
            saturated += int((np.abs(pair) > INT16).sum())
            errors += float(((clipped - exact).astype(np.float64) ** 2).sum())
            signal += float((exact.astype(np.float64) ** 2).sum())
    return pairs, saturated, (errors / signal) ** 0.5 if signal else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=str(TRAINED), help="one of our checkpoints (it carries its cfg)")
    ap.add_argument("--images", type=int, default=8)
    args = ap.parse_args()
    print(f"CPU: {cpu.describe()} (the replay does not depend on it)")
    data_config = DataConfig.load(ensure_synth())
    model = api.load(args.weights)
    size = model.graph.net.height
    inputs = calibration_batches(build_index(data_config, "train").images, (size, size), 300, 1)
    with tempfile.TemporaryDirectory() as scratch:
        float_onnx, q_onnx = Path(scratch) / "f.onnx", Path(scratch) / "q.onnx"
        export_onnx(model, float_onnx, ExportOptions(dynamic=True))
        quantize_onnx(float_onnx, q_onnx, inputs, OnnxQuantOptions(reduce_range=False))
        proto = onnx.load(str(q_onnx))
    convs = quantized_convs(proto)
    wanted = sorted({value for _, value, _, _ in convs})
    proto.graph.output.extend(onnx.helper.make_tensor_value_info(v, onnx.TensorProto.UINT8, None) for v in wanted)
    session = open_onnx_session(proto, optimize=False)
    totals = {node.name: [0, 0, []] for node, *_ in convs}
    for x in inputs[:args.images]:
        values = dict(zip(wanted, session.run(wanted, {session.get_inputs()[0].name: x})))
        for node, value, zero_point, weights in convs:
            pairs, saturated, error = replay(node, values[value], zero_point, weights)
            totals[node.name][0] += pairs
            totals[node.name][1] += saturated
            totals[node.name][2].append(error)
    print("\n| convolution | pairs beyond int16 | output error (relative RMS) |\n| --- | --- | --- |")
    all_pairs = all_saturated = 0
    for name, (pairs, saturated, errors) in totals.items():
        all_pairs, all_saturated = all_pairs + pairs, all_saturated + saturated
        if pairs:
            print(f"| {name} | {100 * saturated / pairs:.4f}% | {np.mean(errors):.2e} |")
    print(f"\n{len(totals)} quantized convolutions, {args.images} images: {all_saturated} of {all_pairs} pairs "
          f"({100 * all_saturated / max(all_pairs, 1):.4f}%) would saturate without VNNI at full 8-bit weights")


if __name__ == "__main__":
    main()
