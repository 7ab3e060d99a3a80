"""ONNX export that checks itself (onnx.checker, then onnxruntime against PyTorch): the graph every
export format starts from, and ``verify``'s layer-by-layer comparison."""
from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn

from ..core.checks import MAX_BATCH, img_size, int_in, opset, output_file, probability
from ..core.parity import max_error
from ..compiler.passes import FUSE_PIPELINE
from ..core.files import atomic_path
from .formats.base import ExportError, ExportOptions, ExportReport
from .nms import append_nms
from .runtimes.onnx import load_onnx_proto, open_onnx_session

OUTPUT = "detections"


class _Exported(nn.Module):
    """The model as exported: decoded detections (or raw heads), plus named layer outputs ("taps")
    that the exporter names ``layer_{cfg index}``; the taps are removed from the graph's outputs
    afterwards, so they cost nothing but keep their names for ``verify``."""

    def __init__(self, model, raw: bool, taps: list[int], head_inputs: bool = False):
        super().__init__()
        self.model, self.raw, self.taps, self.head_inputs = model, raw, taps, head_inputs

    def forward(self, x):
        outs, decoded, raw, aux = self.model.run_layers(x, keep_all=bool(self.taps) or self.head_inputs)
        main = tuple(raw) if self.raw or not decoded else (torch.cat(decoded, 1),)
        if decoded and not self.raw and not self.head_inputs:  # class scores, embeddings per detection
            main += tuple(self.model.inference_aux(aux, raw).values())
        if self.head_inputs:
            main = tuple(outs[i] for i in self.model.inference_head_inputs)
        if not self.model.heads:
            main = (outs[-1],)
        return main + tuple(outs[i] for i in self.taps)


def _tap_layers(model, x) -> list[int]:
    """Layers whose output is a new tensor (not an input passed on, not a parameter, not a head)."""
    with torch.no_grad():
        outs = model.trace(x)
    seen, taps = {id(x)}, []
    params = {id(p) for p in model.parameters()}
    for node, y in zip(model.graph.nodes, outs):
        if id(y) in seen or id(y) in params or node.spec.is_head or node.index == len(outs) - 1:
            continue
        seen.add(id(y))
        taps.append(node.index)
    return taps


def _remove_identities(graph: onnx.GraphProto) -> None:
    """Drop Identity nodes (the exporter adds them for deduplicated constants) by rewiring readers."""
    outputs = {o.name for o in graph.output}
    for node in [n for n in graph.node if n.op_type == "Identity" and n.output[0] not in outputs]:
        src, dst = node.input[0], node.output[0]
        for other in graph.node:
            for k, name in enumerate(other.input):
                if name == dst:
                    other.input[k] = src
        graph.node.remove(node)


def check_export_options(opts: ExportOptions) -> None:
    """The same checks as the command line's (UsageError)."""
    int_in(opts.batch, "export batch", 1, MAX_BATCH)
    opset(opts.opset)
    probability(opts.conf, "NMS confidence threshold (conf)")
    probability(opts.iou, "NMS IoU threshold (iou)")
    int_in(opts.max_det, "max detections (max_det)", 1, 100_000)
    if opts.img_size is not None:
        img_size(opts.img_size, "export input size")


def _output_names(exported, opts: ExportOptions) -> list[str]:
    if opts.head_inputs:
        return [f"head_input_{i}" for i in range(len(exported.inference_heads))]
    n_main = len(exported.inference_heads) if (opts.raw and exported.heads) else 1
    if n_main > 1 or opts.raw:
        return [f"raw_{i}" for i in range(n_main)]
    return [OUTPUT] + (exported.aux_outputs if exported.heads else [])


