"""The Python API: one function per command-line workflow, doing exactly what the command does and
returning its result object (the CLI is a thin argparse layer over these).

    from yolor_cfg import api
    run = api.train("cfg/yolor_tiny.cfg", data="synth", epochs=1)
    metrics = api.val("cfg/yolor_tiny.cfg", weights=run.best)
    report = api.export("cfg/yolor_tiny.cfg", "tiny.onnx", weights=run.best)
    found = api.detect("images/", onnx="tiny.onnx")
    speed = api.benchmark("cfg/yolor_tiny.cfg", img=256, backends=["eager", "fused"])

(``yolor_cfg.compile`` and ``yolor_cfg.load`` are here too.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .core import checks
from .compiler import model as models
from .compiler.model import model_from_checkpoint, shipped_cfg  # noqa: F401  (the API's model entry points)


class Model(models.Model):
    """What ``yolor_cfg.compile`` and ``yolor_cfg.load`` return: ``models.Model`` (fuse, optimize,
    weights in and out) plus ``predict``, which needs the detection workflow above the model."""

    def predict(self, image, conf: float = 0.25, iou: float = 0.45, max_det: int = 300):
        """Detections for one image (BGR array or path) in its original pixel coordinates:
        a list of ``Detection(box=(x1, y1, x2, y2), score, cls, name)``."""
        from .workflows.detect import Predictor

        device = next(self.parameters()).device
        was_training = self.training
        try:
            return Predictor(self, device=device)(image, conf, iou, max_det)
        finally:
            self.train(was_training)


def compile(cfg: str | Path, img_size: int | tuple[int, int] | None = None, dialect: str | None = None) -> Model:
    """``yolor_cfg.compile``: a cfg file compiled into a Model (see ``models.compile``)."""
    return models.compile(cfg, img_size, dialect, cls=Model)


def load(path: str | Path) -> Model:
    """``yolor_cfg.load``: a Model rebuilt from one of our checkpoints alone."""
    return models.load(path, cls=Model)


def _model(cfg, weights=None, img_size=None, dialect=None):
    """A compiled cfg with its weights (any supported format), or a model given as it is."""
    if not isinstance(cfg, (str, Path)):
        return cfg
    model = compile(checks.existing_file(cfg, "cfg"), img_size=img_size, dialect=dialect)
    if weights:
        model.load_weights(weights)
    return model


@dataclass
class TrainResult:
    save_dir: Path
    best: Path | None  # None when stopped early by max_steps
    last: Path | None
    metrics: dict = field(default_factory=dict)


def train(cfg: str | Path = "", data: str = "synth", **options) -> TrainResult:
    """``yolor-cfg train``: ``options`` are TrainOptions fields (epochs, batch, img, weights, hyp, device,
    workers, project, name, exist_ok, resume, seed, ...), checked as the command line checks them."""
    from .workflows.train.trainer import TrainOptions, Trainer

    result = Trainer(TrainOptions(cfg=str(cfg), data=str(data), **options)).train()
    best, last = result.get("best"), result.get("last")
    return TrainResult(Path(result["save_dir"]), Path(best) if best else None, Path(last) if last else None,
                       result.get("metrics", {}))


def synth(n_train: int | None = None, n_val: int | None = None, img: int = 256, seed: int = 0,
          out: str | Path | None = None, *, tracks: bool = False, frames: int = 60) -> Path:
    """``yolor-cfg data synth``: a built-in synthetic dataset; returns its data.yaml. By default coloured
    shapes on textured backgrounds (YOLO labels and a COCO json; ``n_train``/``n_val`` images, 2000/200);
    with ``tracks``, MOTChallenge sequences of look-alike objects with their own appearance that cross
    and pass behind an occluder (``n_train``/``n_val`` sequences, 4/2, of ``frames`` frames). Without
    ``out``, the cached copy for these settings (built on first use); with ``out``, a new folder (refused
    when it exists and is not empty)."""
    from .core.files import atomic_dir
    from .workflows.train.synth import build_synth, ensure_synth
    from .workflows.train.synth_tracks import build_synth_tracks, ensure_synth_tracks

    n_train = (4 if tracks else 2000) if n_train is None else n_train
    n_val = (2 if tracks else 200) if n_val is None else n_val
    for value, what, low in ((n_train, "n_train", 1), (n_val, "n_val", 1), (seed, "seed", 0), (frames, "frames", 1)):
        checks.int_in(value, what, low)
    checks.img_size(img, "img")
    if out is None:
        return ensure_synth_tracks(n_train, n_val, frames, img, seed) if tracks else ensure_synth(n_train, n_val, img, seed)
    out = Path(checks.output_dir(out, "dataset folder"))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise checks.UsageError(f"--out {out}: exists and is not empty; data synth writes a whole new dataset and "
                                "never mixes it into another one: give a new folder")
    with atomic_dir(out) as tmp:
        if tracks:
            build_synth_tracks(tmp, n_train, n_val, frames, img, seed=seed, final=out)
        else:
            build_synth(tmp, n_train, n_val, img, seed, final=out)
    return out / "data.yaml"


def _val_data(data_config, img: int, batch: int = 16, workers: int = 0, verbose: bool = False):
    """(loader, class names, COCO ground truth) of a loaded data config's val split, letterboxed to ``img``."""
    import torch

    from .workflows.eval.coco import coco_from_labels
    from .workflows.train.data import DetectionDataset, build_index, collate

    index = build_index(data_config, "val")
    if verbose:
        print(f"val: {index.summary()}")
    loader = torch.utils.data.DataLoader(DetectionDataset(index, img), batch_size=batch, num_workers=workers,
                                         collate_fn=collate)
    return loader, data_config.names, coco_from_labels(index.images, index.labels, data_config.names)


