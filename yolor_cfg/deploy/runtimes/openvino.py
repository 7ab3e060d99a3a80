"""OpenVINO: an IR folder written by ``export --format openvino`` (model.xml + model.bin), float or
INT8 (NNCF), compiled for the CPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.checks import UsageError
from .base import ArtifactInfo, Runtime, register

METADATA_KEY = "yolor_cfg"  # rt_info section holding export's metadata


def require_openvino():
    """The openvino module, or a UsageError saying how to install it."""
    try:
        import openvino
    except ImportError:
        raise UsageError("OpenVINO is not installed: pip install 'yolor-cfg[openvino]'") from None
    return openvino


def ir_file(path: Path) -> Path:
    """The .xml of an IR given as the file or as its folder (UsageError when there is none)."""
    if path.is_dir():
        found = sorted(path.glob("*.xml"))
        if len(found) != 1:
            raise UsageError(f"{path}: an OpenVINO folder holds exactly one .xml model (found {len(found)})")
        return found[0]
    if path.suffix.lower() != ".xml" or not path.is_file():
        raise UsageError(f"{path}: not an OpenVINO IR (.xml, or the folder that export --format openvino writes)")
    if not path.with_suffix(".bin").is_file():
        raise UsageError(f"{path}: its weights file {path.with_suffix('.bin').name} is missing")
    return path


def read_metadata(model) -> dict[str, str]:
    """Export's metadata stored in an OpenVINO model's rt_info."""
    if not model.has_rt_info([METADATA_KEY]):
        return {}
    return {key: value.astype(str) for key, value in model.get_rt_info()[METADATA_KEY].items()}


@register
class OpenVinoRuntime(Runtime):
    kind = "openvino"
    describes = "an OpenVINO folder or .xml"

    def __init__(self, model, source: str, img_size=None, names=None, threads: int | None = None,
                 precision: str | None = "f32"):
        """``precision`` is OpenVINO's inference precision for float operations: f32 (default) keeps the
        results equal to PyTorch's; None lets OpenVINO choose (bf16 on CPUs with AMX or AVX512-BF16)."""
        ov = require_openvino()
        inp = model.inputs[0]
        shape = inp.get_partial_shape()
        batch = shape[0].get_length() if shape[0].is_static else None
        half = inp.get_element_type() == ov.Type.f16
        self.info = ArtifactInfo.from_metadata(read_metadata(model), source, img_size, names, batch,
                                               np.float16 if half else np.float32)
        self.info.take_size(img_size, not (shape[2].is_static and shape[3].is_static))
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        self.compiled = ov.Core().compile_model(model, "CPU", config)
        self.request = self.compiled.create_infer_request()

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix.lower() == ".xml" or (path.is_dir() and any(path.glob("*.xml")))

    @classmethod
    def open(cls, path: Path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None,
             precision: str | None = "f32") -> "OpenVinoRuntime":
        ov = require_openvino()
        xml = ir_file(path)
        try:
            model = ov.Core().read_model(str(xml))
        except RuntimeError as exc:
            raise UsageError(f"{xml}: not a readable OpenVINO model ({str(exc).splitlines()[0][:200]})") from None
        return cls(model, str(xml), img_size, names, threads, precision)

    def kernels(self) -> str:
        """The oneDNN primitives OpenVINO chose for the convolutions, e.g. ``brgconv_avx2_I8 x12``."""
        counts: dict[str, int] = {}
        for op in self.compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if info["layerType"].astype(str) == "Convolution":
                kind = info["primitiveType"].astype(str)
                counts[kind] = counts.get(kind, 0) + 1
        return ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "no convolutions"

    def outputs(self, x: np.ndarray):
        results = self.request.infer({0: x})
        return [results[out] for out in self.compiled.outputs]
