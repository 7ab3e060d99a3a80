"""A built-in synthetic detection dataset: coloured shapes on textured backgrounds (OpenCV).

Deterministic per seed. Writes the YOLO txt layout (images/{train,val}, labels/{train,val},
data.yaml) and a COCO json for the val split."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import yaml

CLASSES = ("circle", "square", "triangle")


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth colour gradient + coarse noise + random lines: texture without objects."""
    base = rng.integers(40, 215, size=3)
    ramp = np.linspace(-1, 1, size, dtype=np.float32)
    gx, gy = np.meshgrid(ramp, ramp)
    img = base[None, None, :] + (gx[..., None] * rng.uniform(-40, 40, 3) + gy[..., None] * rng.uniform(-40, 40, 3))
    noise = cv2.resize(rng.normal(0, 18, (size // 8, size // 8, 3)).astype(np.float32), (size, size))
    img = np.clip(img + noise + rng.normal(0, 6, (size, size, 3)), 0, 255).astype(np.uint8)
    for _ in range(rng.integers(2, 7)):
        p1, p2 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.line(img, tuple(int(v) for v in p1), tuple(int(v) for v in p2), colour, int(rng.integers(1, 3)))
    return img


def _draw(img: np.ndarray, cls: int, cx: float, cy: float, r: float, colour, rng) -> tuple[float, float, float, float]:
    """Draw shape ``cls`` and return its tight box (x1, y1, x2, y2)."""
    if cls == 0:
        cv2.circle(img, (int(round(cx)), int(round(cy))), int(round(r)), colour, -1, cv2.LINE_AA)
        return cx - r, cy - r, cx + r, cy + r
    if cls == 1:
        pts = np.array([[cx - r, cy - r], [cx + r, cy - r], [cx + r, cy + r], [cx - r, cy + r]])
    else:
        angle = rng.uniform(0, 2 * np.pi)
        pts = np.array([[cx + r * np.cos(angle + k * 2 * np.pi / 3), cy + r * np.sin(angle + k * 2 * np.pi / 3)]
                        for k in range(3)])
    cv2.fillPoly(img, [np.round(pts).astype(np.int32)], colour, cv2.LINE_AA)
    return pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()


def make_image(rng: np.random.Generator, size: int, max_objects: int = 5):
    img = _background(rng, size)
    boxes = []
    for _ in range(rng.integers(1, max_objects + 1)):
        cls = int(rng.integers(0, len(CLASSES)))
        r = rng.uniform(0.05, 0.2) * size
        cx, cy = rng.uniform(r, size - r, 2)
        # keep shapes apart so every box is visible
        if any(abs(cx - (b[1] + b[3]) / 2) < r + (b[3] - b[1]) / 2 and abs(cy - (b[2] + b[4]) / 2) < r + (b[4] - b[2]) / 2
               for b in boxes):
            continue
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x1, y1, x2, y2 = _draw(img, cls, cx, cy, r, colour, rng)
        boxes.append((cls, max(x1, 0), max(y1, 0), min(x2, size), min(y2, size)))
    return img, boxes


def build_synth(out: str | Path, n_train: int = 2000, n_val: int = 200, img: int = 256, seed: int = 0,
                final: str | Path | None = None) -> Path:
    """Write the dataset under ``out``; returns the path of its data.yaml. ``final``: the folder it will
    be moved to when ``out`` is a scratch folder (data.yaml's ``path:`` names it)."""
    out = Path(out)
    rng = np.random.default_rng(seed)
    coco = {"images": [], "annotations": [], "categories": [{"id": i, "name": n} for i, n in enumerate(CLASSES)]}
    for split, count in (("train", n_train), ("val", n_val)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image, boxes = make_image(rng, img)
            name = f"{split}_{i:05d}"
            cv2.imwrite(str(out / "images" / split / f"{name}.png"), image)
            lines = [f"{c} {(x1 + x2) / 2 / img:.6f} {(y1 + y2) / 2 / img:.6f} {(x2 - x1) / img:.6f} {(y2 - y1) / img:.6f}"
                     for c, x1, y1, x2, y2 in boxes]
            (out / "labels" / split / f"{name}.txt").write_text("\n".join(lines) + "\n")
            if split == "val":
                coco["images"].append({"id": i, "file_name": f"{name}.png", "width": img, "height": img})
                for c, x1, y1, x2, y2 in boxes:
                    coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": i, "category_id": c,
                                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                                                "iscrowd": 0})
    (out / "val_coco.json").write_text(json.dumps(coco))
    data = {"path": str(Path(final or out).resolve()), "train": "images/train", "val": "images/val", "nc": len(CLASSES),
            "names": list(CLASSES), "val_coco": "val_coco.json"}
    (out / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return out / "data.yaml"


def synth_cache_dir() -> Path:
    import os

    return Path(os.environ.get("YOLOR_CFG_CACHE", Path.home() / ".cache" / "yolor-cfg"))


def ensure_synth(n_train: int = 2000, n_val: int = 200, img: int = 256, seed: int = 0) -> Path:
    """The cached synthetic dataset for these settings (built on first use)."""
    root = synth_cache_dir() / f"synth-{n_train}-{n_val}-{img}-{seed}"
    data = root / "data.yaml"
    if not data.exists():
        tmp = root.with_name(root.name + ".partial")
        build_synth(tmp, n_train, n_val, img, seed, final=root)
        tmp.rename(root)
    return data
