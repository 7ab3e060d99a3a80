"""Export formats: one ``ExportFormat`` per file here, each registering itself (``base.register``);
every module of this package is imported below, so a new file is all a new format needs.
``export_onnx`` and ``verify_onnx`` (the checked ONNX graph every format starts from) load on first use."""
from __future__ import annotations

import importlib
import pkgutil

from .base import FORMATS, ExportError, ExportFormat, ExportOptions, ExportReport, benchmark_rows, get_format, register

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FORMATS", "ExportError", "ExportFormat", "ExportOptions", "ExportReport", "benchmark_rows", "export_onnx",
           "get_format", "register", "verify_onnx"]


def __getattr__(name: str):
    if name in ("export_onnx", "verify_onnx"):
        from .. import onnx_export

        return getattr(onnx_export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
