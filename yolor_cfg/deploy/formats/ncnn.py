"""--format ncnn: our checked ONNX converted by pnnx (Tencent's converter, the route ncnn documents) into
an ncnn param/bin pair, then checked against PyTorch in ncnn itself. Layers ncnn has no op for are
first rewritten into convolutions that compute them (the ``lower_to_conv`` pass: YOLOR's space-to-depth
and Haar DWT). INT8: ncnn quantizes with its ncnn2table/ncnn2int8 tools, which neither the ``ncnn`` nor
the ``pnnx`` wheel ships (nor apt), so there is no INT8 NCNN export here."""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from .base import ExportError, ExportFormat, ExportOptions, ExportReport, onnx_metadata, register, write_sidecar

PARAM, BIN = ".ncnn.param", ".ncnn.bin"


def run_pnnx(onnx_path: Path, param: Path, weights: Path, input_shape: tuple[int, ...], half: bool) -> None:
    """pnnx on an ONNX file -> ncnn ``param`` + ``weights``; its by-products stay in ``onnx_path``'s folder.
    ExportError with pnnx's last lines when it fails or writes nothing (it exits 0 on some failures)."""
    import pnnx

    scratch = onnx_path.parent
    shape = ",".join(str(d) for d in input_shape)
    args = [pnnx.EXEC_PATH, str(onnx_path), f"inputshape=[{shape}]f32", f"fp16={int(half)}",
            f"ncnnparam={param}", f"ncnnbin={weights}", f"ncnnpy={scratch / 'ncnn.py'}",
            f"pnnxparam={scratch / 'pnnx.param'}", f"pnnxbin={scratch / 'pnnx.bin'}", f"pnnxpy={scratch / 'pnnx.py'}",
            f"pnnxonnx={scratch / 'pnnx.onnx'}"]
    done = subprocess.run(args, cwd=scratch, capture_output=True, text=True)
    if done.returncode or not param.is_file() or not weights.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise ExportError(f"pnnx could not convert the model to ncnn (exit {done.returncode}):\n{tail}")
    unsupported = [line for line in (done.stdout + done.stderr).splitlines() if "not supported" in line]
    if unsupported:
        raise ExportError("pnnx left operators ncnn cannot run: " + "; ".join(sorted(set(unsupported))[:5]))
    import ncnn

    unknown = sorted({line.split()[0] for line in param.read_text().splitlines()[2:]
                      if line.split() and ncnn.layer_to_index(line.split()[0]) < 0})
    if unknown:
        raise ExportError(f"pnnx wrote layers ncnn does not have: {', '.join(unknown)}")


@register
class NcnnFormat(ExportFormat):
    name = "ncnn"
    summary = "a folder NAME_ncnn/ holding NAME.ncnn.param + NAME.ncnn.bin + metadata.json (ncnn, via pnnx)"
    suffix = "_ncnn"
    folder = True
    folder_holds = "an ncnn model"
    runtime = "ncnn"
    requires = ("pnnx", "ncnn")
    extra = "ncnn"
    refuses = {"nms": "--nms is for ONNX: ncnn has no NonMaxSuppression; detect/val run NMS on the detections",
               "raw": "--raw is for ONNX: the NCNN export writes decoded detections",
               "dynamic_hw": "--dynamic hw is for ONNX: an ncnn model built by pnnx runs at its exported size "
                             "(any batch: ncnn runs one image at a time)"}

    def owns(self, path: Path) -> bool:
        return path.name.endswith((PARAM, BIN)) or path.name == "metadata.json"

    def published_name(self, part: Path, out: Path) -> str:
        if part.name.endswith((PARAM, BIN)):
            return self.stem(out) + (PARAM if part.name.endswith(PARAM) else BIN)
        return part.name

    def export(self, model, out, opts: ExportOptions) -> ExportReport:
        """The ncnn folder ``out`` (whole or not at all): the ONNX checked in onnxruntime, converted by pnnx,
        then checked in ncnn against PyTorch (fp32: 1e-4, as ONNX; ncnn's Winograd and packed GEMM kernels
        sum in another order, about 1e-6 here; --half: 1e-2)."""
        from ...core.files import atomic_dir
        from ..onnx_export import export_onnx, parity
        from ..runtimes.ncnn import NcnnRuntime

        self.check_options(opts)
        self.require()
        out = self.check_output(out)
        reference = model.eval().float().cpu()
        size = opts.img_size or (model.graph.net.height, model.graph.net.width)
        stem = self.stem(out)
        with tempfile.TemporaryDirectory() as scratch, atomic_dir(out) as folder:
            onnx_path = Path(scratch) / "model.onnx"
            onnx_report = export_onnx(model, onnx_path, replace(opts, batch=1, dynamic=False, half=False,
                                                                 lowering=("lower_to_conv",)))
            param, weights = folder / (stem + PARAM), folder / (stem + BIN)
            run_pnnx(onnx_path, param, weights, (1, model.graph.net.channels, *size), opts.half)
            write_sidecar(folder, onnx_metadata(onnx_path) | {"precision": "fp16" if opts.half else "fp32",
                                                             "format": self.name})
            runtime = NcnnRuntime.open(param)
            checked = parity(reference, runtime.outputs, replace(opts, dynamic=True), size)
            tol = opts.tolerance if opts.tolerance is not None else (1e-2 if opts.half else 1e-4)
            report = replace(onnx_report, path=str(out), parity=checked, runtime="ncnn", tolerance=tol)
            if any(err > tol for _, err in checked):
                raise ExportError(report.format() + f"\nparity FAILED: error above {tol:g}")
        return report
