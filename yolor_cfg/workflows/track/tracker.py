"""The JDE tracker (Wang et al., "Towards Real-Time Multi-Object Tracking", 2020; as in FairMOT) on
detections and their appearance embeddings, given per frame as plain arrays.

Each frame: every track's Kalman state is predicted, then detections are matched in a cascade

1. confirmed tracks, tracked or lost, by appearance (cosine distance of the track's smoothed embedding
   to the detection's) fused with motion (``fuse_motion``: gated by, and blended with, the Mahalanobis
   distance from the track's prediction);
2. confirmed tracks still tracked last frame and still unmatched, by IoU with their predicted boxes;
3. unconfirmed tracks (born last frame) by IoU.

A tracked track left unmatched becomes lost; an unconfirmed one is dropped; a lost one is removed once
it has gone unmatched for more than ``max_lost`` frames. An unmatched detection scoring at least
``birth_score`` starts an unconfirmed track, confirmed when matched on the next frame (on the first
frame, at once). A track gets its id when it is confirmed, so the ids shown run 1, 2, 3, ... without
gaps. Each output box is the track's Kalman-filtered box, as in JDE, not the raw detection.

``match="iou"`` is the same tracker with IoU (at ``iou_thresh``) in place of the appearance cost in
step 1: the baseline the embeddings are measured against."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ...core.checks import UsageError
from .association import embedding_distance, fuse_motion, iou_distance, linear_assignment
from .kalman import BoxKalman, xyah_to_xyxy, xyxy_to_xyah


@dataclass
class Track:
    """One track's state: Kalman mean (8,) and covariance (8, 8), its last detection's score, its smoothed
    unit embedding (None with match="iou"), the last frame it was matched; id 0 until confirmed."""

    mean: np.ndarray
    covariance: np.ndarray
    score: float
    embedding: np.ndarray | None
    last_frame: int
    id: int = 0
    lost: bool = False

    @property
    def box(self) -> np.ndarray:
        """The filtered (or predicted) box as corners (x1, y1, x2, y2)."""
        return xyah_to_xyxy(self.mean[:4])


class _Frame(NamedTuple):
    """One frame's detections: xyah (N, 4), boxes (N, 4) as corners, scores (N,), embeddings (N, D) or None."""

    xyah: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    embeddings: np.ndarray | None