def _trace(exported, opts: ExportOptions, x: torch.Tensor, main_names: list[str], taps: list[int]) -> onnx.ModelProto:
    """The exported graph: traced with named layer outputs (kept as values, not outputs), Identities gone."""
    tap_names = [f"layer_{exported.graph.nodes[i].origin}" for i in taps]
    axes = {}
    if opts.dynamic or opts.dynamic_hw:
        axes["images"] = {0: "batch"} | ({2: "height", 3: "width"} if opts.dynamic_hw else {})
        for name in main_names:
            axes[name] = {0: "batch"}
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is what we want here
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = Path(scratch) / "traced.onnx"
        with torch.no_grad():
            torch.onnx.export(_Exported(exported, opts.raw, taps, opts.head_inputs).eval(), (x,), str(traced), dynamo=False,
                              opset_version=opts.opset, input_names=["images"], output_names=main_names + tap_names,
                              dynamic_axes=axes, do_constant_folding=True)
        proto = onnx.load(str(traced))
    del proto.graph.output[len(main_names):]  # the taps stay as named values inside the graph
    _remove_identities(proto.graph)
    return proto


def _metadata(model, exported, opts: ExportOptions, size: tuple[int, int], taps: list[int],
              names: list[str]) -> dict[str, str]:
    """What a runtime needs besides the graph: class names, strides, anchors, input size, layout."""
    return {
        "names": json.dumps(opts.names or getattr(model, "names", []) or []),
        "strides": json.dumps(exported.strides), "dialect": model.graph.dialect.name,
        "anchors": json.dumps([[list(a) for a in hd.anchors] for hd in model.inference_head_specs]),
        "input_size": json.dumps(list(size)), "fused": str(opts.fuse).lower(), "cfg": model.graph.text,
        "preprocessing": "RGB, float / 255, letterbox to input_size (pad 114), NCHW",
        "output": "nms: [N, 7] batch, x1, y1, x2, y2, score, class" if opts.nms else
                  "head inputs: the map each inference head reads (NCHW), decoded by the runtime" if opts.head_inputs else
                  ("raw heads: batch x anchors x H x W x (5+nc)" if opts.raw else
                   "detections: batch x N x (5+nc): cx, cy, w, h (pixels), objectness, class scores"),
        "layer_outputs": json.dumps({f"layer_{exported.graph.nodes[i].origin}": exported.graph.nodes[i].origin
                                     for i in taps}),
        "prediction_outputs": json.dumps(_prediction_outputs(exported, taps)),
        "outputs": json.dumps(names),
        **({"nms_thresholds": json.dumps({"conf": opts.conf, "iou": opts.iou, "max_det": opts.max_det})}
           if opts.nms else {}),
    }


def _prediction_outputs(exported, taps: list[int]) -> list[str]:
    """The named values the inference heads read (INT8 export keeps what computes them float)."""
    tapped = set(taps)
    return sorted({f"layer_{exported.graph.nodes[i].origin}" for node in exported.graph.nodes
                   if node.spec.is_head and node.spec.inference_output(node) for i in node.inputs if i in tapped})


def parity(reference, run, opts: ExportOptions, size: tuple[int, int]) -> list[tuple[int, float]]:
    """(batch size, max error) of ``run`` (a float32 NCHW array -> the exported model's main outputs)
    against the unfused PyTorch model, on seeded inputs."""
    gen = torch.Generator().manual_seed(0)
    results = []
    for b in [1, 3] if (opts.dynamic or opts.dynamic_hw) else [opts.batch]:
        xb = torch.rand(b, reference.graph.net.channels, *size, generator=gen)
        with torch.no_grad():
            ref = reference(xb)
            if opts.head_inputs:
                layers = reference.trace(xb)
                ref = [layers[i] for i in reference.inference_head_inputs]
        if opts.head_inputs:
            refs = ref
        elif isinstance(ref, tuple) and not opts.raw:
            refs = [ref[0], *(ref[2].values() if len(ref) == 3 else [])]
        else:
            refs = list(ref[1]) if isinstance(ref, tuple) else [ref]
        got = run(xb.numpy())
        results.append((b, max(max_error(np.asarray(g, np.float32), r.numpy()) for g, r in zip(got, refs))))
    return results


def _onnxruntime_run(proto: onnx.ModelProto, opts: ExportOptions, main_names: list[str]):
    session = open_onnx_session(proto)
    dtype = np.float16 if opts.half else np.float32
    return lambda x: session.run(main_names, {"images": x.astype(dtype)})


