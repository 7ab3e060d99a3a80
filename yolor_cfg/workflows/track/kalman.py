"""A constant-velocity Kalman filter on boxes, the motion model of JDE, FairMOT and ByteTrack.

The state is (cx, cy, a, h, vcx, vcy, va, vh): box centre, aspect ratio w/h, height and their velocities
per frame; a detection measures (cx, cy, a, h) directly. The noise is relative to the box height (a box
twice as tall moves and jitters twice as many pixels), except the aspect ratio's, which is fixed and small.

Our own code rather than a library: filterpy has had no release since 2018 and, like other general
Kalman libraries, keeps one filter per object with fixed noise matrices, while this model's noise
depends on the state (the height) and the tracker wants every track predicted in one batched step.
All functions take one state or a batch: mean (..., 8), covariance (..., 8, 8)."""
from __future__ import annotations

import numpy as np

CHI2_95 = 9.4877  # the chi-square distribution's 0.95 quantile for 4 degrees of freedom: the gate

_F = np.eye(8) + np.eye(8, k=4)  # x' = x + v (one frame)
_H = np.eye(4, 8)  # the measurement is the first half of the state


def xyxy_to_xyah(boxes) -> np.ndarray:
    """Boxes (..., 4) as corners (x1, y1, x2, y2) -> (cx, cy, w/h, h)."""
    b = np.asarray(boxes, dtype=float)
    w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    return np.stack([b[..., 0] + w / 2, b[..., 1] + h / 2, w / h, h], axis=-1)


def xyah_to_xyxy(xyah) -> np.ndarray:
    """(cx, cy, w/h, h) (..., 4) -> corners (x1, y1, x2, y2)."""
    s = np.asarray(xyah, dtype=float)
    w, h = s[..., 2] * s[..., 3], s[..., 3]
    return np.stack([s[..., 0] - w / 2, s[..., 1] - h / 2, s[..., 0] + w / 2, s[..., 1] + h / 2], axis=-1)


def _diag(std: np.ndarray) -> np.ndarray:
    """(..., n) standard deviations -> (..., n, n) diagonal covariances."""
    return np.square(std)[..., None] * np.eye(std.shape[-1])


class BoxKalman:
    """The filter's model; the state lives with the caller (a track keeps its mean and covariance).

    ``std_position`` and ``std_velocity`` are the process noise per frame as fractions of the height
    (JDE's 1/20 and 1/160); the measurement noise of the position is ``std_position`` too."""

    def __init__(self, std_position: float = 1 / 20, std_velocity: float = 1 / 160):
        self.std_position, self.std_velocity = std_position, std_velocity

    def _std(self, h: np.ndarray, pos: float, vel: float, aspect: float, aspect_vel: float) -> np.ndarray:
        p, v = self.std_position * h, self.std_velocity * h
        return np.stack([pos * p, pos * p, np.full_like(h, aspect), pos * p,
                         vel * v, vel * v, np.full_like(h, aspect_vel), vel * v], axis=-1)

    def initiate(self, xyah) -> tuple[np.ndarray, np.ndarray]:
        """A new state at the measurement (..., 4), at rest, with twice the position uncertainty of a
        prediction and ten times the velocity uncertainty (nothing is known of the motion yet)."""
        z = np.asarray(xyah, dtype=float)
        mean = np.concatenate([z, np.zeros_like(z)], axis=-1)
        return mean, _diag(self._std(z[..., 3], 2, 10, 1e-2, 1e-5))

    def predict(self, mean, covariance) -> tuple[np.ndarray, np.ndarray]:
        """The state one frame later: mean F x, covariance F P F' + Q(h)."""
        q = _diag(self._std(mean[..., 3], 1, 1, 1e-2, 1e-5))
        return mean @ _F.T, _F @ covariance @ _F.T + q

    def project(self, mean, covariance) -> tuple[np.ndarray, np.ndarray]:
        """The predicted measurement (..., 4) and its covariance H P H' + R(h) (..., 4, 4)."""
        h = mean[..., 3]
        r = _diag(np.stack([self.std_position * h, self.std_position * h, np.full_like(h, 1e-1),
                            self.std_position * h], axis=-1))
        return mean[..., :4], covariance[..., :4, :4] + r

    def update(self, mean, covariance, xyah) -> tuple[np.ndarray, np.ndarray]:
        """The state corrected by a measurement (..., 4): gain K = P H' S^-1, x + K (z - Hx), P - K S K'."""
        z_pred, s = self.project(mean, covariance)
        gain = np.linalg.solve(s, covariance[..., :4, :]).swapaxes(-1, -2)  # S symmetric: (S^-1 H P)' = P H' S^-1
        innovation = np.asarray(xyah, dtype=float) - z_pred
        return mean + (gain @ innovation[..., None])[..., 0], covariance - gain @ s @ gain.swapaxes(-1, -2)

    def gating_distance(self, mean, covariance, xyah) -> np.ndarray:
        """Squared Mahalanobis distances (M,) from one state's predicted measurement to M measurements
        (M, 4); above CHI2_95 a measurement is implausible for the state at the 5% level."""
        z_pred, s = self.project(mean, covariance)
        d = np.asarray(xyah, dtype=float).reshape(-1, 4) - z_pred
        chol = np.linalg.cholesky(s)
        y = np.linalg.solve(chol, d.T)  # L y = d, so |y|^2 = d' S^-1 d
        return np.sum(y * y, axis=0)
