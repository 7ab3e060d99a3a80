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

from . import checks
from .models import compile, load, model_from_checkpoint, shipped_cfg  # noqa: F401  (the API's model entry points)


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
    from .train.trainer import TrainOptions, Trainer

    result = Trainer(TrainOptions(cfg=str(cfg), data=str(data), **options)).train()
    best, last = result.get("best"), result.get("last")
    return TrainResult(Path(result["save_dir"]), Path(best) if best else None, Path(last) if last else None,
                       result.get("metrics", {}))


def val(cfg, weights=None, data: str = "synth", img: int = 256, batch: int = 16, conf: float = 0.001,
        iou: float = 0.65, max_det: int = 300, device: str = "cpu", out: str | Path | None = "runs/val",
        workers: int = 2, verbose: bool = True):
    """``yolor-cfg val``: COCO metrics of a cfg + weights (or a model) on the data's val split; returns a
    ValResult (map50, map, metrics, per-class AP)."""
    import torch

    from .eval.coco import coco_from_labels
    from .eval.validate import run_validation
    from .train.data import DataConfig, DetectionDataset, build_index, collate

    checks.img_size(img, "val image size")
    checks.int_in(batch, "val batch", 1, checks.MAX_BATCH)
    checks.int_in(workers, "workers", 0, 256)
    model = _model(cfg, weights, img)
    data_config = DataConfig.load(data)
    index = build_index(data_config, "val")
    if verbose:
        print(f"val: {index.summary()}")
    loader = torch.utils.data.DataLoader(DetectionDataset(index, img), batch_size=batch, num_workers=workers,
                                         collate_fn=collate)
    dev = checks.torch_device(device)
    gt = coco_from_labels(index.images, index.labels, data_config.names)
    return run_validation(model.to(dev), loader, data_config.names, gt, conf, iou, max_det, device=dev,
                          out_dir=out, verbose=verbose)


def export(cfg, out: str | Path, weights=None, dialect: str | None = None, **options):
    """``yolor-cfg export``: fused ONNX, self-checked against PyTorch; ``options`` are ExportOptions
    fields (img_size, batch, dynamic, dynamic_hw, opset, fuse, half, raw, nms, conf, iou, max_det,
    tolerance, names). Returns the ExportReport."""
    from .export import ExportOptions, export_onnx

    size = options.get("img_size")
    model = _model(cfg, weights, size, dialect)
    if isinstance(size, int):
        options["img_size"] = (size, size)
    return export_onnx(model, out, ExportOptions(**options))


def detect(source: str | Path, cfg=None, weights=None, onnx=None, out: str | Path = "runs/detect",
           img_size=None, conf: float = 0.25, iou: float = 0.45, max_det: int = 300,
           names: list[str] | None = None, progress: bool = True):
    """``yolor-cfg detect``: detections for images, folders, globs and videos, with a cfg + weights (or a
    model) or an exported ONNX file; writes annotated files and returns DetectResults."""
    from .detect import Predictor, run_detect
    from .io.checkpoint import FORMAT, is_torch_file, read_torch_file

    if onnx is not None:
        predictor = Predictor(onnx_path=onnx, img_size=img_size, names=names)
    elif cfg is None:
        raise checks.UsageError("detect needs a cfg (with weights), or an ONNX file")
    else:
        if weights and is_torch_file(weights):
            ckpt = read_torch_file(weights)
            names = names or (ckpt.get("names") if isinstance(ckpt, dict) and ckpt.get("format") == FORMAT else None)
        predictor = Predictor(_model(cfg, weights, img_size), names=names)
    return run_detect(predictor, str(source), out, conf, iou, max_det, progress=progress)


def benchmark(cfg, weights=None, img: int = 640, batch: int = 1, device: str = "cpu", backends=None,
              warmup: int = 2, repeat: int = 10, data: str | None = None, log=print) -> dict:
    """``yolor-cfg benchmark``: latency, throughput and roofline fraction per backend (and, with
    ``data``, each backend's mAP@0.5 change on its val split); returns the report dict."""
    import torch

    from .benchmark import BACKENDS, run_benchmark

    model = _model(cfg, weights, img)
    loader = names = None
    if data:
        from .train.data import DataConfig, DetectionDataset, build_index, collate

        data_config = DataConfig.load(data)
        index = build_index(data_config, "val")
        loader = torch.utils.data.DataLoader(DetectionDataset(index, img), batch_size=16, collate_fn=collate)
        names = data_config.names
    chosen = list(backends) if backends else list(BACKENDS[:3] + BACKENDS[4:])
    return run_benchmark(model, img, batch, checks.torch_device(device), chosen, warmup, repeat, loader, names, log=log)
