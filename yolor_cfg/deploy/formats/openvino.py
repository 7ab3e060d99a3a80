"""--format openvino: our checked ONNX converted with ``openvino.convert_model``, export's metadata carried
into the IR's rt_info, then checked against PyTorch in OpenVINO itself; INT8 through NNCF."""
from __future__ import annotations

from pathlib import Path

from .base import ConvertedFormat, ExportOptions, ExportReport, register

SUFFIX = "_openvino"


def ir_name(out: str | Path) -> str:
    """The model's file stem inside an export folder: ``yolor_p6_openvino/`` holds ``yolor_p6.xml``."""
    name = Path(out).name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) and len(name) > len(SUFFIX) else name


def ir_path(folder: str | Path) -> Path:
    """The .xml that an export folder holds (``yolor_p6_openvino/yolor_p6.xml``)."""
    return Path(folder) / f"{ir_name(folder)}.xml"


def convert_onnx(onnx_path: str | Path, xml_path: str | Path, half: bool = False) -> None:
    """ONNX file -> OpenVINO IR (xml + bin), with the ONNX metadata in rt_info under ``yolor_cfg``."""
    from ..runtimes.onnx import load_onnx_proto
    from ..runtimes.openvino import METADATA_KEY, require_openvino

    ov = require_openvino()
    model = ov.convert_model(str(onnx_path))
    for prop in load_onnx_proto(onnx_path).metadata_props:
        model.set_rt_info(prop.value, [METADATA_KEY, prop.key])
    ov.save_model(model, str(xml_path), compress_to_fp16=half)


@register
class OpenVinoFormat(ConvertedFormat):
    name = "openvino"
    summary = "a folder NAME_openvino/ holding NAME.xml + NAME.bin (OpenVINO IR); INT8: NNCF"
    suffix = SUFFIX
    folder = True
    folder_holds = "an IR"
    runtime = "openvino"
    requires = ("openvino", "nncf")
    extra = "openvino"
    int8 = True
    refuses = {"nms": "--nms is for ONNX: the OpenVINO export writes decoded detections, and detect/val run NMS on them"}

    def owns(self, path: Path) -> bool:
        return path.suffix in (".xml", ".bin")

    def runtime_path(self, out):
        return ir_path(out)

    def published_name(self, part: Path, out: Path) -> str:
        return ir_path(out).stem + part.suffix

    def convert(self, onnx_path, folder, out, opts, report):
        """The IR from the ONNX (its half-precision weights with --half), run by OpenVINO at f32 precision."""
        from ..runtimes.openvino import OpenVinoRuntime

        xml = folder / ir_path(out).name
        convert_onnx(onnx_path, xml, opts.half)
        runtime = OpenVinoRuntime.open(xml, precision="f32")
        return lambda x: runtime.outputs(x.astype(runtime.info.input_dtype))

    def quantize(self, float_artifact, out, inputs, keep_float, options, calibration_cache, model=None):
        from ..int8 import quantize_openvino

        Path(out).mkdir()
        return quantize_openvino(ir_path(float_artifact), ir_path(out), inputs, keep_float=keep_float)

    def sensitivity(self, float_artifact, quantized, inputs, scratch):
        from ..int8_search import openvino_ranking

        return openvino_ranking(ir_path(quantized), inputs)

    def conv_macs(self, float_artifact):
        from ..int8_search import openvino_macs

        return openvino_macs(ir_path(float_artifact))


def export_openvino(model, out: str | Path, opts: ExportOptions | None = None) -> ExportReport:
    """``export --format openvino`` as a function (the format's ``export``)."""
    return OpenVinoFormat().export(model, out, opts or ExportOptions())


def check_output_folder(out: str | Path) -> Path:
    """An export folder: not an existing file, not an existing folder holding anything but an IR."""
    return OpenVinoFormat().check_output(out)

