"""Tracking metrics against ground truth: HOTA (with DetA, AssA, LocA), CLEAR MOT (MOTA, MOTP, ID
switches, ...) and the identity metrics (IDF1, ...), computed by TrackEval's metric classes.

TrackEval (JonathonLuiten/TrackEval, the MOTChallenge benchmark's own evaluation code) is used through
its PyPI release ``trackeval`` 1.3.0, a maintained fork (kovalp/TrackEval) whose metric code is the
original's with NumPy 2 fixes (np.float/np.int). Its Evaluator wants MOTChallenge's folder layout, so we
call the metrics' ``eval_sequence`` on data we prepare as its MotChallenge2DBox dataset does:

* similarity = IoU of ground-truth and tracker boxes in each frame (TrackEval's box IoU, 0 for a box
  with no area); a match needs IoU >= ``threshold`` (0.5) in CLEAR and Identity, while HOTA averages
  over its own thresholds 0.05 ... 0.95;
* ground-truth rows flagged 0, and those of classes not asked for, are left out when reading
  (``mot.read_gt``); MOTChallenge's distractor step (removing tracker boxes that match a distractor
  class such as a static person) is not done: our sequences have one class. On MOT17 with its
  distractors this counts those boxes as false positives, so scores there come out a little lower
  than the benchmark's;
* ids are renumbered 0..n-1 over the sequence, and an id twice in one frame is refused;
* frames run from 1 to the last frame of either file (empty frames change no score).

Not installed with the package (``pip install --no-deps trackeval==1.3.0``: its metadata asks for
opencv-python, which would overwrite our opencv-python-headless; what it imports, NumPy, SciPy,
tabulate and pycocotools, is installed with the tracking extra)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ...core.checks import UsageError
from .association import iou_matrix
from .mot import MotTable

INSTALL = "pip install --no-deps trackeval==1.3.0"
FLOATS = ("HOTA", "DetA", "AssA", "LocA", "MOTA", "MOTP", "IDF1", "IDP", "IDR")
COUNTS = ("IDSW", "CLR_TP", "CLR_FN", "CLR_FP", "MT", "PT", "ML", "Frag", "IDTP", "IDFN", "IDFP")


def evaluate(sequences: Mapping[str, tuple[MotTable, MotTable]], threshold: float = 0.5) -> dict[str, dict]:
    """Metrics of each sequence name -> (ground truth, results), and of all of them together under
    "COMBINED" (TrackEval's combination: counts summed, HOTA's parts recomputed from the sums). Each is
    {name: value} for FLOATS (HOTA, DetA, AssA, LocA: the mean over HOTA's thresholds, as TrackEval
    reports them; all in 0..1) and COUNTS (ints)."""
    metrics = _metrics(threshold)
    per_seq = {name: [m.eval_sequence(_sequence_data(name, gt, res)) for m in metrics]
               for name, (gt, res) in sequences.items()}
    combined = [m.combine_sequences({name: r[k] for name, r in per_seq.items()}) for k, m in enumerate(metrics)]
    return {name: _summary(r) for name, r in [*per_seq.items(), ("COMBINED", combined)]}


def evaluate_sequence(gt: MotTable, results: MotTable, threshold: float = 0.5) -> dict:
    """``evaluate`` for one sequence."""
    return evaluate({"sequence": (gt, results)}, threshold)["sequence"]


def _metrics(threshold: float) -> list:
    try:
        from trackeval.metrics import CLEAR, HOTA, Identity
    except ImportError as exc:
        raise UsageError(f"tracking metrics need TrackEval ({exc}): {INSTALL}") from None
    config = {"THRESHOLD": threshold, "PRINT_CONFIG": False}
    return [HOTA(), CLEAR(dict(config)), Identity(dict(config))]


def _ltwh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def _by_frame(t: MotTable, frames: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(ids, boxes) of frames 1..frames, each id renumbered to its rank among the table's ids."""
    ranks = np.unique(t.ids, return_inverse=True)[1].reshape(-1)
    order = np.argsort(t.frames, kind="stable")
    bounds = np.searchsorted(t.frames[order], np.arange(1, frames + 2))
    return [(ranks[order[a:b]], t.boxes[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])]


def _sequence_data(name: str, gt: MotTable, res: MotTable) -> dict:
    """TrackEval's per-sequence input: ids and IoU similarities frame by frame, and the totals."""
    frames = int(max(gt.frames.max(initial=0), res.frames.max(initial=0)))
    data = {"seq": name, "num_timesteps": frames, "gt_ids": [], "tracker_ids": [], "similarity_scores": [],
            "num_gt_ids": len(np.unique(gt.ids)), "num_tracker_ids": len(np.unique(res.ids)),
            "num_gt_dets": len(gt), "num_tracker_dets": len(res)}
    for t, ((g_ids, g_boxes), (r_ids, r_boxes)) in enumerate(zip(_by_frame(gt, frames), _by_frame(res, frames)), 1):
        for what, ids in (("ground truth", g_ids), ("results", r_ids)):
            if len(np.unique(ids)) < len(ids):
                raise UsageError(f"{name}: an id is twice in frame {t} of the {what}")
        data["gt_ids"].append(g_ids)
        data["tracker_ids"].append(r_ids)
        data["similarity_scores"].append(iou_matrix(_ltwh_to_xyxy(g_boxes), _ltwh_to_xyxy(r_boxes)))
    return data


def _summary(results: list[dict]) -> dict:
    merged = {k: v for r in results for k, v in r.items()}
    return {**{k: float(np.mean(merged[k])) for k in FLOATS}, **{k: int(merged[k]) for k in COUNTS}}
