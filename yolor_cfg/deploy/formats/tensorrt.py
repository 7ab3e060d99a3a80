"""--format engine: a TensorRT engine, built from our checked ONNX by TensorRT's ONNX parser for the GPU
it will run on (an engine runs only on that kind of GPU, with the TensorRT version that built it), then
checked against PyTorch through TensorRT itself.

Precision: fp32 builds turn TF32 off (TensorRT allows it by default; its 10-bit mantissas give relative
errors of the order of 1e-3, above the 1e-4 parity tolerance); --half sets the FP16 builder flag (layers
in fp16 where TensorRT finds them faster; input and outputs stay float32, so one runtime path serves all).

--nms appends TensorRT's own EfficientNMS_TRT plugin instead of the ONNX NonMaxSuppression graph
(``append_efficient_nms``); the runtime turns its four outputs into the same [K, 7] rows.

INT8: explicit quantization (TensorRT 10 deprecates its calibrators): the float ONNX quantized by
onnxruntime into Q/DQ pairs the way TensorRT reads them (``tensorrt_qdq``), then built with the INT8 and
FP16 flags, so the Q/DQ pairs fix where int8 runs and the layers left float may run in fp16. (TensorRT
10.12 deprecates these precision flags in favour of strongly typed networks; every 10.x still takes them,
and pyproject pins tensorrt below 11.)"""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from ...core.checks import UsageError
from .base import ConvertedFormat, ExportError, ExportOptions, onnx_metadata, register, write_sidecar

ENGINE = ".engine"
# a dynamic-batch engine is built for batches 1 .. max(--batch, 16) (16: the batch val and the INT8 guard run);
# tactics are chosen for --batch, and the runtime splits larger batches
MAX_DYNAMIC_BATCH = 16
FLOAT_ONNX = "float.onnx"  # left by quantize beside a scratch float engine (the INT8 flow's tries reuse it)
QDQ_ONNX = "int8.onnx"  # the QDQ graph a quantized scratch engine was built from (for the sensitivity ranking)
NMS_PLUGIN = "EfficientNMS_TRT"
PLUGIN_DOMAIN = "TRT"  # TensorRT's parser finds a plugin by op_type alone; the domain keeps onnx.checker's hands off
PLUGIN_OUTPUTS = ("num_detections", "detection_boxes", "detection_scores", "detection_classes")
NMS_DESCRIPTION = "nms: [N, 7] batch, x1, y1, x2, y2, score, class (TensorRT EfficientNMS_TRT)"


def append_efficient_nms(model, det_name: str, conf: float, iou: float, max_det: int):
    """``model`` (decoded detections [B, N, 5+nc]: cx, cy, w, h, objectness, class scores) with TensorRT's
    EfficientNMS_TRT plugin appended, reading boxes [B, N, 4] (centre-size, ``box_coding`` 1) and scores
    obj * cls [B, N, nc]; graph outputs: the plugin's num_detections [B, 1] int32, detection_boxes
    [B, max_det, 4] (x1, y1, x2, y2), detection_scores [B, max_det], detection_classes [B, max_det] int32,
    then the detections themselves (kept so that export checks the very engine it writes against PyTorch).
    Per-class NMS, at most ``max_det`` boxes an image, best first, as our ONNX NMS."""
    import onnx
    from onnx import TensorProto, helper

    from ..nms import _const

    g = model.graph
    det = next(o for o in g.output if o.name == det_name)
    dims = det.type.tensor_type.shape.dim
    batch = dims[0].dim_param or dims[0].dim_value
    p = "efficient_nms/"
    g.initializer.extend([_const(p + "s0", [0]), _const(p + "s4", [4]), _const(p + "s5", [5]),
                          _const(p + "end", [2**62]), _const(p + "ax2", [2])])
    g.node.extend([
        helper.make_node("Slice", [det_name, p + "s0", p + "s4", p + "ax2"], [p + "boxes"]),
        helper.make_node("Slice", [det_name, p + "s4", p + "s5", p + "ax2"], [p + "obj"]),
        helper.make_node("Slice", [det_name, p + "s5", p + "end", p + "ax2"], [p + "cls"]),
        helper.make_node("Mul", [p + "cls", p + "obj"], [p + "scores"]),
        helper.make_node(NMS_PLUGIN, [p + "boxes", p + "scores"], list(PLUGIN_OUTPUTS), name="nms",
                         domain=PLUGIN_DOMAIN, plugin_version="1", background_class=-1, box_coding=1,
                         class_agnostic=0, iou_threshold=float(iou), max_output_boxes=int(max_det),
                         score_activation=0, score_threshold=float(conf)),
    ])
    kept = onnx.ValueInfoProto()
    kept.CopyFrom(det)
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info("num_detections", TensorProto.INT32, [batch, 1]),
                     helper.make_tensor_value_info("detection_boxes", TensorProto.FLOAT, [batch, max_det, 4]),
                     helper.make_tensor_value_info("detection_scores", TensorProto.FLOAT, [batch, max_det]),
                     helper.make_tensor_value_info("detection_classes", TensorProto.INT32, [batch, max_det]), kept])
    if not any(o.domain == PLUGIN_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(PLUGIN_DOMAIN, 1))
    return model


