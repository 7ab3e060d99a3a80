"""Datasets: the YOLO txt layout (data.yaml) and COCO json, checked once, cached, augmented.

A data.yaml names ``train`` and ``val`` (a folder of images, a .txt list of image paths, or
``{images: DIR, annotations: instances.json}`` for COCO json), ``nc`` and ``names``; relative
paths are relative to ``path`` (default: the yaml's folder). In the YOLO layout each image
``.../images/x.jpg`` has ``.../labels/x.txt`` with rows ``class cx cy w h`` normalised to 0-1.

Identities (tracking, see mot_data.py): a train/val entry that is a MOTChallenge sequence folder, or
a folder of them, is read as such; ``labels: jde`` (default ``yolo``) says the label files hold JDE/FairMOT
rows ``class identity cx cy w h``."""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
import yaml

from ...core.checks import read_text
from ...core.errors import DataError  # noqa: F401 (raised here; readers import it from here too)
from ...core.images import IMAGE_SUFFIXES, letterbox, truncated_jpeg
from .augment import augment_hsv, mosaic, random_affine

if TYPE_CHECKING:
    from .mot_data import Sequence

LABEL_LAYOUTS = ("yolo", "jde")


def _class_names(names, nc: int, path: Path) -> list[str]:
    """Class names from a list, or from the {index: name} form other YOLO tools write; nc of them."""
    if names is None:
        return [str(i) for i in range(nc)]
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise DataError(f"{path}: names as a mapping must have the keys 0 to {len(names) - 1}, got "
                            f"{', '.join(map(repr, names))}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list):
        raise DataError(f"{path}: names must be a list (or an index: name mapping), got {type(names).__name__}")
    if len(names) != nc:
        raise DataError(f"{path}: nc={nc} but {len(names)} names")
    return [str(n) for n in names]


@dataclass
class DataConfig:
    root: Path
    train: object
    val: object
    nc: int
    names: list[str]
    val_coco: Path | None = None
    labels: str = "yolo"  # the label files' layout: "yolo" (class cx cy w h) or "jde" (class identity cx cy w h)

    @classmethod
    def load(cls, spec: str | Path) -> DataConfig:
        if str(spec) == "synth":
            from .synth import ensure_synth

            spec = ensure_synth()
        elif str(spec) == "synth-tracks":
            from .synth_tracks import ensure_synth_tracks

            spec = ensure_synth_tracks()
        path = Path(spec)
        try:
            raw = yaml.safe_load(read_text(path, "data yaml"))
        except yaml.YAMLError as exc:
            raise DataError(f"{path}: cannot read data yaml: {exc}") from None
        if not isinstance(raw, dict):
            raise DataError(f"{path}: a data yaml is a mapping with train, val, nc and names")
        missing = [k for k in ("train", "val", "nc") if k not in raw]
        if missing:
            raise DataError(f"{path}: data yaml needs {', '.join(missing)} (train, val, nc, names)")
        nc = raw["nc"]
        if isinstance(nc, bool) or not isinstance(nc, int) or nc < 1:
            raise DataError(f"{path}: nc must be a whole number of classes (1 or more), got {nc!r}")
        names = _class_names(raw.get("names"), nc, path)
        root = Path(raw.get("path") or path.parent)
        if not root.is_absolute():
            root = path.parent / root  # relative to the yaml, wherever the command runs
        coco = raw.get("val_coco")
        layout = raw.get("labels", "yolo")
        if layout not in LABEL_LAYOUTS:
            raise DataError(f"{path}: labels must be one of {', '.join(LABEL_LAYOUTS)} (the label files' layout), "
                            f"got {layout!r}")
        return cls(root, raw["train"], raw["val"], nc, names, root / coco if coco else None, layout)

    def resolve(self, p) -> Path:
        p = Path(p)
        return p if p.is_absolute() else self.root / p

    def sources(self, split: str) -> list:
        """The split's sources as a list (one source or several)."""
        source = getattr(self, split)
        sources = source if isinstance(source, list) else [source]
        if not sources:
            raise DataError(f"{split}: an empty list; give a folder, a .txt list, a COCO mapping or MOT sequences")
        return sources

    def sequences(self, split: str) -> list[Sequence]:
        """The MOTChallenge sequences among the split's sources, in the yaml's order (what tracking
        evaluation runs over, one sequence at a time); empty when the split has none."""
        from .mot_data import find_sequences, open_sequence

        return [open_sequence(folder) for item in self.sources(split) if isinstance(item, (str, Path))
                for folder in find_sequences(self.resolve(item)) or []]


SHOWN_PROBLEMS = 20  # files listed per kind of problem in a summary


@dataclass
class Problem:
    file: str
    reason: str


@dataclass
class LabelIndex:
    """Images and their labels (rows class, cx, cy, w, h normalised), plus what was skipped.

    ``ids``: None when the data has no identities, else one int64 array per image (an identity per label
    row, 0..num_ids-1, -1 unknown); ``sequences``: the MOTChallenge sequences the images came from."""

    images: list[str]
    labels: list[np.ndarray]
    skipped: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    ids: list[np.ndarray] | None = None
    num_ids: int = 0
    sequences: list[Sequence] = field(default_factory=list)

    def summary(self) -> str:
        backgrounds = [p for p in self.notes if p.reason.startswith("no label file")]
        lines = [f"{len(self.images)} images, {sum(len(x) for x in self.labels)} boxes"
                 + (f", {self.num_ids} identities" if self.ids is not None else "")
                 + (f" in {len(self.sequences)} sequences" if self.sequences else "")
                 + (f"; {len(backgrounds)} without a label file, used as backgrounds" if backgrounds else "")
                 + (f"; {len(self.skipped)} skipped" if self.skipped else "")]
        for what, problems in (("background", backgrounds), ("skipped", self.skipped)):
            lines += [f"  {what} {p.file}: {p.reason}" for p in problems[:SHOWN_PROBLEMS]]
            if len(problems) > SHOWN_PROBLEMS:
                lines.append(f"  ... and {len(problems) - SHOWN_PROBLEMS} more {what}")
        return "\n".join(lines)


def _label_path(image: Path) -> Path:
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _list_images(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if source.suffix == ".txt":
        base = source.parent
        return [p if p.is_absolute() else base / p for p in (Path(x.strip()) for x in source.read_text().splitlines() if x.strip())]
    raise DataError(f"{source}: expected a folder of images or a .txt list")


def _check_image(path: Path) -> str | None:
    try:
        if path.stat().st_size == 0:
            return "empty image file"
    except OSError:
        return "missing image file"
    if cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_8) is None:
        return "corrupt or unreadable image"
    if truncated_jpeg(path):
        return "truncated JPEG (no end-of-image marker: the rest would decode as grey)"
    return None


def _check_rows(rows: np.ndarray, nc: int) -> str | None:
    if rows.ndim != 2 or rows.shape[1] != 5:
        return "label rows must have 5 values: class cx cy w h"
    if not np.isfinite(rows).all():
        return "non-finite label values"
    cls = rows[:, 0]
    if (cls < 0).any() or (cls != np.round(cls)).any() or (cls >= nc).any():
        return f"unknown class {int(cls[(cls < 0) | (cls >= nc) | (cls != np.round(cls))][0])} (nc={nc})"
    xywh = rows[:, 1:]
    if (xywh < 0).any() or (xywh > 1).any() or (xywh[:, 2:] <= 0).any():
        return "box out of range (values must be normalised to 0-1, sizes > 0)"
    x1y1 = xywh[:, :2] - xywh[:, 2:] / 2
    x2y2 = xywh[:, :2] + xywh[:, 2:] / 2
    if (x1y1 < -0.01).any() or (x2y2 > 1.01).any():
        return "box extends outside the image"
    return None


def _read_label_rows(label_file: Path) -> tuple[np.ndarray, str | None]:
    """The rows of a YOLO label file, or the reason it cannot be used (naming the line)."""
    try:
        text = label_file.read_text()
    except (OSError, UnicodeDecodeError):
        return np.zeros((0, 5), np.float32), f"{label_file}: not a readable text label file"
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        values = line.split()
        if not values:
            continue
        if len(values) != 5:
            return np.zeros((0, 5), np.float32), (
                f"{label_file}:{number}: {len(values)} values; a label row is class cx cy w h (5 values; "
                "segmentation polygons are not read)")
        try:
            rows.append([float(v) for v in values])
        except ValueError:
            return np.zeros((0, 5), np.float32), f"{label_file}:{number}: not numbers: {line.strip()[:60]}"
    return np.array(rows, dtype=np.float32).reshape(-1, 5), None


def _stamp(paths: Iterable[Path]) -> str:
    """A key that changes when any of ``paths`` appears, disappears or changes (size, mtime)."""
    h = hashlib.sha256()
    for q in paths:
        try:
            st = q.stat()
            h.update(f"{q}:{st.st_size}:{st.st_mtime_ns};".encode())
        except OSError:
            h.update(f"{q}:missing;".encode())
    return h.hexdigest()


def _fingerprint(paths: list[Path]) -> str:
    return _stamp(q for p in paths for q in (p, _label_path(p)))


def cached_index(cache_file: Path, key: str, build: Callable[[], LabelIndex], cache: bool = True) -> LabelIndex:
    """``build()``, or what it returned last time ``key`` was the same (stored in ``cache_file``)."""
    if cache and cache_file.exists():
        try:
            stored = json.loads(cache_file.read_text())
            if stored.get("key") == key:
                ids = stored.get("ids")
                return LabelIndex(stored["images"], [np.array(x, dtype=np.float32).reshape(-1, 5) for x in stored["labels"]],
                                  [Problem(**p) for p in stored["skipped"]], [Problem(**p) for p in stored["notes"]],
                                  None if ids is None else [np.array(x, dtype=np.int64) for x in ids],
                                  stored.get("num_ids", 0))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a stale or broken cache is rebuilt below
    index = build()
    if cache:
        payload = {"key": key, "images": index.images, "labels": [x.tolist() for x in index.labels],
                   "skipped": [vars(p) for p in index.skipped], "notes": [vars(p) for p in index.notes],
                   "ids": None if index.ids is None else [x.tolist() for x in index.ids], "num_ids": index.num_ids}
        tmp = cache_file.with_name(cache_file.name + f".tmp{os.getpid()}")
        try:
            tmp.write_text(json.dumps(payload))
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only dataset folder: work without a cache
    return index


def number_identities(index: LabelIndex) -> LabelIndex:
    """Renumber ``index.ids`` 0..k-1 in sorted order of the source's own identities (-1 stays unknown)."""
    known = np.unique(np.concatenate([x[x >= 0] for x in index.ids] + [np.zeros(0, np.int64)]))
    index.ids = [np.where(x >= 0, np.searchsorted(known, x), -1).astype(np.int64) for x in index.ids]
    index.num_ids = len(known)
    return index


def index_yolo(source: Path, nc: int, cache: bool = True, layout: str = "yolo") -> LabelIndex:
    """A folder or .txt list of images with label files beside them; ``layout`` "jde": rows
    ``class identity cx cy w h`` (identities numbered by ``number_identities``)."""
    images = _list_images(source)
    if not images:
        raise DataError(f"{source}: no images found")
    name = f".yolor-cfg-labels-{layout}-{nc}.json" if layout == "jde" else f".yolor-cfg-labels-{nc}.json"
    cache_file = (source if source.is_dir() else source.parent) / name
    return cached_index(cache_file, _fingerprint(images), lambda: _index_label_files(images, nc, layout), cache)


def _index_label_files(images: list[Path], nc: int, layout: str) -> LabelIndex:
    index = LabelIndex([], [], ids=[] if layout == "jde" else None)
    for img in images:
        problem = _check_image(img)
        label_file = _label_path(img)
        rows, ids = np.zeros((0, 5), dtype=np.float32), np.zeros(0, np.int64)
        if problem is None and label_file.exists():
            if layout == "jde":
                from .mot_data import read_jde_labels

                try:
                    rows, ids = read_jde_labels(label_file)
                except DataError as exc:
                    problem = str(exc)
            else:
                rows, problem = _read_label_rows(label_file)
            problem = problem or _check_rows(rows, nc)
        elif problem is None:
            index.notes.append(Problem(str(img), "no label file: used as a background image"))
        if problem:
            index.skipped.append(Problem(str(img), problem))
            continue
        index.images.append(str(img))
        index.labels.append(rows)
        if index.ids is not None:
            index.ids.append(ids)
    return number_identities(index) if index.ids is not None else index


def index_coco(images_dir: Path, annotations: Path, nc: int) -> tuple[LabelIndex, dict[int, int]]:
    """COCO json -> LabelIndex; returns also the map from COCO category id to our class index."""
    data = load_coco_json(annotations)
    cats = sorted(c["id"] for c in data.get("categories", []))
    cat_to_cls = {c: i for i, c in enumerate(cats)}
    if len(cats) > nc:
        raise DataError(f"{annotations}: {len(cats)} categories but nc={nc}")
    per_image: dict[int, list] = {img["id"]: [] for img in data["images"]}
    for ann in data.get("annotations", []):
        if ann.get("iscrowd", 0):
            continue
        per_image.setdefault(ann["image_id"], []).append(ann)
    index = LabelIndex([], [])
    for img in data["images"]:
        path = images_dir / img["file_name"]
        problem = _check_image(path)
        w, h = img.get("width"), img.get("height")
        rows = []
        for ann in per_image.get(img["id"], []):
            x, y, bw, bh = ann["bbox"]
            if ann["category_id"] not in cat_to_cls:
                problem = problem or f"unknown category {ann['category_id']}"
                continue
            rows.append([cat_to_cls[ann["category_id"]], (x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h])
        arr = np.array(rows, dtype=np.float32).reshape(-1, 5)
        problem = problem or _check_rows(arr, nc)
        if problem:
            index.skipped.append(Problem(str(path), problem))
            continue
        index.images.append(str(path))
        index.labels.append(arr)
    return index, cat_to_cls


def _problems_in_coco(data) -> list[str]:
    if not isinstance(data, dict):
        return [f"the top level is a {type(data).__name__}; a COCO file is an object with images, annotations "
                "and categories"]
    problems = [f"no '{key}' list" for key in ("images", "annotations", "categories")
                if not isinstance(data.get(key), list)]
    for k, img in enumerate(data.get("images") or []):
        if not isinstance(img, dict) or not {"id", "file_name"} <= set(img):
            problems.append(f"images[{k}] needs id and file_name")
        elif not all(isinstance(img.get(d), (int, float)) and img.get(d) > 0 for d in ("width", "height")):
            problems.append(f"images[{k}] ({img['file_name']}): width and height must be positive numbers, got "
                            f"{img.get('width')!r} x {img.get('height')!r}")
    for k, ann in enumerate(data.get("annotations") or []):
        bbox = ann.get("bbox") if isinstance(ann, dict) else None
        if not isinstance(ann, dict) or not {"image_id", "category_id"} <= set(ann):
            problems.append(f"annotations[{k}] needs image_id, category_id and bbox")
        elif not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
            problems.append(f"annotations[{k}]: bbox must be [x, y, width, height], got {bbox!r}")
    for k, cat in enumerate(data.get("categories") or []):
        if not isinstance(cat, dict) or "id" not in cat:
            problems.append(f"categories[{k}] needs an id")
    return problems


def load_coco_json(path: Path) -> dict:
    """A COCO detection file, checked: DataError naming the file and every problem (the first 10)."""
    try:
        data = json.loads(read_text(path, "COCO annotations"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
                        + (" (the file looks cut short)" if exc.pos >= len(exc.doc.rstrip()) else "")) from None
    problems = _problems_in_coco(data)
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DataError(f"{path}: not a usable COCO detection file:\n  " + "\n  ".join(problems[:10]) + more)
    return data


def build_index(cfg: DataConfig, split: str, cache: bool = True) -> LabelIndex:
    """The split's images and labels; a split may be one source or a list of them (folders, .txt lists,
    COCO {images, annotations} mappings, MOTChallenge sequences or folders of them), indexed in order.

    When any source has identities the index has them for every image (-1 where a source has none),
    each source's offset by the identities of the sources before it: the same number in two
    sequences is two identities."""
    from .mot_data import find_sequences, index_sequence

    parts = []
    for item in cfg.sources(split):
        if isinstance(item, dict):
            if not {"images", "annotations"} <= set(item):
                raise DataError(f"{split}: a COCO source is a mapping with images (a folder) and annotations (a json)")
            parts.append(index_coco(cfg.resolve(item["images"]), cfg.resolve(item["annotations"]), cfg.nc)[0])
        elif isinstance(item, (str, Path)):
            folders = find_sequences(cfg.resolve(item))
            parts += ([index_sequence(f, cfg.nc, cache) for f in folders] if folders is not None
                      else [index_yolo(cfg.resolve(item), cfg.nc, cache, cfg.labels)])
        else:
            raise DataError(f"{split}: {item!r} is not a folder, .txt list, COCO mapping or MOT sequence")
    merged = LabelIndex([], [], ids=[] if any(p.ids is not None for p in parts) else None)
    for index in parts:
        merged.images += index.images
        merged.labels += index.labels
        merged.skipped += index.skipped
        merged.notes += index.notes
        merged.sequences += index.sequences
        if merged.ids is not None:
            ids = index.ids if index.ids is not None else [np.full(len(x), -1, np.int64) for x in index.labels]
            merged.ids += [np.where(x >= 0, x + merged.num_ids, -1) for x in ids]
            merged.num_ids += index.num_ids
    return merged


class DetectionDataset(torch.utils.data.Dataset):
    """Images letterboxed to ``img_size`` with labels (0, class, cx, cy, w, h) normalised, and a 7th
    column, the identity (-1 unknown), when the index has identities (``index.ids``).

    augment=True applies mosaic / affine / HSV / flips from ``hyp``; each item's random draws
    come from a Generator seeded by (seed, epoch, index): repeatable, worker-independent."""

    def __init__(self, index: LabelIndex, img_size: int, augment: bool = False, hyp: dict | None = None, seed: int = 0):
        self.index, self.img_size, self.augment, self.hyp, self.seed = index, img_size, augment, hyp or {}, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.index.images)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def load(self, i: int):
        """Image resized so its long side is img_size, and labels (class, x1, y1, x2, y2[, identity]) in its
        pixels."""
        path = self.index.images[i]
        img = cv2.imread(path)
        if img is None:
            raise DataError(f"{path}: image became unreadable after indexing")
        h0, w0 = img.shape[:2]
        r = self.img_size / max(h0, w0)
        if r != 1:
            img = cv2.resize(img, (max(1, round(w0 * r)), max(1, round(h0 * r))),
                             interpolation=cv2.INTER_AREA if r < 1 and not self.augment else cv2.INTER_LINEAR)
        h, w = img.shape[:2]
        rows = self.index.labels[i]
        labels = np.zeros((len(rows), 5 if self.index.ids is None else 6), dtype=np.float32)
        if self.index.ids is not None:
            labels[:, 5] = self.index.ids[i]
        if len(rows):
            labels[:, 0] = rows[:, 0]
            labels[:, 1] = (rows[:, 1] - rows[:, 3] / 2) * w
            labels[:, 2] = (rows[:, 2] - rows[:, 4] / 2) * h
            labels[:, 3] = (rows[:, 1] + rows[:, 3] / 2) * w
            labels[:, 4] = (rows[:, 2] + rows[:, 4] / 2) * h
        return img, labels, (h0, w0)

    def __getitem__(self, i: int):
        hyp = self.hyp
        rng = np.random.default_rng([self.seed, self.epoch, i])
        size = self.img_size
        if self.augment and rng.random() < hyp.get("mosaic", 0.0):
            img, labels = mosaic(lambda k: self.load(k)[:2], i, len(self), size, rng, hyp)
            shape0, ratio, pad = (size, size), (1.0, 1.0), (0, 0)
            if rng.random() < hyp.get("mixup", 0.0):  # YOLOR's MixUp: blend with a second mosaic
                other, other_labels = mosaic(lambda k: self.load(k)[:2], int(rng.integers(0, len(self))), len(self),
                                             size, rng, hyp)
                r = rng.beta(8.0, 8.0)
                img = (img * r + other * (1 - r)).astype(np.uint8)
                labels = np.concatenate((labels, other_labels), 0)
        else:
            img, labels, shape0 = self.load(i)
            h1, w1 = img.shape[:2]
            img, (rw, rh), pad = letterbox(img, (size, size), scaleup=self.augment)
            if len(labels):
                labels[:, [1, 3]] = labels[:, [1, 3]] * rw + pad[0]
                labels[:, [2, 4]] = labels[:, [2, 4]] * rh + pad[1]
            ratio = (rw * w1 / shape0[1], rh * h1 / shape0[0])  # original pixels -> letterboxed image
            if self.augment:
                img, labels = random_affine(img, labels, rng, degrees=hyp.get("degrees", 0.0),
                                            translate=hyp.get("translate", 0.1), scale=hyp.get("scale", 0.5),
                                            shear=hyp.get("shear", 0.0), perspective=hyp.get("perspective", 0.0))
        if self.augment:
            augment_hsv(img, rng, hyp.get("hsv_h", 0.0), hyp.get("hsv_s", 0.0), hyp.get("hsv_v", 0.0))
            if rng.random() < hyp.get("fliplr", 0.0):
                img = np.ascontiguousarray(img[:, ::-1])
                labels[:, [1, 3]] = img.shape[1] - labels[:, [3, 1]]
            if rng.random() < hyp.get("flipud", 0.0):
                img = np.ascontiguousarray(img[::-1])
                labels[:, [2, 4]] = img.shape[0] - labels[:, [4, 2]]
        out = torch.zeros((len(labels), 6 if self.index.ids is None else 7))
        if len(labels):
            out[:, 6:] = torch.from_numpy(labels[:, 5:])
            h, w = img.shape[:2]
            xyxy = labels[:, 1:5]
            out[:, 1] = torch.from_numpy(labels[:, 0])
            out[:, 2] = torch.from_numpy((xyxy[:, 0] + xyxy[:, 2]) / 2 / w)
            out[:, 3] = torch.from_numpy((xyxy[:, 1] + xyxy[:, 3]) / 2 / h)
            out[:, 4] = torch.from_numpy((xyxy[:, 2] - xyxy[:, 0]) / w)
            out[:, 5] = torch.from_numpy((xyxy[:, 3] - xyxy[:, 1]) / h)
        tensor = torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1)))  # BGR -> RGB, CHW
        return tensor, out, self.index.images[i], (shape0, ratio, pad)


def collate(batch):
    images, labels, paths, shapes = zip(*batch)
    for i, lab in enumerate(labels):
        lab[:, 0] = i
    return torch.stack(images, 0), torch.cat(labels, 0), list(paths), list(shapes)
