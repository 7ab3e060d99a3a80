"""The validation loop shared by ``yolor-cfg val`` and training."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

import numpy as np

from ...core.checks import UsageError, int_in, output_dir, probability
from ...deploy.runtimes import as_runtime
from .coco import coco_from_labels, evaluate, format_class_table, multilabel_map, per_class_ap, plot_pr_curve
from .nms import non_max_suppression, scale_boxes


@dataclass
class ValResult:
    metrics: dict
    per_class: list[dict]
    predictions: list[dict]
    coco_eval: object = None

    @property
    def map50(self) -> float:
        return self.metrics["AP50"]

    @property
    def map(self) -> float:
        return self.metrics["AP"]


class NoMetricError(UsageError):
    """The val split cannot produce a metric (no images, or no labelled boxes)."""


def check_can_score(index) -> None:
    """NoMetricError when a split has no usable image or no labelled box: COCO mAP is undefined there
    (pycocotools would report -1, or 0 for nothing), so no number is printed for it."""
    if not index.images:
        raise NoMetricError("the val split has no usable images, so no mAP can be computed:\n" + index.summary())
    if not any(len(rows) for rows in index.labels):
        raise NoMetricError(f"the val split's {len(index.images)} images have no labelled boxes (no label files, "
                            "or empty ones), so no mAP can be computed; give a val split with labels")


def _refusal(prediction, runtime, classes: int) -> str | None:
    """Why this model's output cannot be scored against the data (None when it can)."""
    if prediction.detections is None:
        return (f"val needs decoded detections; this {runtime.kind} model outputs NMS rows "
                "(export it without --nms)")
    predicted = prediction.detections.shape[-1] - 5
    if predicted != classes:
        return (f"the model predicts {predicted} classes but the data has {classes} (nc): metrics would compare "
                "unrelated class ids; validate on data with its classes, or retrain the model for these "
                "(train --weights W on a cfg with this classes=)")
    return None


def run_validation(model, loader, names: list[str], gt: dict | None = None, conf: float = 0.001, iou: float = 0.65,
                   max_det: int = 300, device="cpu", out_dir: str | Path | None = None, verbose: bool = True,
                   progress: bool = True, autocast_dtype=None) -> ValResult:
    """Predict on every batch, NMS, map boxes back to original pixels, score with pycocotools.
    ``model`` is any runtime, or a torch model (run on ``device``, under autocast when ``autocast_dtype``).

    Image ids are the positions in the loader's dataset index (as ``coco_from_labels`` numbers them)."""
    probability(conf, "confidence threshold (conf)")
    probability(iou, "IoU threshold (iou)")
    int_in(max_det, "max detections (max_det)", 1, 100_000)
    if out_dir is not None:
        out_dir = output_dir(out_dir, "val output folder")
    index = loader.dataset.index
    check_can_score(index)
    gt = gt or coco_from_labels(index.images, index.labels, names)
    runtime = as_runtime(model, device, autocast_dtype)
    predictions = []
    position = {p: i for i, p in enumerate(index.images)}
    image_scores: dict[int, np.ndarray] = {}
    batches = tqdm(loader, desc="val", leave=False, disable=not progress)
    refusal = None  # raised after the loop, so that the loader's worker processes end first
    for images, _, paths, shapes in batches:
        prediction = runtime(images.float() / 255)
        refusal = _refusal(prediction, runtime, len(names))
        if refusal:
            break
        if prediction.class_scores is not None:  # a [multilabel] head's image-level scores
            for path, row in zip(paths, prediction.class_scores.numpy()):
                image_scores[position[path]] = row
        dets = prediction.detections
        for det, path, (shape0, ratio, pad) in zip(non_max_suppression(dets.float(), conf, iou, max_det=max_det), paths, shapes):
            boxes = scale_boxes(det[:, :4], ratio, pad, shape0).tolist()
            for (x1, y1, x2, y2), score, cls in zip(boxes, det[:, 4].tolist(), det[:, 5].tolist()):
                predictions.append({"image_id": position[path], "category_id": int(cls),
                                    "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
                                    "score": round(score, 5)})
    if refusal:
        raise UsageError(refusal)
    metrics, e = evaluate(gt, predictions, verbose=verbose)
    rows = per_class_ap(e, names)
    if image_scores:
        ids = sorted(image_scores)
        labels = np.zeros((len(ids), len(names)))
        for k, i in enumerate(ids):
            labels[k, index.labels[i][:, 0].astype(int)] = 1
        metrics["mlc_mAP"], _ = multilabel_map(np.stack([image_scores[i] for i in ids]), labels)
        if verbose:
            print(f"multi-label classification mAP: {metrics['mlc_mAP']:.4f}")
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "predictions.json").write_text(json.dumps(predictions))
        (out_dir / "metrics.json").write_text(json.dumps({"metrics": metrics, "per_class": rows}, indent=2))
        plot_pr_curve(e, names, out_dir / "pr_curve.png")
        if verbose:
            print(format_class_table(rows))
    return ValResult(metrics, rows, predictions, e)