def _artifact_or_model(cfg, weights, img_size, device="cpu", dialect=None):
    """A runtime for ``weights`` when it is an exported artifact (ONNX, OpenVINO), else the compiled cfg
    with its weights (or a model given as it is)."""
    from .deploy.runtimes import TorchRuntime, open_artifact

    if weights is not None:
        checks.existing_path(weights, "weights")
    if weights is not None and not TorchRuntime.accepts(Path(weights)):
        return open_artifact(weights, img_size=img_size)
    if cfg is None:
        if weights is None:
            raise checks.UsageError("this needs a cfg (with weights), or an exported model (ONNX, OpenVINO) as weights")
        return open_artifact(weights, device=device)  # one of our checkpoints: it carries its cfg
    return _model(cfg, weights, img_size, dialect)


def _artifact_img(runtime, img: int | None, weights) -> int:
    """The size to letterbox to for an opened artifact: its own (``img``, when given, must be it)."""
    h, w = runtime.info.input_size
    if img is not None and (img, img) != (h, w):
        raise checks.UsageError(f"{weights}: takes {h}x{w} inputs; leave out --img, or export at {img}")
    return h


def val(cfg=None, weights=None, data: str = "synth", img: int | None = None, batch: int = 16, conf: float = 0.001,
        iou: float = 0.65, max_det: int = 300, device: str = "cpu", out: str | Path | None = "runs/val",
        workers: int = 2, verbose: bool = True, dialect: str | None = None):
    """``yolor-cfg val``: COCO metrics of a cfg + weights (or a model, or an exported ONNX / OpenVINO
    artifact given as ``weights``) on the data's val split; returns a ValResult (map50, map, metrics,
    per-class AP). ``img`` defaults to 256, or to an artifact's input size."""
    from .workflows.eval.validate import run_validation
    from .deploy.runtimes import Runtime
    from .workflows.train.data import DataConfig

    checks.int_in(batch, "val batch", 1, checks.MAX_BATCH)
    checks.int_in(workers, "workers", 0, 256)
    dev = checks.torch_device(device)
    model = _artifact_or_model(cfg, weights, img, device, dialect)
    if isinstance(model, Runtime):
        img = _artifact_img(model, img, weights)
        if model.info.input_size != (img, img):
            raise checks.UsageError(f"{weights}: val letterboxes to a square; this model takes "
                                    f"{model.info.input_size[0]}x{model.info.input_size[1]}")
    img = checks.img_size(img or 256, "val image size")
    loader, names, gt = _val_data(DataConfig.load(data), img, batch, workers, verbose)
    return run_validation(model if isinstance(model, Runtime) else model.to(dev), loader, names, gt, conf, iou,
                          max_det, device=dev, out_dir=out, verbose=verbose)


