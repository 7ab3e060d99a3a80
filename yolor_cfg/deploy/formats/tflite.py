"""--format tflite: LiteRT (TFLite) models for phones and boards, converted from our checked ONNX by
onnx2tf (ONNX -> TensorFlow -> .tflite; channels last), then checked against PyTorch in LiteRT's own
interpreter (``ai-edge-litert``).

Why onnx2tf and not litert-torch (Google's PyTorch -> LiteRT converter): measured on our models,
onnx2tf's full-integer INT8 graph is integer end to end (litert-torch's PT2E and ai-edge-quantizer
paths leave SiLU or leaky ReLU in float with (de)quantize pairs around them), it starts from the same
checked ONNX as every other format, and it needs TensorFlow (about 1.9 GB) where litert-torch needs jax,
transformers and torchao (about 1.2 GB) and changes its API between 0.x releases. Its cost: onnx2tf's
metadata pins NumPy 1.26 and TensorFlow 2.19, so it is installed with ``--no-deps`` beside the
``tflite`` extra (which lists the packages it really imports); it runs in a subprocess.

INT8: full-integer (int8 weights, activations, input and outputs), calibrated on the data. One int8 scale
cannot hold box coordinates in pixels and scores in 0..1 at once (measured: mAP@0.5 0.93 -> 0.04 when the
decoded detections are quantized), so the INT8 model ends where the heads begin: it outputs the map each
head reads, and the runtime decodes them in float with the cfg's own heads, as the ONNX and OpenVINO INT8
exports keep their heads float."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from ...core.checks import UsageError
from .base import ConvertedFormat, ExportError, ExportOptions, onnx_metadata, register, write_sidecar

ONNX2TF = "onnx2tf==1.29.24"
# onnx2tf validates with this file and downloads it when it is missing from the working directory
ONNX2TF_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"


def run_onnx2tf(onnx_path: Path, out_dir: Path, calibration=None) -> Path:
    """onnx2tf on an ONNX file (its constants folded by onnxruntime first: onnx2tf cannot convert shape
    arithmetic over constants) -> ``out_dir``; with ``calibration`` (NHWC float images in 0..1) also the
    INT8 variants. Returns the folder holding ``<stem>_float32.tflite``, ``_float16`` and, with
    calibration, ``_full_integer_quant``."""
    import numpy as np

    from ..runtimes.onnx import open_onnx_session

    scratch = onnx_path.parent
    folded = scratch / "model.tflite_source.onnx"
    open_onnx_session(onnx_path, save_folded=folded)
    sample = calibration if calibration is not None else np.random.default_rng(0).random((20, 128, 128, 3))
    np.save(scratch / ONNX2TF_SAMPLE, np.asarray(sample[:20], np.float32))
    args = [sys.executable, "-c", "from onnx2tf.onnx2tf import main; main()", "-i", str(folded), "-o", str(out_dir),
            "-nuo", "-n"]
    if calibration is not None:
        np.save(scratch / "calibration.npy", np.asarray(calibration, np.float32))
        args += ["-oiqt", "-cind", "images", str(scratch / "calibration.npy"), "[[[[0.,0.,0.]]]]", "[[[[1.,1.,1.]]]]"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(args, cwd=scratch, env=env, capture_output=True, text=True)
    produced = out_dir / f"{folded.stem}_float32.tflite"
    if done.returncode or not produced.is_file():
        lines = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line or "Error" in line]
        raise ExportError(f"onnx2tf could not convert the model (exit {done.returncode}): "
                          + ("; ".join(lines[-4:]) or (done.stderr or done.stdout).strip()[-600:]))
    return out_dir


def _variant(out_dir: Path, variant: str) -> Path:
    return next(out_dir.glob(f"*_{variant}.tflite"))


@register
class TfliteFormat(ConvertedFormat):
    name = "tflite"
    summary = "a folder NAME_tflite/ holding NAME.tflite + metadata.json (LiteRT, via onnx2tf; NHWC input)"
    suffix = "_tflite"
    folder = True
    folder_holds = "a LiteRT model"
    runtime = "litert"
    requires = ("onnx2tf", "tensorflow", "tf_keras", "onnx_graphsurgeon", "ai_edge_litert")
    extra = "tflite"
    int8 = True
    refuses = {"nms": "--nms is for ONNX: the LiteRT export writes decoded detections, and detect/val run NMS on them",
               "raw": "--raw is for ONNX: the LiteRT export writes decoded detections",
               "dynamic": "--dynamic is for ONNX: a LiteRT model has a fixed input shape (use --batch N)",
               "dynamic_hw": "--dynamic is for ONNX: a LiteRT model has a fixed input shape (use --batch N)"}

    def missing(self) -> str | None:
        why = super().missing()
        if why:
            return (f"{why.split(': pip install')[0]}: pip install 'yolor-cfg[tflite]' && pip install --no-deps "
                    f"{ONNX2TF} (onnx2tf's own metadata pins NumPy 1.26, so it goes in without its pins)")
        return None

    def owns(self, path: Path) -> bool:
        return path.suffix == ".tflite" or path.name == "metadata.json"

    def published_name(self, part: Path, out: Path) -> str:
        return self.stem(out) + ".tflite" if part.suffix == ".tflite" else part.name

    def onnx_options(self, opts):
        return replace(opts, half=False)  # --half picks onnx2tf's float16 variant

    def convert(self, onnx_path, folder, out, opts, report):
        """onnx2tf into ``NAME.tflite`` (its float16-weight variant with --half), run by LiteRT (fp32 checked at
        1e-4 as ONNX; --half 1e-2)."""
        from ..runtimes.tflite import TfliteRuntime

        converted = run_onnx2tf(onnx_path, onnx_path.parent / "tf")
        target = folder / (self.stem(out) + ".tflite")
        shutil.copyfile(_variant(converted, "float16" if opts.half else "float32"), target)
        write_sidecar(folder, onnx_metadata(onnx_path) | {"precision": "fp16" if opts.half else "fp32",
                                                         "format": self.name})
        return TfliteRuntime.open(target).outputs

    def quantize(self, float_artifact, out, inputs, keep_float, options, calibration_cache, model=None):
        """Full-integer INT8 of ``model`` (the heads' input maps as outputs), calibrated on ``inputs``."""
        import numpy as np

        from ..int8 import QuantizeReport
        from ..onnx_export import export_onnx
        from ..runtimes.base import read_sidecar

        if model is None:
            raise UsageError("LiteRT INT8 converts from the model itself: pass model=")
        if keep_float:
            raise UsageError("onnx2tf cannot leave chosen operators float: LiteRT INT8 is all-integer")
        if "embeddings" in model.aux_outputs:
            raise UsageError("LiteRT INT8 ends where the heads begin, so a tracking model's embeddings would be lost: "
                             "export it as float LiteRT, or as ONNX/OpenVINO INT8")
        meta = read_sidecar(next(Path(float_artifact).glob("*.tflite")))
        size = tuple(json.loads(meta["input_size"]))
        images = np.concatenate(inputs).transpose(0, 2, 3, 1)
        with tempfile.TemporaryDirectory() as scratch:
            onnx_path = Path(scratch) / "model.onnx"
            export_onnx(model, onnx_path, ExportOptions(img_size=size, batch=inputs[0].shape[0], head_inputs=True))
            converted = run_onnx2tf(onnx_path, Path(scratch) / "tf", images)
            Path(out).mkdir()
            shutil.copyfile(_variant(converted, "full_integer_quant"), Path(out) / "model.tflite")
            write_sidecar(Path(out), onnx_metadata(onnx_path) | {"precision": "int8", "format": self.name})
        return QuantizeReport(str(out), "litert", len(images), {}, {},
                              ["onnx2tf full-integer quantization: int8 weights (per channel), activations, input and "
                               "outputs; the network ends at the heads' input maps, which the runtime decodes in float"])
