"""How far two outputs of one model are apart (every parity check uses this one measure)."""
from __future__ import annotations

import numpy as np


def max_error(ours: np.ndarray, ref: np.ndarray) -> float:
    """Max abs error, relative where values exceed 1 (boxes are in pixels)."""
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    return float((diff / np.maximum(np.abs(ref.astype(np.float64)), 1.0)).max()) if diff.size else 0.0
