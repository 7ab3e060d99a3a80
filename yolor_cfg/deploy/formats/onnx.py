"""--format onnx: the checked ONNX graph itself (onnxruntime runs it); INT8 as onnxruntime QDQ."""
from __future__ import annotations

from pathlib import Path

from .base import ExportFormat, ExportOptions, register


@register
class OnnxFormat(ExportFormat):
    name = "onnx"
    summary = "an .onnx file (onnxruntime); INT8: QDQ, calibrated by onnxruntime"
    suffix = ".onnx"
    runtime = "onnxruntime"
    requires = ("onnx", "onnxruntime")
    int8 = True

    def export(self, model, out, opts: ExportOptions):
        from ..onnx_export import export_onnx

        return export_onnx(model, out, opts)

    def quantize(self, float_artifact, out, inputs, keep_float, options, calibration_cache, model=None):
        from ..int8 import quantize_onnx

        return quantize_onnx(float_artifact, out, inputs, options, keep_float=keep_float,
                             calibration_cache=calibration_cache)

    def sensitivity(self, float_artifact, quantized, inputs, scratch: Path):
        from ..int8 import prepare_for_quantization
        from ..int8_search import onnx_ranking

        return onnx_ranking(prepare_for_quantization(float_artifact, scratch / "pre.onnx"), quantized, inputs)

    def conv_macs(self, float_artifact):
        import onnx

        from ..int8_search import conv_macs

        return sum(conv_macs(onnx.load(str(float_artifact))).values())
