"""MOTChallenge text files: tracker results (``frame,id,left,top,width,height,score,-1,-1,-1``) and
ground truth (``frame,id,left,top,width,height,flag,class,visibility``), frames counted from 1.

The readers check every row and raise DataError listing the malformed ones as ``path:line: what``;
no row is dropped or guessed silently (ground-truth rows with flag 0 are left out, as MOTChallenge
says: they are not to be evaluated)."""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.checks import read_text
from ...core.errors import DataError
from ...core.files import atomic_path

SHOWN_ERRORS = 10


@dataclass(frozen=True)
class MotTable:
    """Rows of one sequence, in columns: frames (n,) from 1, ids (n,), boxes (n, 4) as (left, top, width,
    height) in pixels, scores (n,) (a result's confidence; 1 for ground truth)."""

    frames: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    def at(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids (k,) and boxes (k, 4) in one frame."""
        keep = self.frames == frame
        return self.ids[keep], self.boxes[keep]


def table(frames, ids, boxes, scores=None) -> MotTable:
    """A MotTable from columns (scores default to 1)."""
    frames = np.asarray(frames, dtype=int).reshape(-1)
    scores = np.ones(len(frames)) if scores is None else np.asarray(scores, dtype=float).reshape(-1)
    return MotTable(frames, np.asarray(ids, dtype=int).reshape(-1), np.asarray(boxes, dtype=float).reshape(-1, 4),
                    scores)


def from_tracker(outputs: Iterable[Sequence[tuple[int, Sequence[float], float]]]) -> MotTable:
    """A MotTable from ``Tracker.update``'s outputs, one list per frame in order (the first is frame 1),
    each of (id, box (x1, y1, x2, y2), score)."""
    rows = [(t, i, *box, s) for t, frame in enumerate(outputs, 1) for i, box, s in frame]
    a = np.array(rows, dtype=float).reshape(-1, 7)
    return table(a[:, 0], a[:, 1], np.column_stack([a[:, 2:4], a[:, 4:6] - a[:, 2:4]]), a[:, 6])


def write_results(path: str | Path, results: MotTable) -> None:
    """The MOTChallenge result file: one line per track per frame, by frame then id, boxes to 0.01 px;
    written whole or not at all."""
    order = np.lexsort((results.ids, results.frames))
    lines = [f"{results.frames[k]},{results.ids[k]},{','.join(f'{v:.2f}' for v in results.boxes[k])},"
             f"{results.scores[k]:.4f},-1,-1,-1\n" for k in order]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(lines))


def read_results(path: str | Path) -> MotTable:
    """A tracker's result file (at least the 7 columns frame..score; more are ignored)."""
    rows = _read_rows(Path(path), 7, "frame,id,left,top,width,height,score")
    return table(rows[:, 0], rows[:, 1], rows[:, 2:6], rows[:, 6])


def read_gt(path: str | Path, classes: Collection[int] | None = None) -> MotTable:
    """A gt.txt (at least the 9 columns frame..visibility): the rows to evaluate, those with a flag other
    than 0 and, when ``classes`` is given, a class in it (MOT17's pedestrians: classes={1})."""
    rows = _read_rows(Path(path), 9, "frame,id,left,top,width,height,flag,class,visibility")
    keep = rows[:, 6] != 0
    if classes is not None:
        keep &= np.isin(rows[:, 7], list(classes))
    rows = rows[keep]
    return table(rows[:, 0], rows[:, 1], rows[:, 2:6])


def _read_rows(path: Path, columns: int, layout: str) -> np.ndarray:
    """The file's rows as floats (n, columns), each checked (``_problem``), one row per id and frame."""
    rows, problems, seen = [], [], {}
    for n, line in enumerate(read_text(path, "MOTChallenge file").splitlines(), 1):
        if not line.strip():
            continue
        values, problem = _problem(line.split(","), columns, layout)
        if not problem and (values[0], values[1]) in seen:
            problem = f"id {values[1]:.0f} is in frame {values[0]:.0f} twice (also line {seen[values[0], values[1]]})"
        if problem:
            problems.append(f"{path}:{n}: {problem}")
        else:
            seen[values[0], values[1]] = n
            rows.append(values)
    if problems:
        more = f"\n... and {len(problems) - SHOWN_ERRORS} more" if len(problems) > SHOWN_ERRORS else ""
        raise DataError("\n".join(problems[:SHOWN_ERRORS]) + more)
    return np.array(rows, dtype=float).reshape(-1, columns)


def _problem(fields: list[str], columns: int, layout: str) -> tuple[list[float], str | None]:
    """A row's first ``columns`` values and what is wrong with them (None: nothing): finite numbers,
    whole frames from 1, whole ids from 0, sizes not negative, whole flag and class (gt)."""
    if len(fields) < columns:
        return [], f"{len(fields)} columns; a row is {layout}"
    try:
        v = [float(f) for f in fields[:columns]]
    except ValueError as exc:
        return [], f"not a number: {str(exc).split(': ', 1)[-1]}"
    shown = [f.strip() for f in fields]
    if not all(np.isfinite(v)):
        return v, "a value is not finite"
    if not v[0].is_integer() or v[0] < 1:
        return v, f"frame {shown[0]}: frames are whole numbers from 1"
    if not v[1].is_integer() or v[1] < 0:
        return v, f"id {shown[1]}: ids are whole numbers from 0"
    if v[4] < 0 or v[5] < 0:
        return v, f"width {shown[4]}, height {shown[5]}: a box's size cannot be negative"
    if columns > 7 and not (v[6].is_integer() and v[7].is_integer()):
        return v, f"flag {shown[6]}, class {shown[7]}: both are whole numbers"
    return v, None
