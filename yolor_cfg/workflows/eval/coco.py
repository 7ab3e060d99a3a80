"""COCO metrics with pycocotools: AP, AP50, AP75, APs, APm, APl and AR, per-class AP, PR curves."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np

METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def coco_from_labels(images: list[str], labels: list[np.ndarray], names: list[str]) -> dict:
    """A COCO ground-truth dict from YOLO labels (class cx cy w h normalised); image ids = positions."""
    gt = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for i, n in enumerate(names)]}
    for image_id, (path, rows) in enumerate(zip(images, labels)):
        img = cv2.imread(path)
        h, w = img.shape[:2]
        gt["images"].append({"id": image_id, "file_name": Path(path).name, "width": w, "height": h})
        for c, cx, cy, bw, bh in rows.tolist():
            box = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": image_id, "category_id": int(c),
                                      "bbox": box, "area": box[2] * box[3], "iscrowd": 0})
    return gt


def evaluate(gt: dict, predictions: list[dict], verbose: bool = True):
    """Run COCOeval (bbox). Returns (metrics dict, COCOeval); prints as pycocotools prints."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))
        coco_gt.createIndex()
    if not predictions:
        return {k: 0.0 for k in METRIC_NAMES}, None
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(predictions)
    e = COCOeval(coco_gt, coco_dt, "bbox")
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    with quiet:
        e.evaluate()
        e.accumulate()
        e.summarize()
    return {k: float(v) for k, v in zip(METRIC_NAMES, e.stats)}, e


def per_class_ap(e, names: list[str]) -> list[dict]:
    """AP@[.5:.95] and AP@.5 of each category (area all, 100 detections)."""
    if e is None:
        return [{"class": n, "AP": 0.0, "AP50": 0.0} for n in names]
    precision = e.eval["precision"]  # T x R x K x A x M
    rows = []
    for k, cat in enumerate(e.params.catIds):
        p = precision[:, :, k, 0, -1]
        p50 = precision[0, :, k, 0, -1]
        rows.append({"class": names[cat] if cat < len(names) else str(cat),
                     "AP": float(p[p > -1].mean()) if (p > -1).any() else 0.0,
                     "AP50": float(p50[p50 > -1].mean()) if (p50 > -1).any() else 0.0})
    return rows


def format_class_table(rows: list[dict]) -> str:
    lines = [f"{'class':<20} {'AP50':>7} {'AP':>7}"]
    lines += [f"{r['class']:<20} {r['AP50']:>7.3f} {r['AP']:>7.3f}" for r in rows]
    return "\n".join(lines)


def plot_pr_curve(e, names: list[str], path: str | Path) -> None:
    """Precision-recall at IoU 0.5 per class and their mean, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    recall = np.linspace(0, 1, 101)
    if e is not None:
        precision = e.eval["precision"][0, :, :, 0, -1]  # R x K at IoU .5
        curves = []
        for k, cat in enumerate(e.params.catIds):
            p = precision[:, k]
            if (p > -1).any():
                p = np.where(p > -1, p, 0)
                curves.append(p)
                ax.plot(recall, p, lw=1, label=f"{names[cat]} {p.mean():.3f}")
        if curves:
            mean = np.mean(curves, 0)
            ax.plot(recall, mean, lw=3, color="black", label=f"all classes {mean.mean():.3f} mAP@0.5")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01), title="precision-recall (IoU 0.5)")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Non-interpolated AP of one class: sum over score thresholds of (recall step) x precision,
    tied scores counted together (as scikit-learn's average_precision_score). None without positives."""
    positives = labels.sum()
    if positives == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp, fp = np.cumsum(y), np.cumsum(1 - y)
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    precision = tp[last_of_tie] / (tp[last_of_tie] + fp[last_of_tie])
    recall = tp[last_of_tie] / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def multilabel_map(scores: np.ndarray, labels: np.ndarray) -> tuple[float, list[float | None]]:
    """Mean over classes (with at least one positive image) of the image-level AP."""
    per_class = [average_precision(scores[:, c], labels[:, c]) for c in range(labels.shape[1])]
    valid = [ap for ap in per_class if ap is not None]
    return (float(np.mean(valid)) if valid else 0.0), per_class
