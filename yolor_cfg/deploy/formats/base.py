"""The export-format contract. A format is one ``ExportFormat`` subclass in one file of this package,
registered with ``@register``; the package imports every file in it, so a new file is all a new format
needs: ``export --format NAME``, ``--int8`` with its accuracy guard, and the benchmark's rows come from
the registry, and ``detect``/``val``/``benchmark --weights ARTIFACT`` open its artifacts through the
runtime of the same kind (``deploy/runtimes/``).

Format files import nothing heavy at the top (the command line reads the registry for its choices):
torch, onnx and the format's own toolkit are imported inside the methods."""
from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar

from ...core.checks import UsageError, output_dir, output_file
from ...core.errors import YolorCfgError


class ExportError(YolorCfgError):
    """Export or its parity check failed."""


@dataclass
class ExportOptions:
    img_size: tuple[int, int] | None = None  # (height, width); default: the cfg's
    batch: int = 1
    dynamic: bool = False  # dynamic batch
    dynamic_hw: bool = False  # dynamic height/width too
    opset: int = 17
    fuse: bool = True
    half: bool = False
    raw: bool = False
    head_inputs: bool = False  # outputs: the maps the inference heads read, decoded by the runtime (all-integer formats)
    nms: bool = False
    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 300
    tolerance: float | None = None  # parity: default the format's (fp32 1e-4, fp16 1e-2)
    names: list[str] = field(default_factory=list)
    lowering: tuple[str, ...] = ()  # passes a format adds to rewrite layers into ops its runtime has


@dataclass
class ExportReport:
    path: str
    fuse_summary: str
    parity: list[tuple[int, float]]  # (batch size, max error)
    tolerance: float
    op_counts: dict[str, int]
    runtime: str = "onnxruntime"

    def format(self) -> str:
        lines = [f"wrote {self.path}"]
        if self.fuse_summary:
            lines.append(f"passes: {self.fuse_summary}")
        if self.op_counts:
            ops = ", ".join(f"{k} {v}" for k, v in sorted(self.op_counts.items(), key=lambda kv: -kv[1]))
            lines.append(f"ops: {ops}")
        for batch, err in self.parity:
            lines.append(f"parity {self.runtime} vs PyTorch, batch {batch}: max error {err:.3g} (tolerance {self.tolerance:g})")
        return "\n".join(lines)


class ExportFormat(ABC):
    """One way a model leaves: what it writes, what it needs installed, how it is checked."""
    name: ClassVar[str]  # --format NAME
    summary: ClassVar[str]  # a line for --help and the docs
    suffix: ClassVar[str]  # ".onnx" for a file; "_openvino" for a folder (``folder = True``)
    folder: ClassVar[bool] = False
    folder_holds: ClassVar[str] = "this format's files"  # what an output folder may already hold (``owns``)
    runtime: ClassVar[str]  # the Runtime.kind that opens its artifacts (and names its benchmark rows)
    requires: ClassVar[tuple[str, ...]] = ()  # modules it imports
    extra: ClassVar[str | None] = None  # pip install 'yolor-cfg[EXTRA]' brings them
    int8: ClassVar[bool] = False  # quantize() is implemented: --int8 and a "<runtime>-int8" benchmark row
    refuses: ClassVar[dict[str, str]] = {}  # ExportOptions field -> the message refusing it
    benchmark_by_default: ClassVar[bool] = True  # in the benchmark's default rows when installed
    device: ClassVar[str] = "cpu"  # where its runtime runs here: "cpu" or "cuda"

    # ---- what it needs ----
    def missing(self) -> str | None:
        """Why this format cannot run here (a module not installed, no GPU), or None."""
        absent = [m for m in self.requires if not _installed(m)]
        if absent:
            how = f"pip install 'yolor-cfg[{self.extra}]'" if self.extra else f"pip install {' '.join(absent)}"
            return f"--format {self.name} needs {', '.join(absent)}, which is not installed: {how}"
        return None

    def require(self) -> None:
        """UsageError (exit 1 with the reason) when ``missing`` says this format cannot run here."""
        why = self.missing()
        if why:
            raise UsageError(why)

    def check_options(self, opts: ExportOptions) -> None:
        """UsageError for an option this format cannot take (``refuses``)."""
        for key, message in self.refuses.items():
            if getattr(opts, key):
                raise UsageError(message)

    # ---- the artifact ----
    def check_output(self, out: str | Path) -> Path:
        """``out`` checked as this format's artifact: a file with the suffix, or a new/own folder."""
        if not self.folder:
            return output_file(out, f"{self.name} output", (self.suffix,))
        p = output_dir(out, f"{self.name} output folder")
        if p.is_dir() and any(not self.owns(q) for q in p.iterdir()):
            raise UsageError(f"{self.name} output folder {out}: holds files other than {self.folder_holds}; give a "
                             "new folder name")
        return p

    def owns(self, path: Path) -> bool:
        """Whether a file inside an existing output folder is one this format writes (folders only)."""
        return False

    def stem(self, out: str | Path) -> str:
        """The model's file stem inside an output folder: ``yolor_p6_ncnn/`` holds ``yolor_p6.ncnn.param``."""
        name = Path(out).name
        return name[: -len(self.suffix)] if self.folder and name.endswith(self.suffix) and len(name) > len(self.suffix) else name

    def scratch_name(self, stem: str) -> str:
        """A file or folder name for an artifact of this format in a scratch folder."""
        return stem + self.suffix

    def runtime_path(self, out: Path) -> Path:
        """The path a runtime opens for the artifact ``out`` (the folder itself, unless overridden)."""
        return Path(out)

    def publish(self, artifact: Path, out: str | Path) -> None:
        """Copy a finished artifact from scratch onto ``out``, whole or not at all."""
        from ...core.files import atomic_dir, atomic_path

        if not self.folder:
            with atomic_path(out) as tmp:
                shutil.copyfile(artifact, tmp)
            return
        with atomic_dir(out) as folder:
            for part in sorted(Path(artifact).iterdir()):
                shutil.copyfile(part, folder / self.published_name(part, Path(out)))

    def published_name(self, part: Path, out: Path) -> str:
        """The name a file of a scratch artifact folder gets in the output folder ``out``."""
        return part.name

    # ---- export, quantize ----
    @abstractmethod
    def export(self, model, out: str | Path, opts: ExportOptions) -> ExportReport:
        """Write ``model`` to ``out`` in this format, whole or not at all, after checking it against PyTorch
        (ExportError when it differs by more than the tolerance)."""

    def quantize(self, float_artifact: Path, out: Path, inputs, keep_float: dict[str, str] | None,
                 options, calibration_cache: Path | None, model=None):
        """INT8 into ``out`` from a float artifact this format wrote (or from ``model``, for formats that
        quantize while converting), calibrated on ``inputs``; ``keep_float`` names nodes to leave float
        with the reason; returns a QuantizeReport. Formats with ``int8`` override it."""
        raise UsageError(f"--format {self.name} has no INT8 export")

    def sensitivity(self, float_artifact: Path, quantized: Path, inputs, scratch: Path) -> list:
        """The quantized activations, worst first (``int8_search.Sensitivity``), for the search that keeps
        the most damaged ones float; [] when the format cannot rank them (the search then does nothing)."""
        return []

    def conv_macs(self, float_artifact: Path) -> int:
        """Convolution multiply-adds per image, to describe each ranked activation's share."""
        return 0


