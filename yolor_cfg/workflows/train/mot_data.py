"""Identity labels for joint detection and embedding: MOTChallenge sequences and JDE/FairMOT label files.

MOTChallenge: a sequence folder SEQ/ holds img1/ (the frames; frame k is the k-th image in name order),
gt/gt.txt with rows ``frame,id,left,top,width,height,flag,class,visibility`` (pixels; left/top taken as
written, as FairMOT's converters do) and seqinfo.ini, whose imDir, imExt, seqLength, imWidth, imHeight
and frameRate are used and checked against the folder when present. Rows with flag 0 are ignored;
boxes are clipped to the image and dropped when wholly outside it. MOTChallenge numbers classes from 1:
class k is the data yaml's ``names[k - 1]``; with ``nc: 1`` every row is class 0 whatever its class.

JDE/FairMOT: label files beside the images as in the YOLO layout, rows ``class identity cx cy w h``
(normalised; identity -1 unknown); a data yaml says so with ``labels: jde``.

Each source (a sequence, a JDE folder) numbers its identities 0..k-1 in sorted order of its own;
``build_index`` offsets them so identities are global across a split's sources."""
from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ...core.images import IMAGE_SUFFIXES
from .data import DataError, LabelIndex, Problem, _check_image, _stamp, cached_index, number_identities

GT_COLUMNS = "frame,id,left,top,width,height,flag,class,visibility"


@dataclass
class Sequence:
    """One MOTChallenge sequence: its frames in order (frame k is ``frames[k - 1]``), its gt.txt (None for
    a sequence without ground truth), frames per second (None when seqinfo.ini does not say) and
    ``size`` (height, width) in pixels."""

    name: str
    frames: list[Path] = field(repr=False)
    gt: Path | None
    fps: float | None
    size: tuple[int, int]


def _seqinfo(folder: Path) -> dict[str, str]:
    path = folder / "seqinfo.ini"
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keys are camelCase (imDir, seqLength)
    try:
        parser.read_string(path.read_text())
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable seqinfo.ini: {exc}") from None
    if "Sequence" not in parser:
        raise DataError(f"{path}: no [Sequence] section")
    return dict(parser["Sequence"])


def _whole(info: dict[str, str], key: str, folder: Path) -> int | None:
    if key not in info:
        return None
    try:
        value = int(info[key])
    except ValueError:
        value = 0
    if value < 1:
        raise DataError(f"{folder / 'seqinfo.ini'}: {key} must be a whole number of 1 or more, got {info[key]!r}")
    return value


def is_sequence(folder: Path) -> bool:
    """Whether ``folder`` is a MOTChallenge sequence: gt/gt.txt or seqinfo.ini, and img1/ (or seqinfo's imDir)."""
    if not folder.is_dir() or not ((folder / "gt" / "gt.txt").is_file() or (folder / "seqinfo.ini").is_file()):
        return False
    return (folder / _seqinfo(folder).get("imDir", "img1")).is_dir()


def find_sequences(source: Path) -> list[Path] | None:
    """The sequence folders ``source`` stands for: itself when it is one, its subfolders when they are
    (as MOT17/train); None when it is no sequence and holds none (a plain image folder, a .txt list)."""
    if is_sequence(source):
        return [source]
    if not source.is_dir():
        return None
    subfolders = sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
    sequences = [p for p in subfolders if is_sequence(p)]
    if not sequences:
        return None
    others = [p.name for p in subfolders if p not in sequences]
    if others:
        raise DataError(f"{source}: a folder of MOTChallenge sequences, but {', '.join(others[:5])} "
                        "is not one (a sequence has img1/ and gt/gt.txt or seqinfo.ini)")
    return sequences


def open_sequence(folder: Path) -> Sequence:
    """The sequence in ``folder``, its frames checked against seqinfo.ini (count, extension, size)."""
    info = _seqinfo(folder)
    ini = folder / "seqinfo.ini"
    images = folder / info.get("imDir", "img1")
    ext = info.get("imExt")
    suffixes = {ext.lower()} if ext else IMAGE_SUFFIXES
    frames = sorted(p for p in images.iterdir() if p.suffix.lower() in suffixes) if images.is_dir() else []
    if not frames:
        raise DataError(f"{images}: no frames ({ext or 'images'}) in the sequence")
    length = _whole(info, "seqLength", folder)
    if length is not None and length != len(frames):
        raise DataError(f"{ini}: seqLength={length} but {images} has {len(frames)} frames")
    width, height = _whole(info, "imWidth", folder), _whole(info, "imHeight", folder)
    first = cv2.imread(str(frames[0]))
    if first is None:
        raise DataError(f"{frames[0]}: the sequence's first frame is unreadable")
    if (width or first.shape[1], height or first.shape[0]) != (first.shape[1], first.shape[0]):
        raise DataError(f"{ini}: imWidth x imHeight = {width} x {height} but {frames[0].name} is "
                        f"{first.shape[1]} x {first.shape[0]}")
    try:
        fps = float(info["frameRate"]) if "frameRate" in info else None
    except ValueError:
        raise DataError(f"{ini}: frameRate must be a number, got {info['frameRate']!r}") from None
    gt = folder / "gt" / "gt.txt"
    return Sequence(folder.name, frames, gt if gt.is_file() else None, fps, first.shape[:2])


