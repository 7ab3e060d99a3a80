"""OpenVINO IR export: our checked ONNX converted with ``openvino.convert_model``, export's metadata
carried into the IR's rt_info, then checked against PyTorch in OpenVINO itself."""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from ...core.checks import UsageError, output_dir
from ...core.files import atomic_dir
from ..runtimes.onnx import load_onnx_proto
from ..runtimes.openvino import METADATA_KEY, OpenVinoRuntime, require_openvino
from .onnx import ExportError, ExportOptions, ExportReport, export_onnx, parity

SUFFIX = "_openvino"


def ir_name(out: str | Path) -> str:
    """The model's file stem inside an export folder: ``yolor_p6_openvino/`` holds ``yolor_p6.xml``."""
    name = Path(out).name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) and len(name) > len(SUFFIX) else name


def ir_path(folder: str | Path) -> Path:
    """The .xml that an export folder holds (``yolor_p6_openvino/yolor_p6.xml``)."""
    return Path(folder) / f"{ir_name(folder)}.xml"


def check_output_folder(out: str | Path) -> Path:
    """An export folder: not an existing file, not an existing folder holding anything but an IR."""
    p = output_dir(out, "OpenVINO output folder")
    if p.is_dir() and any(q.suffix not in (".xml", ".bin") for q in p.iterdir()):
        raise UsageError(f"OpenVINO output folder {out}: holds files other than an IR; give a new folder name")
    return p


def convert_onnx(onnx_path: str | Path, xml_path: str | Path, half: bool = False) -> None:
    """ONNX file -> OpenVINO IR (xml + bin), with the ONNX metadata in rt_info under ``yolor_cfg``."""
    ov = require_openvino()
    model = ov.convert_model(str(onnx_path))
    for prop in load_onnx_proto(onnx_path).metadata_props:
        model.set_rt_info(prop.value, [METADATA_KEY, prop.key])
    ov.save_model(model, str(xml_path), compress_to_fp16=half)


def export_openvino(model, out: str | Path, opts: ExportOptions | None = None) -> ExportReport:
    """Export ``model`` as an OpenVINO IR folder ``out`` (written whole or not at all), checked first in
    onnxruntime (the ONNX it is converted from) and then in OpenVINO against PyTorch."""
    opts = opts or ExportOptions()
    if opts.nms:
        raise UsageError("--nms is for ONNX: the OpenVINO export writes decoded detections, and detect/val "
                         "run NMS on them")
    require_openvino()
    out = check_output_folder(out)
    reference = model.eval().float().cpu()
    size = opts.img_size or (model.graph.net.height, model.graph.net.width)
    with tempfile.TemporaryDirectory() as scratch, atomic_dir(out) as folder:
        onnx_path = Path(scratch) / "model.onnx"
        onnx_report = export_onnx(model, onnx_path, opts)
        xml = folder / ir_path(out).name
        convert_onnx(onnx_path, xml, opts.half)
        runtime = OpenVinoRuntime.open(xml, precision="f32")
        checked = parity(reference, lambda x: runtime.outputs(x.astype(runtime.info.input_dtype)), opts, size)
        report = replace(onnx_report, path=str(out), parity=checked, runtime="openvino")
        if any(err > report.tolerance for _, err in checked):
            raise ExportError(report.format() + f"\nparity FAILED: error above {report.tolerance:g}")
    return report
