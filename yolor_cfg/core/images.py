"""Image helpers shared by training, evaluation and detection: which files are images, and the
letterbox that every path (training data, validation, detection, export checks) resizes with."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
PAD_VALUE = 114


def truncated_jpeg(path: Path) -> bool:
    """A .jpg/.jpeg whose data stops before the end-of-image marker (OpenCV decodes the rest as grey)."""
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        return False
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 64))
        tail = f.read().rstrip(b"\x00\r\n ")
    return not tail.endswith(b"\xff\xd9")


def as_bgr(image: np.ndarray) -> np.ndarray:
    """An 8-bit BGR image from what cv2.imread and cameras give: H x W x 3, H x W (grey), H x W x 1,
    H x W x 4 (BGRA); ValueError for anything else, floats included (their scale is a guess)."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"an image is a NumPy array (or a path), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"an image array is uint8 BGR as cv2.imread returns it, got {image.dtype}; convert it "
                         "(for values in 0..1: (image * 255).round().astype(np.uint8))")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3 and image.shape[0] > 0 and image.shape[1] > 0:
        return image
    raise ValueError(f"an image array is H x W x 3 (BGR), H x W or H x W x 1 (grey) or H x W x 4 (BGRA), "
                     f"got shape {image.shape}")


def letterbox(img: np.ndarray, new_shape: tuple[int, int], color=(PAD_VALUE,) * 3, scaleup: bool = True):
    """Resize keeping the aspect ratio and pad to new_shape (h, w).

    Returns (image, (ratio_w, ratio_h), (pad_w, pad_h)): original x maps to x * ratio_w + pad_w
    (and y likewise). The two ratios differ slightly because sizes are rounded to whole pixels."""
    h0, w0 = img.shape[:2]
    r = min(new_shape[0] / h0, new_shape[1] / w0)
    if not scaleup:
        r = min(r, 1.0)
    new_unpad = (int(round(w0 * r)), int(round(h0 * r)))
    dw, dh = (new_shape[1] - new_unpad[0]) / 2, (new_shape[0] - new_unpad[1]) / 2
    if (w0, h0) != new_unpad:
        img = cv2.resize(img, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=color)
    return img, (new_unpad[0] / w0, new_unpad[1] / h0), (left, top)