class Tracker:
    """``update`` once per frame, in order; one Tracker per video.

    appearance_thresh, iou_thresh, unconfirmed_thresh: the largest cost matched in steps 1, 2 and 3
    (JDE's 0.7, 0.5, 0.7); lambda_: the weight of appearance against motion in step 1 (JDE's 0.98);
    alpha: the embedding's moving-average weight of the past (JDE's 0.9)."""

    def __init__(self, match: str = "embed", birth_score: float = 0.5, max_lost: int = 30,
                 appearance_thresh: float = 0.7, iou_thresh: float = 0.5, unconfirmed_thresh: float = 0.7,
                 lambda_: float = 0.98, alpha: float = 0.9, kalman: BoxKalman | None = None):
        if match not in ("embed", "iou"):
            raise UsageError(f"match must be 'embed' or 'iou', got {match!r}")
        self.match, self.birth_score, self.max_lost = match, birth_score, max_lost
        self.appearance_thresh, self.iou_thresh = appearance_thresh, iou_thresh
        self.unconfirmed_thresh = unconfirmed_thresh
        self.lambda_, self.alpha = lambda_, alpha
        self.kf = kalman or BoxKalman()
        self.tracks: list[Track] = []  # confirmed, tracked or lost
        self.unconfirmed: list[Track] = []
        self.frame = 0
        self._next_id = 1
        self._dets: _Frame | None = None  # the frame being associated

    def update(self, boxes_xyxy, scores, embeddings=None) -> list[tuple[int, np.ndarray, float]]:
        """This frame's detections: boxes (N, 4) as corners, scores (N,), embeddings (N, D) (needed with
        match="embed", ignored with "iou"). Returns (id, filtered box (4,), score) for each confirmed
        track matched in this frame, by id."""
        boxes, scores, emb = self._checked(boxes_xyxy, scores, embeddings)
        self.frame += 1
        self._dets = _Frame(xyxy_to_xyah(boxes), boxes, scores, emb)
        self._predict(self.tracks + self.unconfirmed)
        dets = np.arange(len(boxes))

        pool = self.tracks
        if self.match == "embed":
            cost, thresh = self._appearance_cost(pool, dets), self.appearance_thresh
        else:
            cost, thresh = self._iou_cost(pool, dets), self.iou_thresh
        unmatched, dets = self._assign(pool, dets, cost, thresh)
        tracked = [pool[i] for i in unmatched if not pool[i].lost]
        unmatched, dets = self._assign(tracked, dets, self._iou_cost(tracked, dets), self.iou_thresh)
        for i in unmatched:
            tracked[i].lost = True
        unmatched, dets = self._assign(self.unconfirmed, dets, self._iou_cost(self.unconfirmed, dets),
                                       self.unconfirmed_thresh)
        confirmed = [t for i, t in enumerate(self.unconfirmed) if i not in unmatched]
        self.unconfirmed = []
        for d in dets[scores[dets] >= self.birth_score]:
            mean, cov = self.kf.initiate(self._dets.xyah[d])
            track = Track(mean, cov, float(scores[d]), None if emb is None else _unit(emb[d]), self.frame)
            (confirmed if self.frame == 1 else self.unconfirmed).append(track)
        for track in confirmed:
            track.id, self._next_id = self._next_id, self._next_id + 1
        self.tracks = [t for t in self.tracks if self.frame - t.last_frame <= self.max_lost] + confirmed
        return sorted(((t.id, t.box, t.score) for t in self.tracks if t.last_frame == self.frame),
                      key=lambda r: r[0])

    def _checked(self, boxes, scores, embeddings):
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        scores = np.asarray(scores, dtype=float).reshape(-1)
        if len(scores) != len(boxes):
            raise UsageError(f"{len(boxes)} boxes but {len(scores)} scores")
        if not np.all(np.isfinite(boxes)) or np.any(boxes[:, 2:] <= boxes[:, :2]):
            raise UsageError("boxes must be finite corners (x1, y1, x2, y2) with x2 > x1 and y2 > y1")
        if self.match == "iou" or not len(boxes):
            return boxes, scores, None
        if embeddings is None:
            raise UsageError('match="embed" needs the detections\' embeddings (or use match="iou")')
        emb = np.asarray(embeddings, dtype=float)
        if emb.ndim != 2 or len(emb) != len(boxes):
            raise UsageError(f"embeddings must be ({len(boxes)}, D), one row per box; got shape {emb.shape}")
        return boxes, scores, emb

    def _predict(self, tracks: list[Track]) -> None:
        if not tracks:
            return
        means = np.stack([t.mean for t in tracks])
        means[[t.lost for t in tracks], 7] = 0  # a lost box keeps its size (JDE)
        means, covs = self.kf.predict(means, np.stack([t.covariance for t in tracks]))
        for t, mean, cov in zip(tracks, means, covs):
            t.mean, t.covariance = mean, cov

    def _appearance_cost(self, tracks: list[Track], dets: np.ndarray) -> np.ndarray:
        if not tracks or not len(dets):
            return np.zeros((len(tracks), len(dets)))
        cost = embedding_distance(np.stack([t.embedding for t in tracks]), self._dets.embeddings[dets])
        return fuse_motion(self.kf, cost, [t.mean for t in tracks], [t.covariance for t in tracks],
                           self._dets.xyah[dets], self.lambda_)

    def _iou_cost(self, tracks: list[Track], dets: np.ndarray) -> np.ndarray:
        return iou_distance(np.array([t.box for t in tracks]), self._dets.boxes[dets])

    def _assign(self, tracks: list[Track], dets: np.ndarray, cost: np.ndarray, thresh: float):
        """Matches tracks to detections ``dets`` (indices into the frame's) and updates the matched tracks;
        returns the unmatched tracks' positions in ``tracks`` and the detections left."""
        matches, unmatched, left = linear_assignment(cost, thresh)
        xyah, _, scores, emb = self._dets
        for i, j in matches:
            track, d = tracks[i], dets[j]
            track.mean, track.covariance = self.kf.update(track.mean, track.covariance, xyah[d])
            track.score, track.last_frame, track.lost = float(scores[d]), self.frame, False
            if emb is not None:
                track.embedding = _unit(self.alpha * track.embedding + (1 - self.alpha) * _unit(emb[d]))
        return unmatched, dets[left]


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v
