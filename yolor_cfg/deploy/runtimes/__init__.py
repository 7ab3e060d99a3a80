"""One interface over the inference runtimes: ``open_artifact`` picks the runtime whose artifact
``path`` is (a .pt/.weights model, an .onnx file, an OpenVINO IR folder). Each runtime is one file
in this package that registers itself (``base.register``); every module here is imported below, so
a new file is all a new runtime needs."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from ...core.checks import UsageError
from .base import RUNTIMES, ArtifactInfo, Prediction, Runtime, register
from .onnx import OnnxRuntime, load_onnx_proto, open_onnx_session
from .openvino import OpenVinoRuntime
from .pytorch import TorchRuntime

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["ArtifactInfo", "OnnxRuntime", "OpenVinoRuntime", "Prediction", "RUNTIMES", "Runtime", "TorchRuntime",
           "as_runtime", "load_onnx_proto", "open_artifact", "open_onnx_session", "register"]


def open_artifact(path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None) -> Runtime:
    """The runtime for ``path``; ``cfg`` is needed for .weights and for YOLOR/Darknet-trained .pt files."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file or folder")
    for runtime in RUNTIMES:
        if runtime.accepts(p):
            return runtime.open(p, cfg=cfg, img_size=img_size, names=names, device=device, threads=threads)
    kinds = "; ".join(r.describes for r in RUNTIMES)
    raise UsageError(f"{path}: not a model artifact this tool runs ({kinds})")


def as_runtime(model, device="cpu", autocast_dtype=None) -> Runtime:
    """``model`` as a Runtime: runtimes are returned as they are, torch modules wrapped."""
    return model if isinstance(model, Runtime) else TorchRuntime(model, device, autocast_dtype)
