"""Hyperparameters: YOLOR's ``hyp.scratch.*.yaml`` keys, with its scratch values as defaults."""
from __future__ import annotations

from pathlib import Path

import yaml

DEFAULT_HYP = {
    "lr0": 0.01, "lrf": 0.2, "momentum": 0.937, "weight_decay": 0.0005, "warmup_epochs": 3.0,
    "warmup_momentum": 0.8, "warmup_bias_lr": 0.1, "box": 0.05, "cls": 0.5, "cls_pw": 1.0, "obj": 1.0,
    "obj_pw": 1.0, "iou_t": 0.2, "anchor_t": 4.0, "fl_gamma": 0.0, "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4,
    "degrees": 0.0, "translate": 0.1, "scale": 0.5, "shear": 0.0, "perspective": 0.0, "flipud": 0.0,
    "fliplr": 0.5, "mosaic": 1.0, "mixup": 0.0,
    "mlc": 0.05,  # gain of a [multilabel] head's BCE (joint detection and classification)
}


def load_hyp(path: str | Path | None) -> dict:
    """DEFAULT_HYP updated with a YOLOR-style hyp yaml; unknown keys are an error."""
    hyp = dict(DEFAULT_HYP)
    if path:
        given = yaml.safe_load(Path(path).read_text()) or {}
        unknown = sorted(set(given) - set(hyp))
        if unknown:
            raise ValueError(f"{path}: unknown hyperparameters {', '.join(unknown)}; known: {', '.join(sorted(hyp))}")
        hyp.update(given)
    return hyp
