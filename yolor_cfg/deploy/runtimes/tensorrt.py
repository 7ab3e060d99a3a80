"""TensorRT: a folder written by ``export --format engine`` (NAME.engine + metadata.json), or an .engine
file, run on a CUDA GPU by the ``tensorrt`` package. Device memory comes from torch (CUDA tensors whose
addresses the execution context reads), so nothing else (pycuda, cuda-python) is needed. An engine with
TensorRT's EfficientNMS_TRT plugin (``export --format engine --nms``) answers the same [K, 7] rows as an
ONNX model with NMS in its graph."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ...core.checks import UsageError
from .base import ArtifactInfo, Runtime, model_in_folder, read_sidecar, register

ENGINE = ".engine"
PLUGIN_OUTPUTS = ("num_detections", "detection_boxes", "detection_scores", "detection_classes")


def require_tensorrt():
    """The ``tensorrt`` module, where it is installed and a CUDA GPU is visible (UsageError otherwise)."""
    try:
        import tensorrt
    except ImportError:
        raise UsageError("TensorRT is not installed: pip install 'yolor-cfg[tensorrt]'") from None
    if not torch.cuda.is_available():
        raise UsageError(f"a TensorRT engine runs on a CUDA GPU, and none is visible here (torch {torch.__version__})")
    return tensorrt


def collecting_logger(trt):
    """A TensorRT logger that keeps its errors for the messages that quote them and prints nothing (the
    commands print their own summaries, and ``--json`` keeps stdout for the JSON alone)."""

    class Logger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.lines: list[str] = []

        def log(self, severity, msg):
            if int(severity) <= int(trt.ILogger.Severity.ERROR):
                self.lines.append(msg)

    return Logger()


def plugin_rows(num_detections, boxes, scores, classes, first_image: int = 0) -> np.ndarray:
    """EfficientNMS_TRT's outputs ([B, 1], [B, max, 4], [B, max], [B, max]) as [K, 7] float32 rows
    (batch, x1, y1, x2, y2, score, class): each image's first ``num_detections`` boxes (the plugin sorts
    them by score), images in order, numbered from ``first_image``."""
    rows = [np.concatenate([np.full((n, 1), first_image + b), np.asarray(boxes[b, :n]),
                            np.asarray(scores[b, :n])[:, None], np.asarray(classes[b, :n])[:, None]], 1)
            for b, n in enumerate(np.asarray(num_detections).reshape(-1).astype(int))]
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 7), np.float32)


@register
class TensorRtRuntime(Runtime):
    kind = "tensorrt"
    describes = "a TensorRT folder or .engine"

    def __init__(self, trt, logger, trt_runtime, engine, device: torch.device, source: str, meta: dict[str, str],
                 img_size=None, names=None):
        # TensorRT keeps pointers to its logger and runtime: they live as long as the engine
        self.trt, self.logger, self.trt_runtime, self.engine, self.device = trt, logger, trt_runtime, engine, device
        self.context = engine.create_execution_context()
        tensors = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in tensors if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if len(inputs) != 1:
            raise UsageError(f"{source}: a detector engine takes one input image batch (this one takes {len(inputs)})")
        self.input_name, self.output_names = inputs[0], [n for n in tensors if n not in inputs]
        shape = tuple(engine.get_tensor_shape(self.input_name))
        if "input_size" not in meta and img_size is None:
            img_size = shape[2:]
        # batches run in chunks of the engine's batch (fixed, or its profile's largest), padded when fixed;
        # here and not in Runtime.__call__, which cannot split NMS rows
        self.fixed_batch = shape[0] != -1
        largest = shape if self.fixed_batch else tuple(engine.get_tensor_profile_shape(self.input_name, 0)[2])
        self.max_batch = largest[0]
        self.info = ArtifactInfo.from_metadata(meta, source, img_size, names, batch=None)
        if set(PLUGIN_OUTPUTS) <= set(self.output_names):
            self.info.output = "nms"
        named = json.loads(meta.get("outputs", "[]"))  # export's order of the outputs, where it says
        if sorted(named) == sorted(self.output_names):
            self.output_names = named
        self.dtypes = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16,
                       trt.DataType.INT32: torch.int32, trt.DataType.INT64: torch.int64, trt.DataType.INT8: torch.int8,
                       trt.DataType.UINT8: torch.uint8, trt.DataType.BOOL: torch.bool}

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.suffix.lower() == ENGINE or (path.is_dir() and any(path.glob(f"*{ENGINE}")))

    @classmethod
    def open(cls, path: Path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None) -> "TensorRtRuntime":
        """``path`` on the CUDA device ``device`` (the current one when given the CPU: an engine runs on a GPU)."""
        trt = require_tensorrt()
        engine_file = model_in_folder(Path(path), ENGINE, "TensorRT")
        meta = read_sidecar(engine_file)
        device = torch.device(device)
        device = device if device.type == "cuda" else torch.device("cuda", torch.cuda.current_device())
        logger = collecting_logger(trt)
        trt.init_libnvinfer_plugins(logger, "")  # engines exported with --nms hold EfficientNMS_TRT
        with torch.cuda.device(device):
            trt_runtime = trt.Runtime(logger)
            engine = trt_runtime.deserialize_cuda_engine(engine_file.read_bytes())
        if engine is None:
            built = f"TensorRT {meta['tensorrt']} on {meta.get('gpu', 'a GPU')}" if "tensorrt" in meta else "elsewhere"
            here = f"TensorRT {trt.__version__} on {torch.cuda.get_device_name(device)}"
            raise UsageError(f"{engine_file}: {here} cannot load this engine (built with {built}; an engine runs only "
                             "with the TensorRT version and the kind of GPU that built it: export it again here). "
                             + "; ".join(logger.lines[-2:]))
        return cls(trt, logger, trt_runtime, engine, device, str(engine_file), meta, img_size, names)

    def kernels(self) -> str:
        return f"TensorRT {self.trt.__version__} ({self.info.precision}) on {torch.cuda.get_device_name(self.device)}"

    def run(self, x: np.ndarray) -> dict[str, torch.Tensor]:
        """Every output of the engine for one batch of at most ``max_batch`` images, as CUDA tensors."""
        n = len(x)
        if self.fixed_batch and n < self.max_batch:
            x = np.concatenate([x, np.zeros((self.max_batch - n, *x.shape[1:]), x.dtype)])
        with torch.cuda.device(self.device):
            image = torch.as_tensor(np.ascontiguousarray(x)).to(self.device, self.dtypes[
                self.engine.get_tensor_dtype(self.input_name)]).contiguous()
            self.context.set_input_shape(self.input_name, tuple(image.shape))
            self.context.set_tensor_address(self.input_name, image.data_ptr())
            outs = {}
            for name in self.output_names:
                outs[name] = torch.empty(tuple(self.context.get_tensor_shape(name)),
                                         dtype=self.dtypes[self.engine.get_tensor_dtype(name)], device=self.device)
                self.context.set_tensor_address(name, outs[name].data_ptr())
            stream = torch.cuda.current_stream(self.device)
            if not self.context.execute_async_v3(stream.cuda_stream):
                raise UsageError(f"TensorRT could not run this engine on a batch of shape {tuple(image.shape)}")
            stream.synchronize()
        return {name: value[:n] for name, value in outs.items()}  # every output's first axis is the batch

    def named(self, x: np.ndarray, names: list[str]) -> list[torch.Tensor]:
        """The outputs ``names`` for a batch of any size (float32, on the CPU)."""
        parts = [self.run(x[i:i + self.max_batch]) for i in range(0, len(x), self.max_batch)]
        return [torch.cat([part[name] for part in parts]).float().cpu() for name in names]

    def outputs(self, x: np.ndarray):
        if self.info.output != "nms":
            return self.named(x, self.output_names)
        rows = []
        for start in range(0, len(x), self.max_batch):
            outs = self.run(x[start:start + self.max_batch])
            rows.append(plugin_rows(*(outs[name].cpu().numpy() for name in PLUGIN_OUTPUTS), first_image=start))
        return [np.concatenate(rows)]
