"""LiteRT (TFLite): a folder written by ``export --format tflite`` (NAME.tflite + metadata.json), or a
.tflite file, run by ``ai-edge-litert``'s interpreter (XNNPACK on the CPU). The model takes NHWC input
(onnx2tf moves channels last); this runtime transposes the NCHW batches the rest of the tool passes,
and quantizes/dequantizes where the model's inputs and outputs are integer."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...core.checks import UsageError
from .base import ArtifactInfo, Runtime, model_in_folder, read_sidecar, register


def require_litert():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise UsageError("LiteRT's interpreter is not installed: pip install 'yolor-cfg[tflite]'") from None
    return Interpreter


@register
class TfliteRuntime(Runtime):
    kind = "litert"
    describes = "a .tflite file or the folder export --format tflite writes"

    def __init__(self, interpreter, source: str, meta: dict[str, str], img_size=None, names=None):
        self.interpreter = interpreter
        self.input = interpreter.get_input_details()[0]
        self.outputs_detail = _outputs_in_order(interpreter)
        n, h, w, c = (int(d) for d in self.input["shape"])
        if "input_size" not in meta and img_size is None:
            img_size = (h, w)
        self.info = ArtifactInfo.from_metadata(meta, source, img_size, names, batch=n)
        if self.input["dtype"] != np.float32:
            self.info.precision = "int8"

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix.lower() == ".tflite" or (path.is_dir() and any(path.glob("*.tflite")))

    @classmethod
    def open(cls, path: Path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None) -> "TfliteRuntime":
        interpreter_class = require_litert()
        model = model_in_folder(Path(path), ".tflite", "LiteRT")
        try:
            interpreter = interpreter_class(model_path=str(model), num_threads=threads)
            interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise UsageError(f"{model}: not a readable LiteRT model ({str(exc).splitlines()[0][:200]})") from None
        return cls(interpreter, str(model), read_sidecar(model), img_size, names)

    def kernels(self) -> str:
        return f"LiteRT XNNPACK ({'int8' if self.info.precision == 'int8' else 'float'})"

    def outputs(self, x: np.ndarray):
        nhwc = np.ascontiguousarray(np.asarray(x, np.float32).transpose(0, 2, 3, 1))
        self.interpreter.set_tensor(self.input["index"], _quantized(nhwc, self.input))
        self.interpreter.invoke()
        outs = [_dequantized(self.interpreter.get_tensor(d["index"]), d) for d in self.outputs_detail]
        return [o.transpose(0, 3, 1, 2) if o.ndim == 4 else o for o in outs]  # onnx2tf writes 4-D maps NHWC


def _outputs_in_order(interpreter) -> list[dict]:
    """Output details in the ONNX model's order: the signature names them (``output_0``, ``output_1`` or the
    ONNX names, numbered in order), while the tensor list follows the converter's own numbering."""
    if not interpreter.get_signature_list():
        return interpreter.get_output_details()
    named = interpreter.get_signature_runner().get_output_details()

    def natural(name: str):
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]

    return [named[name] for name in sorted(named, key=natural)]


def _quantized(x: np.ndarray, detail) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return x
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(detail["dtype"])


def _dequantized(y: np.ndarray, detail) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return y
    scale, zero = detail["quantization"]
    return ((y.astype(np.float32) - zero) * scale).astype(np.float32)
