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
    output: str = "detections"  # "detections" (decoded, before NMS), "nms" ([N, 7] rows), "raw", or "heads"
    # (the maps the heads read: the runtime decodes them with the cfg's heads)
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
                   output={"nms": "nms", "raw": "raw", "head": "heads"}.get(output, "detections"),
                   precision=meta.get("precision", "fp16" if input_dtype == np.float16 else "fp32"),
                   input_dtype=input_dtype, strides=json.loads(meta.get("strides", "[]")),
                   anchors=json.loads(meta.get("anchors", "[]")), metadata=dict(meta))


@dataclass
class Prediction:
    """A runtime's answer for a batch: decoded detections (batch x N x (5 + classes), boxes as cx, cy,
    w, h in input pixels) or, for models exported with NMS, rows (batch, x1, y1, x2, y2, score, class);
    ``class_scores`` holds a [multilabel] head's image-level probabilities and ``embeddings`` an [embedding]
    layer's vector for each detection row (batch x N x dim, L2-normalised), when the model has them.
    Float32; on the CPU, except the PyTorch runtime's detections, which stay on its device."""
    detections: torch.Tensor | None = None
    nms_rows: torch.Tensor | None = None
    class_scores: torch.Tensor | None = None
    embeddings: torch.Tensor | None = None


class Runtime(ABC):
    """An opened artifact. Subclasses set ``kind`` and ``describes`` and implement ``accepts``, ``open`` and ``outputs``;
    ``register`` adds one to the table that ``open_artifact`` consults."""
    kind: ClassVar[str]
    describes: ClassVar[str]  # the artifacts it opens, for the message when nothing accepts a path
    info: ArtifactInfo

    @classmethod
    @abstractmethod
    def accepts(cls, path: Path) -> bool:
        """Whether ``path`` is an artifact of this runtime (by its name or content)."""

    @classmethod
    @abstractmethod
    def open(cls, path: Path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None) -> "Runtime":
        """Open ``path`` for inference (UsageError when it cannot be); ``threads``: the runtime's CPU threads
        where it has its own pool (None: its default)."""

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
        if self.info.output == "heads":
            return Prediction(detections=self._decode_heads(outs))
        if self.info.output == "raw":
            raise UsageError(f"this {self.kind} model was exported with --raw (head outputs before decoding): "
                             "detect and val need an export with decoded outputs")
        # the outputs by the names export gave them, in graph order (older files: the first alone)
        named = dict(zip(json.loads(self.info.metadata.get("outputs", "[]")) or ["nms" if self.info.output == "nms"
                                                                                 else "detections"], outs))
        if self.info.output == "nms":
            return Prediction(nms_rows=named.get("nms", outs[0]), class_scores=named.get("class_scores"))
        return Prediction(detections=named.get("detections", outs[0]), class_scores=named.get("class_scores"),
                          embeddings=named.get("embeddings"))

    def _decode_heads(self, maps) -> torch.Tensor:
        """Detections from the maps the heads read, decoded by the heads of the cfg in the metadata."""
        if getattr(self, "_decoder", None) is None:
            from ...compiler.executor import head_decoder
            from ...compiler.graph import load_graph

            if "cfg" not in self.info.metadata:
                raise UsageError(f"this {self.kind} model outputs the heads' input maps but carries no cfg to decode "
                                 "them with (re-export it with yolor-cfg)")
            meta = self.info.metadata
            self._decoder = head_decoder(load_graph(meta["cfg"], self.info.input_size, meta.get("dialect")))
        return self._decoder(maps)

    def live_bytes(self, x) -> int | None:
        """Peak bytes of intermediate tensors alive at once for input ``x``, where the runtime can say."""
        return None

    def kernels(self) -> str:
        """Which CPU code path this runtime's convolutions take here (the ISA, as far as it tells)."""
        return "unknown"


SIDECAR = "metadata.json"  # export's metadata beside the model, for formats that cannot carry it inside


def read_sidecar(model_file: Path) -> dict[str, str]:
    """Export's metadata from the ``metadata.json`` beside ``model_file`` ({} when there is none)."""
    path = Path(model_file).parent / SIDECAR
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not readable export metadata ({exc})") from None
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise UsageError(f"{path}: export metadata is an object of strings; this one is not")
    return meta


def model_in_folder(path: Path, suffix: str, what: str) -> Path:
    """The one ``*suffix`` model file of an export folder, or ``path`` itself when it is such a file."""
    if path.is_dir():
        found = sorted(path.glob(f"*{suffix}"))
        if len(found) != 1:
            raise UsageError(f"{path}: a {what} folder holds exactly one {suffix} model (found {len(found)})")
        return found[0]
    if not path.name.endswith(suffix) or not path.is_file():
        raise UsageError(f"{path}: not a {what} model ({suffix}, or the folder export writes)")
    return path


def _tensor(value) -> torch.Tensor:
    return value.float().cpu() if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value, np.float32))


RUNTIMES: list[type[Runtime]] = []


def register(cls: type[Runtime]) -> type[Runtime]:
    RUNTIMES.append(cls)
    return cls
