"""--format ncnn: our checked ONNX converted by pnnx (Tencent's converter, the route ncnn documents) into
an ncnn param/bin pair, then checked against PyTorch in ncnn itself. Layers ncnn has no op for are
first rewritten into convolutions that compute them (the ``lower_to_conv`` pass: YOLOR's space-to-depth
and Haar DWT). INT8: ncnn quantizes with its ncnn2table/ncnn2int8 tools, which neither the ``ncnn`` nor
the ``pnnx`` wheel ships (nor apt), so there is no INT8 NCNN export here."""
from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

from .base import ConvertedFormat, ExportError, onnx_metadata, register, write_sidecar

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


def _input_chw(onnx_path: Path) -> tuple[int, int, int]:
    """The (channels, height, width) of an exported ONNX model's input."""
    from ..runtimes.onnx import load_onnx_proto

    dims = load_onnx_proto(onnx_path).graph.input[0].type.tensor_type.shape.dim
    return tuple(int(d.dim_value) for d in dims[1:])


@register
class NcnnFormat(ConvertedFormat):
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

    def onnx_options(self, opts):
        """Batch 1 (ncnn runs one image at a time), float32 (pnnx writes the fp16 weights), and the layers
        ncnn has no op for rewritten into convolutions."""
        return replace(opts, batch=1, dynamic=False, half=False, lowering=("lower_to_conv",))

    def parity_options(self, opts):
        return replace(opts, dynamic=True)  # any batch: checked at 1 and 3

    def convert(self, onnx_path, folder, out, opts, report):
        """pnnx into ``NAME.ncnn.param`` + ``.bin`` (fp16 weights with --half), then ncnn runs it (fp32 checked at
        1e-4 as ONNX: ncnn's Winograd and packed GEMM kernels sum in another order, about 1e-6 here)."""
        from ..runtimes.ncnn import NcnnRuntime

        stem = self.stem(out)
        param, weights = folder / (stem + PARAM), folder / (stem + BIN)
        run_pnnx(onnx_path, param, weights, (1, *_input_chw(onnx_path)), opts.half)
        write_sidecar(folder, onnx_metadata(onnx_path) | {"precision": "fp16" if opts.half else "fp32",
                                                         "format": self.name})
        return NcnnRuntime.open(param).outputs
