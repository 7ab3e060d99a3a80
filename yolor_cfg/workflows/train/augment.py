"""Augmentation with OpenCV, driven by YOLOR's hyp keys (hsv_h/s/v, degrees, translate, scale,
shear, perspective, fliplr, flipud, mosaic, mixup). Every random draw comes from the numpy
Generator passed in, so a seeded run is repeatable whatever the number of workers.

Labels are arrays of rows (class, x1, y1, x2, y2) in pixels; further columns (an identity) ride along
with their box, untouched."""
from __future__ import annotations

import math

import cv2
import numpy as np

from ...core.images import PAD_VALUE


def augment_hsv(img: np.ndarray, rng: np.random.Generator, hgain=0.5, sgain=0.5, vgain=0.5) -> None:
    """In-place HSV jitter (BGR image)."""
    if not (hgain or sgain or vgain):
        return
    r = rng.uniform(-1, 1, 3) * [hgain, sgain, vgain] + 1
    hue, sat, val = cv2.split(cv2.cvtColor(img, cv2.COLOR_BGR2HSV))
    x = np.arange(0, 256, dtype=np.int16)
    lut_hue = ((x * r[0]) % 180).astype(np.uint8)
    lut_sat = np.clip(x * r[1], 0, 255).astype(np.uint8)
    lut_val = np.clip(x * r[2], 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hue, lut_hue), cv2.LUT(sat, lut_sat), cv2.LUT(val, lut_val)))
    cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR, dst=img)


def random_affine(img: np.ndarray, labels: np.ndarray, rng: np.random.Generator, degrees=0.0, translate=0.1,
                  scale=0.5, shear=0.0, perspective=0.0, border=(0, 0)):
    """Rotate/scale/shear/translate (and optional perspective); boxes follow their corners and
    keep only those that stay large enough and not too thin."""
    height = img.shape[0] + border[0] * 2
    width = img.shape[1] + border[1] * 2
    C = np.eye(3)
    C[0, 2], C[1, 2] = -img.shape[1] / 2, -img.shape[0] / 2
    P = np.eye(3)
    P[2, 0], P[2, 1] = rng.uniform(-perspective, perspective, 2)
    R = np.eye(3)
    a = rng.uniform(-degrees, degrees)
    s = rng.uniform(1 - scale, 1 + scale)
    R[:2] = cv2.getRotationMatrix2D(angle=a, center=(0, 0), scale=s)
    S = np.eye(3)
    S[0, 1], S[1, 0] = (math.tan(v * math.pi / 180) for v in rng.uniform(-shear, shear, 2))
    T = np.eye(3)
    T[0, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * width
    T[1, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * height
    M = T @ S @ R @ P @ C
    if border[0] or border[1] or (M != np.eye(3)).any():
        if perspective:
            img = cv2.warpPerspective(img, M, dsize=(width, height), borderValue=(PAD_VALUE,) * 3)
        else:
            img = cv2.warpAffine(img, M[:2], dsize=(width, height), borderValue=(PAD_VALUE,) * 3)
    n = len(labels)
    if n:
        xy = np.ones((n * 4, 3))
        xy[:, :2] = labels[:, [1, 2, 3, 4, 1, 4, 3, 2]].reshape(n * 4, 2)
        xy = xy @ M.T
        xy = (xy[:, :2] / xy[:, 2:3] if perspective else xy[:, :2]).reshape(n, 8)
        x, y = xy[:, [0, 2, 4, 6]], xy[:, [1, 3, 5, 7]]
        new = np.concatenate((x.min(1), y.min(1), x.max(1), y.max(1))).reshape(4, n).T
        new[:, [0, 2]] = new[:, [0, 2]].clip(0, width)
        new[:, [1, 3]] = new[:, [1, 3]].clip(0, height)
        keep = box_candidates(labels[:, 1:5].T * s, new.T)
        labels = labels[keep]
        labels[:, 1:5] = new[keep]
    return img, labels


def box_candidates(box1, box2, wh_thr=2, ar_thr=20, area_thr=0.1):
    """Boxes (before, after augmentation) worth keeping: > wh_thr pixels, > area_thr of their area."""
    w1, h1 = box1[2] - box1[0], box1[3] - box1[1]
    w2, h2 = box2[2] - box2[0], box2[3] - box2[1]
    ar = np.maximum(w2 / (h2 + 1e-16), h2 / (w2 + 1e-16))
    return (w2 > wh_thr) & (h2 > wh_thr) & (w2 * h2 / (w1 * h1 + 1e-16) > area_thr) & (ar < ar_thr)


def mosaic(load, index: int, n_items: int, size: int, rng: np.random.Generator, hyp: dict):
    """Four images around a random centre on a 2size x 2size canvas, then a random affine back to size.

    ``load(i)`` returns (image resized so its long side is ``size``, labels in its pixels; every call the
    same number of columns, even with no rows)."""
    yc, xc = (int(v) for v in rng.uniform(size * 0.5, size * 1.5, 2))
    indices = [index] + [int(i) for i in rng.integers(0, n_items, 3)]
    canvas = np.full((size * 2, size * 2, 3), PAD_VALUE, dtype=np.uint8)
    all_labels = []
    for k, idx in enumerate(indices):
        img, labels = load(idx)
        h, w = img.shape[:2]
        if k == 0:
            x1a, y1a, x2a, y2a = max(xc - w, 0), max(yc - h, 0), xc, yc
            x1b, y1b, x2b, y2b = w - (x2a - x1a), h - (y2a - y1a), w, h
        elif k == 1:
            x1a, y1a, x2a, y2a = xc, max(yc - h, 0), min(xc + w, size * 2), yc
            x1b, y1b, x2b, y2b = 0, h - (y2a - y1a), min(w, x2a - x1a), h
        elif k == 2:
            x1a, y1a, x2a, y2a = max(xc - w, 0), yc, xc, min(size * 2, yc + h)
            x1b, y1b, x2b, y2b = w - (x2a - x1a), 0, w, min(y2a - y1a, h)
        else:
            x1a, y1a, x2a, y2a = xc, yc, min(xc + w, size * 2), min(size * 2, yc + h)
            x1b, y1b, x2b, y2b = 0, 0, min(w, x2a - x1a), min(y2a - y1a, h)
        canvas[y1a:y2a, x1a:x2a] = img[y1b:y2b, x1b:x2b]
        labels = labels.copy()
        labels[:, [1, 3]] += x1a - x1b
        labels[:, [2, 4]] += y1a - y1b
        all_labels.append(labels)
    labels = np.concatenate(all_labels, 0)
    np.clip(labels[:, 1:5], 0, 2 * size, out=labels[:, 1:5])
    return random_affine(canvas, labels, rng, degrees=hyp.get("degrees", 0.0), translate=hyp.get("translate", 0.1),
                         scale=hyp.get("scale", 0.5), shear=hyp.get("shear", 0.0),
                         perspective=hyp.get("perspective", 0.0), border=(-size // 2, -size // 2))
