"""The runtime contract: an artifact (a model, an ONNX file, an OpenVINO IR folder) opened for
inference, run on a letterboxed batch, with the metadata the artifact carries."""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ...core.checks import UsageError, height_width


@dataclass
class ArtifactInfo:
    """What a runtime knows about its artifact besides the graph (from its metadata)."""
    input_size: tuple[int, int]  # (height, width)
    names: list[str] = field(default_factory=list)
    batch: int | None = None  # None: any batch size
    output: str = "detections"  # "detections" (decoded, before NMS), "nms" ([N, 7] rows) or "raw"
    precision: str = "fp32"  # "fp32", "fp16", "int8"
    input_dtype: type = np.float32
    strides: list[float] = field(default_factory=list)
    anchors: list = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def nms_thresholds(self) -> dict | None:
        """{conf, iou, max_det} baked into an export with in-graph NMS (None for other artifacts)."""
        text = self.metadata.get("nms_thresholds")
        return json.loads(text) if text else None

    def take_size(self, img_size, dynamic_hw: bool) -> None:
        """Run at ``img_size`` instead of the exported size, where the artifact's height/width are dynamic."""
        if img_size is not None and dynamic_hw:
            self.input_size = height_width(img_size)

    @classmethod
    def from_metadata(cls, meta: dict[str, str], source: str, img_size=None, names=None, batch=None,
                      input_dtype=np.float32) -> "ArtifactInfo":
        """Info from yolor-cfg's export metadata (the same keys in ONNX and OpenVINO). ``img_size`` is
        for files we did not write (no input_size in their metadata); ``names`` overrides theirs."""
        if "input_size" not in meta and img_size is None:
            raise UsageError(f"{source}: this model was not written by yolor-cfg export (no input_size in its "
                             "metadata); give the input size (--img)")
        size = tuple(json.loads(meta["input_size"])) if "input_size" in meta else img_size
        output = meta.get("output", "detections").split(":")[0].split()[0]
        return cls(input_size=height_width(size),
                   names=list(names or json.loads(meta.get("names", "[]"))), batch=batch,
                   output={"nms": "nms", "raw": "raw"}.get(output, "detections"),
                   precision=meta.get("precision", "fp16" if input_dtype == np.float16 else "fp32"),
                   input_dtype=input_dtype, strides=json.loads(meta.get("strides", "[]")),
                   anchors=json.loads(meta.get("anchors", "[]")), metadata=dict(meta))


@dataclass
class Prediction:
    """A runtime's answer for a batch: decoded detections (batch x N x (5 + classes), boxes as cx, cy,
    w, h in input pixels) or, for models exported with NMS, rows (batch, x1, y1, x2, y2, score, class);
    ``class_scores`` holds a [multilabel] head's image-level probabilities when there is one.
    Float32; on the CPU, except the PyTorch runtime's detections, which stay on its device."""
    detections: torch.Tensor | None = None
    nms_rows: torch.Tensor | None = None
    class_scores: torch.Tensor | None = None


class Runtime(ABC):
    """An opened artifact. Subclasses set ``kind`` and implement ``accepts``, ``open`` and ``outputs``;
    ``register`` adds one to the table that ``open_artifact`` consults."""
    kind: ClassVar[str]
    info: ArtifactInfo

    @classmethod
    @abstractmethod
    def accepts(cls, path: Path) -> bool:
        """Whether ``path`` is an artifact of this runtime (by its name or content)."""

    @classmethod
    @abstractmethod
    def open(cls, path: Path, *, cfg=None, img_size=None, names=None, device="cpu") -> "Runtime":
        """Open ``path`` for inference (UsageError when it cannot be)."""

    @abstractmethod
    def outputs(self, x: np.ndarray) -> list[np.ndarray | torch.Tensor]:
        """The artifact's outputs as it writes them, for one batch of the size and dtype it takes."""

    def __call__(self, x: torch.Tensor | np.ndarray) -> Prediction:
        """Run a letterboxed RGB batch (N x 3 x H x W, values in 0..1) of any size: artifacts with a
        fixed batch run it in chunks of that size (the last one padded)."""
        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        x = np.ascontiguousarray(x, dtype=self.info.input_dtype)
        fixed = self.info.batch
        if fixed is None or x.shape[0] == fixed:
            return self._prediction(self.outputs(x))
        parts = []
        for start in range(0, x.shape[0], fixed):
            chunk = x[start:start + fixed]
            n = chunk.shape[0]
            if n < fixed:
                chunk = np.concatenate([chunk, np.zeros((fixed - n, *chunk.shape[1:]), chunk.dtype)])
            parts.append([_tensor(o)[:n] for o in self.outputs(chunk)])
        return self._prediction([torch.cat(outs) for outs in zip(*parts)])

    def _prediction(self, outs) -> Prediction:
        outs = [_tensor(o) for o in outs]
        if self.info.output == "nms":
            return Prediction(nms_rows=outs[0])
        if self.info.output == "raw":
            raise UsageError(f"this {self.kind} model was exported with --raw (head outputs before decoding): "
                             "detect and val need an export with decoded outputs")
        return Prediction(detections=outs[0], class_scores=outs[2] if len(outs) == 3 else None)

    def live_bytes(self, x) -> int | None:
        """Peak bytes of intermediate tensors alive at once for input ``x``, where the runtime can say."""
        return None

    def kernels(self) -> str:
        """Which CPU code path this runtime's convolutions take here (the ISA, as far as it tells)."""
        return "unknown"


def _tensor(value) -> torch.Tensor:
    return value.float().cpu() if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value, np.float32))


RUNTIMES: list[type[Runtime]] = []


def register(cls: type[Runtime]) -> type[Runtime]:
    RUNTIMES.append(cls)
    return cls