def batch_profile(opts: ExportOptions) -> tuple[int, int, int]:
    """(min, opt, max) batch of the engine's input: fixed --batch, or 1 .. max(--batch, 16) with --dynamic."""
    return (1, opts.batch, max(opts.batch, MAX_DYNAMIC_BATCH)) if opts.dynamic else (opts.batch,) * 3


def build_engine(onnx_path: Path, engine_path: Path, precision: str, profile: tuple[int, int, int]) -> None:
    """TensorRT's ONNX parser and builder: ``onnx_path`` -> a serialized engine at ``engine_path``;
    ``precision`` "fp32" (TF32 off), "fp16" (FP16 flag) or "int8" (a Q/DQ graph: INT8 + FP16 flags);
    ``profile``: the input's (min, opt, max) batch. ExportError with TensorRT's errors when it fails."""
    from ..runtimes.tensorrt import collecting_logger, require_tensorrt

    trt = require_tensorrt()
    logger = collecting_logger(trt)
    trt.init_libnvinfer_plugins(logger, "")  # EfficientNMS_TRT
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10 networks are always explicit-batch
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [parser.get_error(i).desc() for i in range(parser.num_errors)]
        raise ExportError("TensorRT's ONNX parser refused the model: " + "; ".join(errors[:5] or logger.lines[-5:]))
    config = builder.create_builder_config()
    if precision == "fp32":
        config.clear_flag(trt.BuilderFlag.TF32)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    image = network.get_input(0)
    if image.shape[0] == -1:
        lo, opt, hi = profile
        chw = tuple(image.shape)[1:]
        shapes = builder.create_optimization_profile()
        shapes.set_shape(image.name, (lo, *chw), (opt, *chw), (hi, *chw))
        config.add_optimization_profile(shapes)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError("TensorRT could not build the engine: " + ("; ".join(logger.lines[-5:]) or "no reason given"))
    engine_path.write_bytes(bytes(serialized))


def tensorrt_qdq(float_onnx: Path, out: Path, inputs, keep_float: dict[str, str] | None = None,
                 calibration: str = "percentile", calibration_cache: Path | None = None):
    """The Q/DQ ONNX TensorRT builds INT8 from: onnxruntime's static quantization of ``float_onnx``
    calibrated on ``inputs``, as TensorRT's explicit quantization reads it: signed int8 with zero points 0
    (TensorRT's quantization is symmetric), per-channel weights, biases left float (TensorRT dequantizes
    int8, not onnxruntime's int32 biases), and only the inputs of convolutions quantized, not their outputs
    (TensorRT fuses each Q/DQ pair into the convolution that reads it, and a convolution with its
    activation and the next quantization; a pair before the activation would round what it reads). The
    heads and ``keep_float``'s nodes stay float, as in ``int8.quantize_onnx``. Percentile calibration by
    default: symmetric ranges spend half their codes on negative values that SiLU and leaky ReLU outputs
    barely reach, so the rarest outliers cost more resolution than with asymmetric uint8 (the trained tiny
    model on the synthetic set, once: mAP@0.5 -0.05 points against min-max's -0.54); min-max where a
    histogram cannot be made. Returns a QuantizeReport."""
    from ..int8 import OnnxQuantOptions, quantize_onnx

    report = quantize_onnx(float_onnx, out, inputs, OnnxQuantOptions(calibration=calibration), keep_float=keep_float,
                           calibration_cache=calibration_cache, for_tensorrt=True)
    report.notes = [report.notes[0] + "; built with TensorRT's INT8 and FP16 flags", *report.notes[1:]]
    return report