def export_onnx(model, out: str | Path, opts: ExportOptions | None = None) -> ExportReport:
    """Export ``model`` to ``out`` (written atomically), then check it against PyTorch in onnxruntime."""
    opts = opts or ExportOptions()
    check_export_options(opts)
    output_file(out, "ONNX output", (".onnx",))
    reference = model.eval().float().cpu()
    passes = (FUSE_PIPELINE if opts.fuse else ()) + tuple(opts.lowering)
    exported = reference.fuse(passes) if passes else reference
    size = opts.img_size or (model.graph.net.height, model.graph.net.width)
    exported = exported.to(torch.float16 if opts.half else torch.float32)
    x = torch.rand(opts.batch, model.graph.net.channels, *size, dtype=torch.float16 if opts.half else torch.float32)
    taps = _tap_layers(exported, x)
    main_names = _output_names(exported, opts)
    proto = _trace(exported, opts, x, main_names, taps)
    pre_nms = onnx.ModelProto()
    pre_nms.CopyFrom(proto)
    if opts.nms:
        if opts.raw or opts.head_inputs or not exported.heads:
            raise ExportError("--nms needs a detector exported with decoded outputs (not --raw)")
        if "embeddings" in main_names:
            raise ExportError("--nms keeps no link from its rows to the detections they came from, so the "
                              "embeddings could not follow them: export this tracking model without --nms")
        append_nms(proto, OUTPUT, opts.conf, opts.iou, opts.max_det, out_name="nms")
    graph_outputs = [o.name for o in proto.graph.output]
    for key, value in _metadata(model, exported, opts, size, taps, graph_outputs).items():
        proto.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(proto, full_check=True)
    tol = opts.tolerance if opts.tolerance is not None else (1e-2 if opts.half else 1e-4)
    ops: dict[str, int] = {}
    for nd in proto.graph.node:
        ops[nd.op_type] = ops.get(nd.op_type, 0) + 1
    report = ExportReport(str(out), exported.fuse_report.summary() if passes else "",
                          parity(reference, _onnxruntime_run(pre_nms, opts, main_names), opts, size), tol, ops)
    if any(err > tol for _, err in report.parity):
        raise ExportError(report.format() + f"\nparity FAILED: error above {tol:g}; nothing written")
    with atomic_path(out) as tmp:  # written only once it is known to compute what PyTorch computes
        onnx.save(proto, str(tmp))
    return report


def verify_onnx(model, onnx_path: str | Path, tolerance: float = 1e-4, img_size=None) -> list[str]:
    """Compare an exported ONNX file with the model layer by layer (through the names ``export``
    leaves in the graph); raises ExportError naming the first layer that diverges."""
    proto = load_onnx_proto(onnx_path)

    meta = {p.key: p.value for p in proto.metadata_props}
    layer_outputs: dict[str, int] = json.loads(meta.get("layer_outputs", "{}"))
    fused = meta.get("fused") == "true"
    ref_model = model.eval().float().cpu()
    ref_model = ref_model.fuse() if fused else ref_model
    by_origin = {n.origin: n for n in ref_model.graph.nodes}
    h, w = img_size or tuple(json.loads(meta.get("input_size", "null")) or (model.graph.net.height, model.graph.net.width))
    inp = proto.graph.input[0]
    is_half = inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    for name in layer_outputs:
        proto.graph.output.append(onnx.ValueInfoProto(name=name))
    session = open_onnx_session(proto)
    x = torch.rand(1, model.graph.net.channels, h, w, generator=torch.Generator().manual_seed(0))
    names = list(layer_outputs)
    got = session.run(names, {inp.name: x.half().numpy() if is_half else x.numpy()})
    with torch.no_grad():
        trace = ref_model.trace(x)
    index_of = {n.origin: i for i, n in enumerate(ref_model.graph.nodes)}
    lines = []
    for name, value in sorted(zip(names, got), key=lambda kv: layer_outputs[kv[0]]):
        origin = layer_outputs[name]
        node = by_origin[origin]
        err = max_error(value.astype(np.float32), trace[index_of[origin]].numpy())
        lines.append(f"layer {origin} [{node.kind}] (line {node.loc.line}): max error {err:.3g}")
        if err > tolerance:
            raise ExportError("\n".join(lines) + f"\nfirst divergence: layer {origin} [{node.kind}] at "
                                                 f"{model.graph.path}:{node.loc.line} (error {err:.3g} > {tolerance:g})")
    return lines
