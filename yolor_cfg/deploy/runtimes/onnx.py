"""onnxruntime: ONNX files (float or INT8 QDQ) on the CPU execution provider."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core import cpu
from ...core.checks import UsageError, existing_file
from .base import ArtifactInfo, Runtime, register


def open_onnx_session(model, threads: int | None = None, optimize: bool = True, profile_prefix: str | None = None,
                      save_folded: str | Path | None = None):
    """An onnxruntime CPU session for ``model``: a file that must be an ONNX model (else UsageError saying
    so) or a ModelProto. ``optimize=False`` keeps the graph as written (every Q/DQ pair);
    ``profile_prefix`` turns on onnxruntime's profiler; ``save_folded`` writes the model after only the
    basic, provider-independent rewrites (constants folded, standard ONNX ops) to that path, for
    converters that need a graph without shape arithmetic. The one place the package makes sessions."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    if save_folded:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(save_folded)
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, profile_prefix
    if not isinstance(model, (str, Path)):
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    existing_file(model, "ONNX model")
    try:
        return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except (ort.capi.onnxruntime_pybind11_state.InvalidProtobuf, ort.capi.onnxruntime_pybind11_state.Fail,
            ort.capi.onnxruntime_pybind11_state.InvalidGraph, ort.capi.onnxruntime_pybind11_state.InvalidArgument) as exc:
        raise UsageError(f"{model}: not a readable ONNX model ({str(exc).splitlines()[0][:200]})") from None


def load_onnx_proto(path):
    """An ONNX model's protobuf, for a file that must be one (else UsageError saying so)."""
    import onnx
    from google.protobuf.message import DecodeError

    existing_file(path, "ONNX model")
    try:
        proto = onnx.load(str(path))
    except (DecodeError, onnx.onnx_cpp2py_export.checker.ValidationError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not proto.graph.node or not proto.graph.input:  # protobuf reads an empty file as an empty model
        raise UsageError(f"{path}: not an ONNX model (no graph: an empty or foreign file)")
    return proto


@register
class OnnxRuntime(Runtime):
    kind = "onnxruntime"
    describes = ".onnx (onnxruntime)"

    def __init__(self, session, source: str, img_size=None, names=None):
        self.session = session
        inp = session.get_inputs()[0]
        batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.input_name = inp.name
        self.info = ArtifactInfo.from_metadata(session.get_modelmeta().custom_metadata_map, source, img_size, names,
                                               batch, np.float16 if inp.type == "tensor(float16)" else np.float32)
        self.info.take_size(img_size, not all(isinstance(d, int) for d in inp.shape[2:]))
        if session.get_outputs()[0].name == "nms":
            self.info.output = "nms"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix.lower() == ".onnx"

    def kernels(self) -> str:
        # MLAS picks its kernels from the CPU itself: ONEDNN_MAX_CPU_ISA does not reach it
        flags = cpu.cpu_flags(capped=False)
        simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
        if self.info.precision != "int8":
            return f"MLAS fp32 {simd}"
        if cpu.has_vnni(capped=False):
            return f"MLAS int8 {simd} with VNNI (32-bit dot products)"
        return f"MLAS int8 {simd} without VNNI (u8 x s8 pairs summed into 16 bits, VPMADDUBSW)"

    @classmethod
    def open(cls, path: Path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None) -> "OnnxRuntime":
        return cls(open_onnx_session(path, threads), str(path), img_size, names)

    def outputs(self, x: np.ndarray):
        return self.session.run(None, {self.input_name: x})
