"""PyTorch runtime: a compiled cfg (optionally fused / optimized) in this process."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ...core import cpu
from ...core.checks import UsageError, height_width, torch_device
from .base import ArtifactInfo, Prediction, Runtime, register

WEIGHT_SUFFIXES = {".pt", ".pth", ".weights"}


@register
class TorchRuntime(Runtime):
    """A ``CompiledModel`` (or an ``optimize``d one) run with torch; ``autocast_dtype`` runs it under
    autocast (training's validation in bf16/fp16)."""
    kind = "pytorch"
    describes = ".pt/.weights (PyTorch)"

    def __init__(self, model, device="cpu", autocast_dtype=None, names=None, img_size=None):
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.autocast_dtype = autocast_dtype
        net = getattr(model, "graph", None) and model.graph.net
        size = img_size or ((net.height, net.width) if net else None)
        if size is None:
            raise UsageError("a PyTorch model without a graph needs its input size")
        self.info = ArtifactInfo(input_size=height_width(size),
                                 names=list(names or getattr(model, "names", []) or []),
                                 strides=list(getattr(model, "strides", []) or []))

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix.lower() in WEIGHT_SUFFIXES

    @classmethod
    def open(cls, path: Path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None) -> "TorchRuntime":
        from ...compiler.model import compile, load

        if cfg is None:
            if path.suffix.lower() == ".weights":
                raise UsageError(f"{path}: Darknet .weights need the network's cfg (--cfg)")
            model = load(path)  # our checkpoints carry their cfg
        else:
            model = compile(cfg, img_size=img_size)
            model.load_weights(path)
        return cls(model, torch_device(device), names=names, img_size=img_size)

    def __call__(self, x: torch.Tensor | np.ndarray) -> Prediction:
        x = torch.as_tensor(x).to(self.device).float()
        with torch.inference_mode(), torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype,
                                                    enabled=self.autocast_dtype is not None):
            out = self.model(x)
        # detections stay on the model's device: validation runs its NMS there, as training did before
        if not isinstance(out, tuple):
            return Prediction(detections=out.float())
        extras = {k: v.float().cpu() for k, v in out[2].items()} if len(out) == 3 else {}
        return Prediction(detections=out[0].float(), class_scores=extras.get("class_scores"),
                          embeddings=extras.get("embeddings"))

    def kernels(self) -> str:
        if self.device.type == "cuda":
            return f"CUDA ({torch.cuda.get_device_name(self.device)})"
        cap = cpu.isa_cap()
        return (f"ATen {torch.backends.cpu.get_cpu_capability()}, oneDNN "
                + (f"capped at {cap.upper()} ({cpu.ISA_CAP_VARIABLE})" if cap else "at the CPU's best ISA"))

    def live_bytes(self, x) -> int | None:
        with torch.inference_mode():
            return self.model.live_bytes(torch.as_tensor(x).to(self.device).float())

    def outputs(self, x: np.ndarray):
        return [self(x).detections.cpu()]
