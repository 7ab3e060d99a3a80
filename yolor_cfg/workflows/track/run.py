"""Tracking a source with any runtime: detect (and embed) each frame, associate across frames, write the
MOTChallenge result file and an annotated video with the track ids; and tracking evaluation on
sequences with ground truth."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ...core.checks import UsageError
from ...core.files import atomic_path
from ...core.images import IMAGE_SUFFIXES
from ..detect import VIDEO_SUFFIXES, Predictor
from .metrics import evaluate
from .mot import MotTable, from_tracker, read_gt, write_results
from .tracker import Tracker


@dataclass
class TrackResult:
    name: str
    frames: int
    tracks: int  # distinct ids
    results: Path  # the MOTChallenge file
    video: Path | None
    seconds: float  # detection + association, reading and writing excluded
    table: MotTable = field(repr=False, default=None)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def video_frames(path: Path) -> tuple[Iterator[np.ndarray], float]:
    """The frames of a video file (BGR) and its frame rate."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise UsageError(f"{path}: cannot read this video (OpenCV cannot open it)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0

    def frames():
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield frame
        finally:
            capture.release()

    return frames(), fps


def image_frames(paths: Iterable[Path]) -> Iterator[np.ndarray]:
    """Images read in order; an unreadable one is an error (a frame cannot be skipped in a sequence)."""
    for path in paths:
        image = cv2.imread(str(path))
        if image is None:
            raise UsageError(f"{path}: not a readable image (OpenCV cannot decode it), frame of a tracked sequence")
        yield image


def folder_frames(folder: Path) -> list[Path]:
    """A folder's images in name order: its frames."""
    frames = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not frames:
        raise UsageError(f"{folder}: holds no images to track")
    return frames


def _colour(track_id: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in np.random.default_rng(track_id).integers(60, 255, 3))


def draw_tracks(image: np.ndarray, tracks) -> np.ndarray:
    out = image.copy()
    for track_id, box, _ in tracks:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), _colour(track_id), 2, cv2.LINE_AA)
        cv2.putText(out, str(track_id), (x1 + 2, max(y1 - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _colour(track_id), 1,
                    cv2.LINE_AA)
    return out


def track_frames(predictor: Predictor, frames: Iterable[np.ndarray], name: str, out_dir: Path, match: str = "embed",
                 conf: float = 0.3, iou: float = 0.45, fps: float = 25.0, video: bool = True,
                 tracker: Tracker | None = None) -> TrackResult:
    """Track one source: ``out_dir/<name>.txt`` (``frame,id,left,top,width,height,score,-1,-1,-1``, frames
    from 1) and, with ``video``, ``out_dir/<name>.mp4``, each written whole or not at all."""
    if match == "embed" and not _has_embeddings(predictor):
        raise UsageError("--match embed needs a model with an [embedding] layer (e.g. cfg/yolor_tiny_jde.cfg, "
                         "trained on tracking data); use --match iou with a plain detector")
    tracker = tracker or Tracker(match=match)
    outputs, seconds = [], 0.0
    video_path = out_dir / f"{name}.mp4" if video else None
    with (atomic_path(video_path) if video else contextlib.nullcontext()) as tmp_video:
        writer = None
        for image in frames:
            start = time.perf_counter()
            dets = predictor(image, conf, iou)
            boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
            scores = np.array([d.score for d in dets], np.float64)
            embeddings = np.stack([d.embedding for d in dets]) if match == "embed" and len(dets) else None
            tracks = tracker.update(boxes, scores, embeddings)
            seconds += time.perf_counter() - start
            outputs.append(tracks)
            if video:
                if writer is None:
                    writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                             (image.shape[1], image.shape[0]))
                writer.write(draw_tracks(image, tracks))
        if not outputs:
            raise UsageError(f"{name}: no frames to track")
        if writer is not None:
            writer.release()
    table = from_tracker(outputs)
    results = out_dir / f"{name}.txt"
    write_results(results, table)
    return TrackResult(name, len(outputs), len(set(table.ids.tolist())), results, video_path, seconds, table)


def _has_embeddings(predictor: Predictor) -> bool:
    """Whether the runtime returns embeddings (PyTorch models say so by running once)."""
    h, w = predictor.size
    return predictor.runtime(np.zeros((1, 3, h, w), np.float32)).embeddings is not None


def evaluate_tracking(predictor: Predictor, sequences, out_dir: Path, match: str = "embed", conf: float = 0.3,
                      iou: float = 0.45, video: bool = False) -> tuple[dict, list[TrackResult]]:
    """Track every sequence that has ground truth (``Sequence`` objects: name, frames, gt, fps) and score it
    with TrackEval: ({sequence | 'COMBINED': metrics}, the TrackResults)."""
    scored = [s for s in sequences if s.gt is not None]
    if not scored:
        raise UsageError("no val sequence has ground truth (gt/gt.txt): tracking metrics need it")
    pairs, runs = {}, []
    for seq in scored:
        run = track_frames(predictor, image_frames(seq.frames), seq.name, out_dir, match, conf, iou,
                           seq.fps or 25.0, video)
        pairs[seq.name] = (read_gt(seq.gt), run.table)
        runs.append(run)
    return evaluate(pairs), runs


def format_metrics(metrics: dict, runs: list[TrackResult]) -> str:
    keys = ("HOTA", "MOTA", "IDF1", "IDSW", "DetA", "AssA")
    lines = [f"{'sequence':<16}" + "".join(f"{k:>8}" for k in keys) + f"{'frames':>8}{'fps':>8}"]
    by_name = {r.name: r for r in runs}
    for name, values in metrics.items():
        run = by_name.get(name)
        frames = run.frames if run else sum(r.frames for r in runs)
        seconds = run.seconds if run else sum(r.seconds for r in runs)
        cells = "".join(f"{int(values[k]):>8d}" if k == "IDSW" else f"{values[k]:>8.3f}" for k in keys)
        lines.append(f"{name:<16}{cells}{frames:>8}{frames / seconds if seconds else 0:>8.1f}")
    return "\n".join(lines)