def read_mot_gt(path: Path, n_frames: int, size: tuple[int, int], nc: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per frame (frame k at index k-1): label rows (class, cx, cy, w, h) normalised, clipped to the image
    of ``size`` (height, width), and the gt's identity of each row. A malformed row (column count,
    numbers, frame range, sizes, class, a repeated (frame, id)) is a DataError naming path:line."""
    height, width = size
    rows: list[list] = [[] for _ in range(n_frames)]
    ids: list[list] = [[] for _ in range(n_frames)]
    seen: dict[tuple[int, int], int] = {}
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        raise DataError(f"{path}: not a readable text file") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where, values = f"{path}:{number}", line.split(",")
        if len(values) != 9:
            raise DataError(f"{where}: {len(values)} values; a MOTChallenge gt row is {GT_COLUMNS} (9 values)")
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            raise DataError(f"{where}: not numbers: {line.strip()[:60]}") from None
        if not np.isfinite(numbers).all():
            raise DataError(f"{where}: non-finite values: {line.strip()[:60]}")
        frame, ident, left, top, w, h, flag, cls, _ = numbers
        if frame != int(frame) or not 1 <= frame <= n_frames:
            raise DataError(f"{where}: frame {frame:g} out of range (the sequence has frames 1 to {n_frames})")
        if ident != int(ident) or ident < 0:
            raise DataError(f"{where}: identity {ident:g} is not a whole number of 0 or more")
        if w <= 0 or h <= 0:
            raise DataError(f"{where}: width and height must be > 0, got {w:g} x {h:g}")
        key = (int(frame), int(ident))
        if key in seen:
            raise DataError(f"{where}: frame {key[0]} identity {key[1]} again (first at line {seen[key]})")
        seen[key] = number
        if flag == 0:
            continue
        if nc > 1 and (cls != int(cls) or not 1 <= cls <= nc):
            raise DataError(f"{where}: class {cls:g} is not one of 1 to {nc} (MOTChallenge classes count from 1: "
                            "class k is names[k-1])")
        x1, y1, x2, y2 = max(left, 0), max(top, 0), min(left + w, width), min(top + h, height)
        if x2 <= x1 or y2 <= y1:
            continue  # wholly outside the image
        rows[key[0] - 1].append([0 if nc == 1 else int(cls) - 1, (x1 + x2) / 2 / width, (y1 + y2) / 2 / height,
                                 (x2 - x1) / width, (y2 - y1) / height])
        ids[key[0] - 1].append(key[1])
    return ([np.array(r, np.float32).reshape(-1, 5) for r in rows], [np.array(i, np.int64) for i in ids])


def index_sequence(folder: Path, nc: int, cache: bool = True) -> LabelIndex:
    """One sequence's frames, labels and identities (numbered 0..k-1, see ``number_identities``);
    unreadable frames are skipped and listed, as in the YOLO layout."""
    sequence = open_sequence(folder)
    if sequence.gt is None:
        raise DataError(f"{folder}: no gt/gt.txt; a sequence without ground truth cannot be trained or validated on")

    def build() -> LabelIndex:
        rows, ids = read_mot_gt(sequence.gt, len(sequence.frames), sequence.size, nc)
        index = LabelIndex([], [], ids=[])
        for frame, r, i in zip(sequence.frames, rows, ids):
            problem = _check_image(frame)
            if problem:
                index.skipped.append(Problem(str(frame), problem))
                continue
            index.images.append(str(frame))
            index.labels.append(r)
            index.ids.append(i)
        return number_identities(index)

    key = _stamp([*sequence.frames, sequence.gt, folder / "seqinfo.ini"])
    index = cached_index(folder / f".yolor-cfg-mot-{nc}.json", key, build, cache)
    index.sequences = [sequence]
    return index


def read_jde_labels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows (class, cx, cy, w, h) and identities (-1 unknown) of a JDE/FairMOT label file (rows
    ``class identity cx cy w h``, normalised); a malformed row is a DataError naming path:line. Classes
    and box ranges are checked by the caller, as for YOLO rows."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        raise DataError(f"{path}: not a readable text label file") from None
    rows, ids = [], []
    for number, line in enumerate(text.splitlines(), 1):
        values = line.split()
        if not values:
            continue
        where = f"{path}:{number}"
        if len(values) != 6:
            raise DataError(f"{where}: {len(values)} values; a JDE label row is class identity cx cy w h (6 values)")
        try:
            cls, ident, cx, cy, w, h = numbers = [float(v) for v in values]
        except ValueError:
            raise DataError(f"{where}: not numbers: {line.strip()[:60]}") from None
        if not np.isfinite(numbers).all():
            raise DataError(f"{where}: non-finite values: {line.strip()[:60]}")
        if ident != int(ident) or ident < -1:
            raise DataError(f"{where}: identity {ident:g} is not a whole number of 0 or more (or -1, unknown)")
        if not w > 0 or not h > 0:
            raise DataError(f"{where}: width and height must be > 0, got {w:g} x {h:g}")
        rows.append([cls, cx, cy, w, h])
        ids.append(int(ident))
    return np.array(rows, np.float32).reshape(-1, 5), np.array(ids, np.int64)