def _installed(module: str) -> bool:
    if module in sys.modules:  # None there: an import that failed (or a test hiding the module)
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def onnx_metadata(onnx_path: Path) -> dict[str, str]:
    """The metadata export wrote into an ONNX file (names, strides, anchors, input size, layout, cfg)."""
    from ..runtimes.onnx import load_onnx_proto

    return {p.key: p.value for p in load_onnx_proto(onnx_path).metadata_props}


def write_sidecar(folder: Path, meta: dict[str, str]) -> None:
    """Export's metadata as ``metadata.json`` in an artifact folder (read back by ``runtimes.base.read_sidecar``)."""
    import json

    from ..runtimes.base import SIDECAR

    (Path(folder) / SIDECAR).write_text(json.dumps(meta, indent=1))


class ConvertedFormat(ExportFormat):
    """A format converted from our checked ONNX: ``export`` writes that ONNX (with ``onnx_options``) in a
    scratch folder, ``convert`` turns it into the artifact inside the output folder, and the artifact is
    checked against the unfused PyTorch model before the folder is published (tolerance: ``--tolerance``,
    else 1e-4, or 1e-2 with ``--half``)."""

    def onnx_options(self, opts: ExportOptions) -> ExportOptions:
        """The options of the ONNX this format converts (e.g. batch 1, float32, a lowering pass)."""
        return opts

    def parity_options(self, opts: ExportOptions) -> ExportOptions:
        """The options that choose the parity batches (``dynamic``: batches 1 and 3)."""
        return opts

    @abstractmethod
    def convert(self, onnx_path: Path, folder: Path, out: Path, opts: ExportOptions,
                report: ExportReport) -> Callable:
        """Build the artifact from ``onnx_path`` in ``folder`` (the output folder ``out`` before it is
        published), metadata included; return what parity runs: a float32 NCHW array -> its outputs."""

    def export(self, model, out, opts: ExportOptions) -> ExportReport:
        from ...core.files import atomic_dir
        from ..onnx_export import export_onnx, parity

        self.check_options(opts)
        self.require()
        out = self.check_output(out)
        reference = model.eval().float().cpu()
        size = opts.img_size or (model.graph.net.height, model.graph.net.width)
        tol = opts.tolerance if opts.tolerance is not None else (1e-2 if opts.half else 1e-4)
        with tempfile.TemporaryDirectory() as scratch, atomic_dir(out) as folder:
            onnx_path = Path(scratch) / "model.onnx"
            report = export_onnx(model, onnx_path, self.onnx_options(opts))
            run = self.convert(onnx_path, folder, out, opts, report)
            checked = parity(reference, run, self.parity_options(opts), size)
            report = replace(report, path=str(out), parity=checked, runtime=self.runtime, tolerance=tol)
            if any(err > tol for _, err in checked):
                raise ExportError(report.format() + f"\nparity FAILED: error above {tol:g}")
        return report


FORMATS: dict[str, ExportFormat] = {}


def register(cls: type[ExportFormat]) -> type[ExportFormat]:
    FORMATS[cls.name] = cls()
    return cls


def get_format(name: str) -> ExportFormat:
    """The registered format ``name`` (UsageError listing the choices otherwise)."""
    if name not in FORMATS:
        raise UsageError(f"unknown export format {name!r}; choose from {', '.join(FORMATS)}")
    return FORMATS[name]


def benchmark_rows() -> dict[str, tuple[ExportFormat, bool]]:
    """The benchmark rows the formats give: ``RUNTIME`` (the float export) and, for formats that
    quantize, ``RUNTIME-int8``; name -> (format, int8)."""
    rows = {}
    for form in FORMATS.values():
        rows[form.runtime] = (form, False)
        if form.int8:
            rows[f"{form.runtime}-int8"] = (form, True)
    return rows