@register
class TensorRtFormat(ConvertedFormat):
    name = "engine"
    summary = "a folder NAME_engine/ holding NAME.engine + metadata.json (TensorRT, for the GPU it is built on)"
    suffix = "_engine"
    folder = True
    folder_holds = "a TensorRT engine"
    runtime = "tensorrt"
    requires = ("tensorrt",)
    extra = "tensorrt"
    int8 = True
    device = "cuda"
    refuses = {"raw": "--raw is for ONNX: the TensorRT export writes decoded detections (or NMS rows with --nms)",
               "dynamic_hw": "--dynamic hw is for ONNX: a TensorRT engine here has a fixed height and width (use "
                             "--dynamic for a dynamic batch)",
               "head_inputs": "the TensorRT export writes decoded detections; its INT8 keeps the heads float"}

    def missing(self) -> str | None:
        import torch

        why = super().missing()
        if torch.cuda.is_available():
            return why
        cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        gpu = (f"--format {self.name} builds a TensorRT engine for the GPU it will run on, and no CUDA GPU is "
               f"visible here (torch {torch.__version__}, {cuda})")
        return gpu + ("; " + why.replace(f"--format {self.name} needs", "it also needs") if why else "")

    def owns(self, path: Path) -> bool:
        return path.suffix == ENGINE or path.name == "metadata.json"

    def published_name(self, part: Path, out: Path) -> str:
        return self.stem(out) + ENGINE if part.suffix == ENGINE else part.name

    def publish(self, artifact: Path, out) -> None:
        """The engine and its metadata (not the ONNX files a scratch artifact keeps for the INT8 flow)."""
        from ...core.files import atomic_dir

        with atomic_dir(out) as folder:
            for part in sorted(Path(artifact).iterdir()):
                if self.owns(part):
                    shutil.copyfile(part, folder / self.published_name(part, Path(out)))

    def onnx_options(self, opts):
        return replace(opts, half=False, nms=False)  # --half is a builder flag; --nms the plugin, appended below

    def convert(self, onnx_path, folder, out, opts, report):
        """TensorRT builds ``NAME.engine`` (``--nms``: with the EfficientNMS_TRT plugin appended to the ONNX),
        run on the GPU; parity compares the ONNX model's own outputs (fp32 1e-4, as ONNX; --half 1e-2)."""
        import onnx

        from ..onnx_export import OUTPUT
        from ..runtimes.tensorrt import TensorRtRuntime

        meta = onnx_metadata(onnx_path)
        proto = onnx.load(str(onnx_path))
        compared = [o.name for o in proto.graph.output]  # the outputs parity compares with PyTorch's
        if opts.nms:
            if compared != [OUTPUT]:
                raise ExportError(f"--nms: the engine's rows keep no link to this model's other outputs "
                                  f"({', '.join(compared[1:])}): export it without --nms")
            proto = append_efficient_nms(proto, OUTPUT, opts.conf, opts.iou, opts.max_det)
            onnx.checker.check_model(proto)
            onnx.save(proto, str(onnx_path))
            meta |= {"output": NMS_DESCRIPTION, "outputs": json.dumps(["nms"]),
                     "nms_thresholds": json.dumps({"conf": opts.conf, "iou": opts.iou, "max_det": opts.max_det})}
            report.op_counts[NMS_PLUGIN] = 1
        engine = folder / (self.stem(out) + ENGINE)
        profile = batch_profile(opts)
        build_engine(onnx_path, engine, "fp16" if opts.half else "fp32", profile)
        write_sidecar(folder, meta | self._facts("fp16" if opts.half else "fp32", profile))
        runtime = TensorRtRuntime.open(engine)
        return lambda x: runtime.named(x, compared)

    def _facts(self, precision: str, profile: tuple[int, int, int]) -> dict[str, str]:
        """What the sidecar adds to the ONNX metadata: how and where the engine was built."""
        import tensorrt as trt
        import torch

        return {"precision": precision, "format": self.name, "tensorrt": trt.__version__,
                "gpu": torch.cuda.get_device_name(), "batch_profile": json.dumps(list(profile))}

    def quantize(self, float_artifact, out, inputs, keep_float, options, calibration_cache, model=None):
        """An INT8 engine in ``out`` from the Q/DQ ONNX ``tensorrt_qdq`` makes of the float engine's ONNX,
        calibrated on ``inputs``. That ONNX is exported from ``model`` on first use and left beside the float
        engine (a scratch folder in the INT8 flow and the benchmark) for the later tries and the ranking;
        the Q/DQ ONNX stays in ``out`` (``publish`` leaves both out)."""
        from ..onnx_export import export_onnx
        from ..runtimes.base import read_sidecar, model_in_folder

        meta = read_sidecar(model_in_folder(Path(float_artifact), ENGINE, "TensorRT"))
        lo, opt, hi = profile = tuple(json.loads(meta["batch_profile"]))
        float_onnx = Path(float_artifact) / FLOAT_ONNX
        if not float_onnx.is_file():
            if model is None:
                raise UsageError("TensorRT INT8 quantizes the model's ONNX: pass model=")
            export_onnx(model, float_onnx, ExportOptions(img_size=tuple(json.loads(meta["input_size"])), batch=opt,
                                                         dynamic=lo != hi, fuse=meta.get("fused") != "false",
                                                         names=json.loads(meta.get("names", "[]"))))
        out = Path(out)
        out.mkdir()
        calibration = getattr(options, "calibration", None) or "percentile"
        report = tensorrt_qdq(float_onnx, out / QDQ_ONNX, inputs, keep_float, calibration, calibration_cache)
        build_engine(out / QDQ_ONNX, out / ("model" + ENGINE), "int8", profile)
        write_sidecar(out, onnx_metadata(float_onnx) | self._facts("int8", profile))
        report.path = str(out)
        return report

    def sensitivity(self, float_artifact, quantized, inputs, scratch: Path):
        from ..int8 import prepare_for_quantization
        from ..int8_search import onnx_ranking

        prepared = prepare_for_quantization(Path(float_artifact) / FLOAT_ONNX, scratch / "pre.onnx")
        return onnx_ranking(prepared, Path(quantized) / QDQ_ONNX, inputs)

    def conv_macs(self, float_artifact):
        import onnx

        from ..int8_search import conv_macs

        float_onnx = Path(float_artifact) / FLOAT_ONNX
        return sum(conv_macs(onnx.load(str(float_onnx))).values()) if float_onnx.is_file() else 0
