"""Association: cost matrices between tracks (rows) and detections (columns), JDE's fusion of appearance
with motion, and linear assignment with a cost threshold.

The assignment uses ``lap.lapjv`` (the Jonker-Volgenant solver JDE and ByteTrack use) when ``lap`` is
installed, else SciPy's ``linear_sum_assignment``; both solve the same problem (see
``linear_assignment``), so they give the same matches up to ties."""
from __future__ import annotations

import numpy as np

from ...core.checks import UsageError
from .kalman import CHI2_95, BoxKalman

try:
    import lap
except ImportError:  # optional: SciPy's solver is the fallback
    lap = None


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=-1)


def iou_matrix(a, b) -> np.ndarray:
    """IoU (N, M) between boxes a (N, 4) and b (M, 4) as corners (x1, y1, x2, y2); 0 where a box
    has no area."""
    a, b = np.asarray(a, dtype=float).reshape(-1, 4), np.asarray(b, dtype=float).reshape(-1, 4)
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def iou_distance(a, b) -> np.ndarray:
    """1 - IoU (N, M): 0 for the same box, 1 for disjoint ones."""
    return 1.0 - iou_matrix(a, b)


def embedding_distance(track_embeddings, det_embeddings) -> np.ndarray:
    """Cosine distance (N, M) in [0, 2] between embeddings (N, D) and (M, D), each L2-normalised here
    (a zero vector stays zero: distance 1 to everything)."""
    def unit(x):
        x = np.asarray(x, dtype=float)
        x = x.reshape(len(x), -1)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return np.clip(1.0 - unit(track_embeddings) @ unit(det_embeddings).T, 0.0, 2.0)


def fuse_motion(kf: BoxKalman, cost, means, covariances, det_xyah, lambda_: float = 0.98,
                gate: float = CHI2_95) -> np.ndarray:
    """JDE's appearance-motion cost: for each track (mean (N, 8), covariance (N, 8, 8)) and detection
    (xyah (M, 4)), ``lambda_ * cost + (1 - lambda_) * d2`` with d2 the squared Mahalanobis distance of
    the detection from the track's prediction; inf where d2 > gate (a detection the motion rules out,
    however alike it looks)."""
    cost = np.array(cost, dtype=float).reshape(len(means), len(det_xyah))
    for i, (mean, cov) in enumerate(zip(means, covariances)):
        d2 = kf.gating_distance(mean, cov, det_xyah)
        cost[i] = np.where(d2 > gate, np.inf, lambda_ * cost[i] + (1 - lambda_) * d2)
    return cost


def linear_assignment(cost, thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matches (K, 2) of (row, column), unmatched rows, unmatched columns: the assignment minimising
    the sum of matched costs plus thresh/2 for each row and column left unmatched (lapjv's
    ``cost_limit``), so a pair is matched only when its cost is below ``thresh``; inf never matches."""
    cost = np.asarray(cost, dtype=float)
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.empty((0, 2), dtype=int), np.arange(n), np.arange(m)
    cost = np.minimum(cost, thresh + 1.0)  # inf and above: equally unmatchable, and finite for the solvers
    if lap is not None:
        _, x, _ = lap.lapjv(cost, extend_cost=True, cost_limit=thresh)
        rows = np.flatnonzero(x >= 0)
        cols = x[rows]
    else:
        try:
            from scipy.optimize import linear_sum_assignment
        except ImportError:
            raise UsageError("tracking needs a linear assignment solver: pip install lap (or scipy)") from None
        # minimising sum(c - thresh) over pairs with c < thresh is lapjv's objective less a constant
        rows, cols = linear_sum_assignment(np.minimum(cost - thresh, 0.0))
        keep = cost[rows, cols] < thresh
        rows, cols = rows[keep], cols[keep]
    matches = np.stack([rows, cols], axis=1).astype(int)
    return matches, np.setdiff1d(np.arange(n), rows), np.setdiff1d(np.arange(m), cols)