def export(cfg, out: str | Path, weights=None, dialect: str | None = None, format: str = "onnx", int8: bool = False,
           data: str | None = None, calib: int = 300, max_drop: float = 1.0, int8_search: str = "auto",
           int8_calibration: str | None = None, log=print, **options):
    """``yolor-cfg export``: the model in a registered format (``format``: onnx, openvino, ... see
    ``deploy.formats.FORMATS``), self-checked against PyTorch; ``options`` are ExportOptions fields (img_size, batch, dynamic, dynamic_hw, opset, fuse,
    half, raw, nms, conf, iou, max_det, tolerance, names). Returns the ExportReport.

    ``int8``: post-training quantization calibrated on ``calib`` images of ``data``'s train split, then
    the accuracy guard on its val split; when mAP@0.5 drops by more than ``max_drop`` points, the
    sensitivity search keeps the fewest damaged activations float until it does not (``int8_search``:
    "auto", "always" to rank even when the first try passes, "off"); AccuracyGuardError when nothing
    meets the budget. ``int8_calibration``: onnxruntime's calibration method (minmax, percentile,
    entropy; None: this CPU's default). Returns the QuantizeReport."""
    from .deploy.export import export_float, export_int8
    from .deploy.formats import ExportOptions, get_format

    get_format(format)
    size = options.get("img_size")
    for given in (cfg, weights):
        if isinstance(given, (str, Path)):
            checks.not_an_input(out, [given], "export output")
    model = _model(cfg, weights, size, dialect)
    if size is not None:
        options["img_size"] = checks.height_width(size)
    opts = ExportOptions(**options)
    opts.names = opts.names or list(getattr(model, "names", []) or [])
    if not int8:
        if data is not None:
            raise checks.UsageError("--data is for --int8 (calibration and the accuracy guard)")
        if int8_search != "auto" or int8_calibration is not None:
            raise checks.UsageError("--int8-search and --int8-calibration are for --int8")
        return export_float(model, out, format, opts)
    if data is None:
        raise checks.UsageError("--int8 needs --data: calibration images come from its train split and the "
                                "accuracy guard runs on its val split")
    from .workflows.train.data import DataConfig, build_index

    data_config = DataConfig.load(data)
    h, _ = opts.img_size or (model.graph.net.height, model.graph.net.width)
    loader, names, _ = _val_data(data_config, h)
    opts.names = opts.names or list(getattr(model, "names", []) or []) or names
    train_paths = build_index(data_config, "train").images
    from .workflows.eval.validate import run_validation

    def score(runtime):
        return run_validation(runtime, loader, names, verbose=False, progress=False)

    return export_int8(model, out, format, opts, train_paths, score, calib, max_drop, int8_search,
                       int8_calibration, log=log)


def detect(source: str | Path, cfg=None, weights=None, onnx=None, out: str | Path = "runs/detect",
           img_size=None, conf: float = 0.25, iou: float = 0.45, max_det: int = 300,
           names: list[str] | None = None, progress: bool = True, device: str = "cpu", dialect: str | None = None):
    """``yolor-cfg detect``: detections for images, folders, globs and videos, with a cfg + weights (or a
    model) or an exported artifact (ONNX, OpenVINO folder) as ``weights`` (``onnx`` is the older name
    for an ONNX file); writes annotated files and returns DetectResults."""
    from .workflows.detect import Predictor, run_detect
    from .deploy.runtimes import OnnxRuntime

    if onnx is not None and weights is not None:
        raise checks.UsageError("give the model once: --weights (any artifact) or --onnx")
    if onnx is not None:
        model = OnnxRuntime.open(checks.existing_file(onnx, "ONNX model"), img_size=img_size)
    else:
        model = _artifact_or_model(cfg, weights, img_size, device, dialect)
    predictor = Predictor(model, img_size=img_size, names=names, device=checks.torch_device(device))
    return run_detect(predictor, str(source), out, conf, iou, max_det, progress=progress)


