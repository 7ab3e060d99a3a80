"""Synthetic tracking data: MOTChallenge sequences of look-alike objects, each with its own appearance.

Every object is the one class ``object`` (an outlined rectangle of about the same size), but each
identity wears its own colours and stripe pattern, the same in every frame: a class head cannot tell
them apart, an appearance embedding can. Objects move at constant velocity, bounce at the borders and
now and then turn. In every sequence the first two are set on a course that crosses (their boxes
overlap mid-sequence) and a horizontal bar, which the third passes through, hides what moves behind it.
gt.txt keeps occluded objects with their true box and the visible fraction of it (visibility < 1), as
MOTChallenge does. Deterministic per seed."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import yaml

from .synth import _background, synth_cache_dir

CLASS = "object"
FPS = 30


def _appearance(rng: np.random.Generator, size: int, hue: float) -> np.ndarray:
    """An identity's patch (BGR): its main colour (``hue``) and a second one in a stripe or check pattern,
    inside the dark outline every object shares."""
    w, h = int(rng.uniform(0.1, 0.13) * size), int(rng.uniform(0.15, 0.2) * size)
    yy, xx = np.mgrid[0:h, 0:w]
    period = int(rng.integers(3, 8))
    stripes = (yy // period, xx // period, (xx + yy) // period, xx // period + yy // period)[int(rng.integers(4))] % 2
    colours = [(hue, rng.uniform(150, 255), rng.uniform(150, 255)),
               ((hue + rng.uniform(40, 140)) % 180, rng.uniform(60, 255), rng.uniform(60, 255))]
    bgr = [cv2.cvtColor(np.uint8([[c]]), cv2.COLOR_HSV2BGR)[0, 0] for c in colours]
    patch = np.where(stripes[..., None].astype(bool), bgr[1], bgr[0]).astype(np.uint8)
    cv2.rectangle(patch, (0, 0), (w - 1, h - 1), (25, 25, 25), max(1, size // 128))
    return patch


def _aimed(rng, size: int, point: np.ndarray, at: int, half: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """(start centre, velocity) of an object heading ``angle`` whose centre reaches ``point`` at frame ``at``
    without a bounce on the way (its speed is lowered until the start lies inside the image)."""
    d = np.array([math.cos(angle), math.sin(angle)])
    room = np.where(d > 0, point - half, size - half - point)  # how far back the start may lie
    limit = min((room[k] / (abs(d[k]) * at) for k in range(2) if abs(d[k]) > 1e-6 and at), default=np.inf)
    speed = min(rng.uniform(2.0, 4.0) * size / 256, 0.95 * limit)
    return point - d * speed * at, d * speed


def _trajectories(rng, n: int, frames: int, size: int, dims: list[tuple[int, int]], bar_y: float) -> np.ndarray:
    """Centres (n, frames, 2): bounces keep every box inside the image; objects 0 and 1 meet (their
    centres coincide) mid-sequence and object 2 crosses the row ``bar_y`` moving mostly up or down."""
    halves = [np.array([w / 2, h / 2]) for h, w in dims]
    meet, angle = int(frames * rng.uniform(0.3, 0.6)), rng.uniform(0, 2 * math.pi)
    point = size / 2 + rng.uniform(-0.1, 0.1, 2) * size
    starts = [_aimed(rng, size, point, meet, halves[0], angle),
              _aimed(rng, size, point, meet, halves[1], angle + math.pi + rng.uniform(-0.5, 0.5))]
    for i in range(2, n):
        if i == 2:
            through = np.array([rng.uniform(halves[2][0], size - halves[2][0]), bar_y])
            starts.append(_aimed(rng, size, through, frames // 2, halves[2],
                                 rng.choice([-1, 1]) * math.pi / 2 + rng.uniform(-0.3, 0.3)))
        else:
            a = rng.uniform(0, 2 * math.pi)
            starts.append((rng.uniform(halves[i], size - halves[i]),
                           np.array([math.cos(a), math.sin(a)]) * rng.uniform(1.5, 4.0) * size / 256))
    centres = np.zeros((n, frames, 2))
    for i, (p, v) in enumerate(starts):
        p, v, lo, hi = p.copy(), v.copy(), halves[i], size - halves[i]
        for k in range(frames):
            centres[i, k] = p
            if k > (meet if i < 2 else frames // 2 if i == 2 else 0) and rng.random() < 0.04:  # a turn, once past
                t = rng.uniform(-1, 1)
                v = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]) @ v
            p = p + v
            for axis in range(2):  # bounce off the borders
                if p[axis] < lo[axis] or p[axis] > hi[axis]:
                    p[axis] = np.clip(2 * np.clip(p[axis], lo[axis], hi[axis]) - p[axis], lo[axis], hi[axis])
                    v[axis] = -v[axis]
    return centres


def _sequence(folder: Path, rng: np.random.Generator, frames: int, size: int, objects: tuple[int, int]) -> None:
    """Write one sequence: img1/000001.jpg..., gt/gt.txt (identities from 1, class 1), seqinfo.ini."""
    n = int(rng.integers(objects[0], objects[1] + 1))
    hues = (rng.permutation(n) + rng.random()) * 180 / n
    patches = [_appearance(rng, size, hue) for hue in hues]
    bar_h = max(2, int(0.05 * size))
    bar_y = int(rng.choice([rng.uniform(0.25, 0.32), rng.uniform(0.63, 0.7)]) * size)  # off the crossing point
    centres = _trajectories(rng, n, frames, size, [p.shape[:2] for p in patches], bar_y + bar_h / 2)
    background = _background(rng, size)
    bar = np.full((bar_h, size, 3), (60, 90, 130), np.uint8)
    bar[:, ::max(4, size // 32)] = (35, 55, 80)  # planks: the bar is textured, not a flat box
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    gt = []
    for k in range(frames):
        img, owner = background.copy(), np.full((size, size), -1, np.int16)
        boxes = []
        for i, patch in enumerate(patches):  # later objects pass in front of earlier ones
            h, w = patch.shape[:2]
            x1, y1 = (int(round(c)) for c in centres[i, k] - (w / 2, h / 2))
            img[y1:y1 + h, x1:x1 + w] = patch
            owner[y1:y1 + h, x1:x1 + w] = i
            boxes.append((x1, y1, w, h))
        img[bar_y:bar_y + bar_h] = bar
        owner[bar_y:bar_y + bar_h] = -2
        for i, (x1, y1, w, h) in enumerate(boxes):
            visible = (owner[y1:y1 + h, x1:x1 + w] == i).sum() / (w * h)
            gt.append(f"{k + 1},{i + 1},{x1},{y1},{w},{h},1,1,{visible:.3f}")
        cv2.imwrite(str(folder / "img1" / f"{k + 1:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    (folder / "gt" / "gt.txt").write_text("\n".join(gt) + "\n")
    (folder / "seqinfo.ini").write_text(f"[Sequence]\nname={folder.name}\nimDir=img1\nframeRate={FPS}\n"
                                        f"seqLength={frames}\nimWidth={size}\nimHeight={size}\nimExt=.jpg\n")


def build_synth_tracks(root: str | Path, n_train: int = 4, n_val: int = 2, frames: int = 60, img: int = 256,
                       objects: tuple[int, int] = (4, 6), seed: int = 0, final: str | Path | None = None) -> Path:
    """Write ``n_train`` + ``n_val`` MOTChallenge sequences (train/SYNTH-00, ..., val/...) of ``frames``
    frames of ``img`` x ``img`` pixels, each with ``objects`` (fewest, most; at least 2) moving objects, and
    data.yaml (train and val: lists of sequence folders; nc 1, names [object]); returns data.yaml's path.
    ``final``: the folder ``root`` will be moved to when it is a scratch folder (data.yaml's ``path:``)."""
    if not 2 <= objects[0] <= objects[1]:
        raise ValueError(f"objects must be (fewest, most) with 2 <= fewest <= most, got {objects}")
    root = Path(root)
    splits = {"train": [], "val": []}
    for k in range(n_train + n_val):
        split = "train" if k < n_train else "val"
        name = f"{split}/SYNTH-{k:02d}"
        _sequence(root / name, np.random.default_rng([seed, k]), frames, img, objects)
        splits[split].append(name)
    data = {"path": str(Path(final or root).resolve()), **splits, "nc": 1, "names": [CLASS]}
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root / "data.yaml"


def ensure_synth_tracks(n_train: int = 4, n_val: int = 2, frames: int = 60, img: int = 256, seed: int = 0) -> Path:
    """The cached synthetic tracking dataset for these settings (built on first use)."""
    root = synth_cache_dir() / f"synth-tracks-{n_train}-{n_val}-{frames}-{img}-{seed}"
    data = root / "data.yaml"
    if not data.exists():
        tmp = root.with_name(root.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted build
        build_synth_tracks(tmp, n_train, n_val, frames, img, seed=seed, final=root)
        tmp.rename(root)
    return data
