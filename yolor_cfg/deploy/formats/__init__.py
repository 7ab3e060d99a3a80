"""ONNX export with self-verification."""
from .onnx import ExportOptions, export_onnx, verify_onnx  # noqa: F401