def track(source: str | Path, weights=None, cfg=None, out: str | Path = "runs/track", match: str = "embed",
          conf: float = 0.3, iou: float = 0.45, img_size=None, device: str = "cpu", video: bool = True,
          progress: bool = True):
    """``yolor-cfg track``: detect (and embed) every frame of a video, an image folder or a MOTChallenge
    sequence with any runtime, associate across frames (``match``: "embed" = appearance + motion, then
    IoU; "iou" = IoU only) and write ``out/<name>.txt`` (MOTChallenge results) and ``out/<name>.mp4``
    (track ids drawn). Returns the TrackResult."""
    from .workflows.detect import VIDEO_SUFFIXES, Predictor
    from .workflows.track.run import folder_frames, image_frames, track_frames, video_frames
    from .workflows.train.mot_data import is_sequence, open_sequence

    if match not in ("embed", "iou"):
        raise checks.UsageError(f"--match {match!r}: choose embed or iou")
    checks.probability(conf, "confidence threshold (conf)")
    checks.probability(iou, "IoU threshold (iou)")
    src = Path(checks.existing_path(source, "track source"))
    out = checks.output_dir(out, "track output folder")
    predictor = Predictor(_artifact_or_model(cfg, weights, img_size, device), img_size=img_size,
                          device=checks.torch_device(device))
    fps = 25.0
    if src.is_dir() and is_sequence(src):
        seq = open_sequence(src)
        name, inputs, fps = seq.name, seq.frames, seq.fps or fps
    elif src.is_dir():
        name, inputs = src.name, folder_frames(src)
    elif src.suffix.lower() in VIDEO_SUFFIXES:
        name, inputs = src.stem, [src]
    else:
        raise checks.UsageError(f"{source}: track a video, a folder of frames or a MOTChallenge sequence folder")
    for given in inputs:
        for written in (out / f"{name}.txt", out / f"{name}.mp4"):
            checks.not_an_input(written, [given], "track output")
    if inputs == [src]:
        frames, fps = video_frames(src)
    else:
        frames = image_frames(inputs)
    out.mkdir(parents=True, exist_ok=True)
    return track_frames(predictor, frames, name, out, match, conf, iou, fps, video)


def val_tracking(weights=None, data: str = "synth-tracks", cfg=None, match: str = "embed", conf: float = 0.3,
                 iou: float = 0.45, out: str | Path = "runs/val_track", device: str = "cpu", video: bool = False):
    """``yolor-cfg val --task track``: HOTA, MOTA, IDF1, ID switches (TrackEval) of tracking every val
    sequence of ``data`` that has ground truth; returns ({sequence | 'COMBINED': metrics}, TrackResults)."""
    from .workflows.detect import Predictor
    from .workflows.track.run import evaluate_tracking
    from .workflows.train.data import DataConfig

    if match not in ("embed", "iou"):
        raise checks.UsageError(f"--match {match!r}: choose embed or iou")
    sequences = DataConfig.load(data).sequences("val")
    if not sequences:
        raise checks.UsageError(f"{data}: its val split lists no MOTChallenge sequences (tracking needs them)")
    out = checks.output_dir(out, "val output folder")
    out.mkdir(parents=True, exist_ok=True)
    predictor = Predictor(_artifact_or_model(cfg, weights, None, device), device=checks.torch_device(device))
    return evaluate_tracking(predictor, sequences, out, match, conf, iou, video)


def benchmark(cfg=None, weights=None, img: int | None = None, batch: int = 1, device: str = "cpu", backends=None,
              warmup: int = 2, repeat: int = 10, data: str | None = None, calib: int = 64, log=print) -> dict:
    """``yolor-cfg benchmark``: latency, throughput and roofline fraction per backend (and, with
    ``data``, each backend's mAP@0.5 and mAP@0.5:0.95 on its val split, INT8 backends calibrated on
    ``calib`` images of its train split); returns the report dict. ``img`` defaults to 640. ``weights``
    may be an exported artifact (ONNX, OpenVINO): then that artifact alone is measured, at its size."""
    from .workflows.benchmark import run_benchmark
    from .deploy.runtimes import Runtime

    model = _artifact_or_model(cfg, weights, img, device)
    loader = names = calibration = None
    if isinstance(model, Runtime):
        img = _artifact_img(model, img, weights)
    img = img or 640
    if data:
        from .workflows.train.data import DataConfig, build_index

        data_config = DataConfig.load(data)
        loader, names, _ = _val_data(data_config, img)
        calibration = build_index(data_config, "train").images
    chosen = list(backends) if backends else None
    return run_benchmark(model, img, batch, checks.torch_device(device), chosen, warmup, repeat, loader, names,
                         calibration, calib, log=log)
