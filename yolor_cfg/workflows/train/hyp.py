"""Hyperparameters: YOLOR's ``hyp.scratch.*.yaml`` keys, with its scratch values as defaults."""
from __future__ import annotations

from pathlib import Path

import difflib
import math

import yaml

from ...core.checks import UsageError, read_text
DEFAULT_HYP = {
    "lr0": 0.01, "lrf": 0.2, "momentum": 0.937, "weight_decay": 0.0005, "warmup_epochs": 3.0,
    "warmup_momentum": 0.8, "warmup_bias_lr": 0.1, "box": 0.05, "cls": 0.5, "cls_pw": 1.0, "obj": 1.0,
    "obj_pw": 1.0, "iou_t": 0.2, "anchor_t": 4.0, "fl_gamma": 0.0, "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4,
    "degrees": 0.0, "translate": 0.1, "scale": 0.5, "shear": 0.0, "perspective": 0.0, "flipud": 0.0,
    "fliplr": 0.5, "mosaic": 1.0, "mixup": 0.0,
    "mlc": 0.05,  # gain of a [multilabel] head's BCE (joint detection and classification)
    "emb": 0.05,  # gain of an [embedding] layer's identity cross-entropy (joint detection and embedding)
}


# what each hyperparameter may be: probabilities in 0..1, fractions, non-negative gains (YOLOR's meanings)
PROBABILITIES = ("flipud", "fliplr", "mosaic", "mixup")
RANGES = {**{k: (0.0, 1.0) for k in PROBABILITIES}, "lrf": (0.0, 1.0), "momentum": (0.0, 1.0),
          "warmup_momentum": (0.0, 1.0), "iou_t": (0.0, 1.0), "hsv_h": (0.0, 1.0), "hsv_s": (0.0, 1.0),
          "hsv_v": (0.0, 1.0), "translate": (0.0, 1.0), "scale": (0.0, 1.0), "perspective": (0.0, 0.001),
          "degrees": (0.0, 360.0), "shear": (0.0, 90.0)}


def check_hyp(hyp: dict, source: str) -> None:
    """UsageError naming every value outside its meaning (mosaic is a probability; gains are not negative)."""
    bad = []
    for key, value in hyp.items():
        low, high = RANGES.get(key, (0.0, math.inf))
        if key == "lr0" and value <= 0:
            bad.append(f"lr0: {value!r} (must be > 0)")
        elif not low <= value <= high:
            what = "a probability" if key in PROBABILITIES else "in range"
            bad.append(f"{key}: {value!r} ({what}: {low:g} to {high:g})")
    if bad:
        raise UsageError(f"{source}: {', '.join(bad)}")


def load_hyp(path: str | Path | None) -> dict:
    """DEFAULT_HYP updated with a YOLOR-style hyp yaml; unknown keys and non-numbers are UsageErrors."""
    hyp = dict(DEFAULT_HYP)
    if path:
        try:
            given = yaml.safe_load(read_text(path, "hyperparameter file"))
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: YAML syntax error: {exc}") from None
        if given is None:
            raise UsageError(f"{path}: holds no hyperparameters (empty, or only comments); leave out --hyp for "
                             "YOLOR's scratch values")
        if not isinstance(given, dict):
            raise UsageError(f"{path}: a hyperparameter file is a mapping of names to numbers (lr0: 0.01, ...)")
        unknown = sorted(map(str, set(given) - set(hyp)))
        if unknown:
            hints = [f"{k} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, hyp, 1)) else k for k in unknown]
            raise UsageError(f"{path}: unknown hyperparameters {', '.join(hints)}; known: {', '.join(sorted(hyp))}")
        bad = [f"{k}: {v!r}" for k, v in given.items()
               if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)]
        if bad:
            raise UsageError(f"{path}: hyperparameters must be numbers: {', '.join(bad)}")
        hyp.update(given)
        check_hyp(hyp, str(path))
    return hyp
