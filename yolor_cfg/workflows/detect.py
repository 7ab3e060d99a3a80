"""Detection on images and videos with any runtime (PyTorch, onnxruntime, OpenVINO)."""
from __future__ import annotations

import glob
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..core.checks import UsageError, height_width, int_in, output_dir, probability
from .eval.nms import non_max_suppression, scale_boxes
from ..core.images import IMAGE_SUFFIXES, as_bgr, letterbox, truncated_jpeg
from ..deploy.runtimes import Runtime, TorchRuntime

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in original image pixels
    score: float
    cls: int
    name: str
    embedding: np.ndarray | None = None  # the appearance vector of a model with an [embedding] layer

    def as_dict(self) -> dict:
        return {"box": [round(v, 2) for v in self.box], "score": round(self.score, 5), "class": self.cls, "name": self.name}


class Detections(list):
    """A list of Detection; ``class_scores`` holds image-level class probabilities when the model
    has a [multilabel] head (else an empty dict)."""

    def __init__(self, items=(), class_scores: dict[str, float] | None = None):
        super().__init__(items)
        self.class_scores = class_scores or {}


class Predictor:
    """Letterbox -> runtime -> NMS -> boxes in original pixels, for any runtime: a model (wrapped in
    the PyTorch runtime) or an opened artifact (``runtimes.open_artifact``)."""

    def __init__(self, model, img_size: int | tuple[int, int] | None = None, names: list[str] | None = None,
                 device="cpu"):
        self.runtime = model if isinstance(model, Runtime) else TorchRuntime(model, device, img_size=img_size)
        self.names = names or self.runtime.info.names
        self.size = self.runtime.info.input_size
        wanted = height_width(img_size) if img_size else None
        if wanted and wanted != self.size:
            raise UsageError(f"this {self.runtime.kind} model takes {self.size[0]}x{self.size[1]} inputs, not "
                             f"{wanted[0]}x{wanted[1]}; leave out --img or export at that size")

    def threshold_note(self, conf: float, iou: float, max_det: int) -> str | None:
        """What an export with in-graph NMS cannot do for these thresholds (it applied its own)."""
        baked = self.runtime.info.nms_thresholds
        if not baked:
            return None
        looser = [f"--{k.replace('_', '-')} {v} (the export's is {baked[k]})"
                  for k, v in (("conf", conf), ("iou", iou), ("max_det", max_det))
                  if (v < baked[k] if k == "conf" else v > baked[k])]
        if not looser:
            return None
        return (f"this model was exported with --nms, so its own thresholds were applied inside the graph: "
                f"{', '.join(looser)} cannot find more; export again with other --conf/--iou/--max-det, or "
                "without --nms")

    def _name(self, c: int) -> str:
        return self.names[c] if c < len(self.names) else str(c)

    def __call__(self, image: np.ndarray | str | Path, conf: float = 0.25, iou: float = 0.45, max_det: int = 300) -> Detections:
        """Detections for one BGR image (or a path), in its own pixel coordinates."""
        if not isinstance(image, np.ndarray):
            path = str(image)
            image = cv2.imread(path)
            if image is None:
                raise UsageError(f"{path}: cannot read image (missing, or not an image OpenCV decodes)")
        try:
            image = as_bgr(image)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        padded, ratio, pad = letterbox(image, self.size, scaleup=True)
        x = np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255
        prediction = self.runtime(x)
        if prediction.nms_rows is not None:
            rows = prediction.nms_rows
            rows = rows[rows[:, 5] > conf][:, 1:]  # drop the batch column
        else:
            carry = prediction.embeddings.cpu() if prediction.embeddings is not None else None
            rows = non_max_suppression(prediction.detections.cpu(), conf, iou, max_det=max_det, carry=carry)[0]
        embeddings = rows[:, 6:].numpy() if rows.shape[1] > 6 else [None] * len(rows)
        scores = {}
        if prediction.class_scores is not None:
            scores = {self._name(c): float(p) for c, p in enumerate(prediction.class_scores[0].tolist())}
        boxes = scale_boxes(rows[:, :4], ratio, pad, image.shape[:2])
        return Detections([Detection(tuple(b), float(s), int(c), self._name(int(c)), e)
                           for b, s, c, e in zip(boxes.tolist(), rows[:, 4].tolist(), rows[:, 5].tolist(), embeddings)],
                          scores)


def draw(image: np.ndarray, detections: list[Detection]) -> np.ndarray:
    out = image.copy()
    for d in detections:
        colour = tuple(int(v) for v in np.random.default_rng(d.cls).integers(40, 255, 3))
        x1, y1, x2, y2 = (int(round(v)) for v in d.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2, cv2.LINE_AA)
        label = f"{d.name} {d.score:.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        cv2.rectangle(out, (x1, max(y1 - th - 4, 0)), (x1 + tw + 2, max(y1, th + 4)), colour, -1)
        cv2.putText(out, label, (x1 + 1, max(y1 - 3, th + 1)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def list_sources(source: str, skipped: list[str] | None = None) -> list[Path]:
    """The images and videos of a file, a folder (not its subfolders) or a glob; what a folder holds
    besides them is named in ``skipped`` (when given) so that nothing is left out without a word."""
    p = Path(source)
    if p.is_dir():
        wanted = IMAGE_SUFFIXES | VIDEO_SUFFIXES
        entries = sorted(p.iterdir())
        found = [q for q in entries if q.is_file() and q.suffix.lower() in wanted]
        if skipped is not None:
            others = [q.name for q in entries if q.is_file() and q.suffix.lower() not in wanted]
            folders = [q.name for q in entries if q.is_dir()]
            if others:
                skipped.append(f"{len(others)} files that are not images or videos ({', '.join(others[:3])}"
                               f"{', ...' if len(others) > 3 else ''})")
            if folders:
                skipped.append(f"{len(folders)} subfolders ({', '.join(folders[:3])}{', ...' if len(folders) > 3 else ''}"
                               f"): give a glob such as '{p}/**/*.jpg' to include them")
        return found
    if p.exists():
        return [p]
    matches = sorted(Path(m) for m in glob.glob(source, recursive=True) if Path(m).is_file())
    if not matches:
        raise UsageError(f"{source}: no such file, folder or glob match")
    return matches


def _input_keys(paths: list[Path]) -> dict[Path, str]:
    """A name per input: its file name, or, where two inputs share one (a glob over folders), its path
    below the inputs' common folder."""
    names = Counter(p.name for p in paths)
    if all(n == 1 for n in names.values()):
        return {p: p.name for p in paths}
    root = Path(os.path.commonpath([str(p.resolve().parent) for p in paths]))
    return {p: p.resolve().relative_to(root).as_posix() for p in paths}


def _output_stems(keys: dict[Path, str]) -> dict[Path, str]:
    """An output name per input (no two alike): its key without suffix, folders joined by '__', and
    stem_ext where two inputs differ only by suffix (a.png, a.jpg)."""
    bare = {p: key.rsplit(".", 1)[0].replace("/", "__") for p, key in keys.items()}
    counts = Counter(bare.values())
    return {p: stem if counts[stem] == 1 else f"{stem}_{p.suffix.lstrip('.').lower()}" for p, stem in bare.items()}


def check_not_an_input_folder(out_dir: Path, paths: list[Path]) -> None:
    """detect never writes into a folder it reads images from: its annotated copies could replace them."""
    folders = {p.resolve().parent for p in paths}
    if out_dir.resolve() in folders:
        raise UsageError(f"--out {out_dir}: the images to detect on are in this folder, and detect would write its "
                         "annotated copies beside (or over) them; give another output folder")


class DetectResults(dict):
    """Detections per input key (an image's name, or ``video#frame``), as dicts; ``unreadable`` lists
    the inputs that could not be read, with the reason, and ``outputs`` each input's output file."""

    def __init__(self):
        super().__init__()
        self.unreadable: list[tuple[str, str]] = []
        self.outputs: dict[str, Path] = {}
        self.skipped: list[str] = []  # what a source folder held that detect did not read
        self.damaged: list[tuple[str, str]] = []  # inputs read only in part (a truncated JPEG)
        self.notes: list[str] = []  # what the user should know about the results (thresholds not applied)

    def summary(self) -> str:
        n = sum(len(v) for v in self.values())
        text = f"{n} detections in {len(self)} images/frames"
        if self.unreadable:
            text += f"; {len(self.unreadable)} inputs could not be read:\n" + "\n".join(
                f"  {name}: {why}" for name, why in self.unreadable)
        for note in self.notes:
            text += f"\nnote: {note}"
        for name, why in self.damaged:
            text += f"\ndamaged input, detected on what decodes: {name}: {why}"
        for line in self.skipped:
            text += f"\nnot read from the source folder: {line}"
        return text


def _detect_video(predictor, path: Path, key: str, out_file: Path, results: DetectResults, conf, iou,
                  max_det) -> None:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        results.unreadable.append((key, "not a readable video (OpenCV cannot open it)"))
        return
    fps = cap.get(cv2.CAP_PROP_FPS) or 25
    writer, frame_i = None, 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            dets = predictor(frame, conf, iou, max_det)
            if writer is None:
                writer = cv2.VideoWriter(str(out_file), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                         (frame.shape[1], frame.shape[0]))
            writer.write(draw(frame, dets))
            results[f"{key}#{frame_i}"] = [d.as_dict() for d in dets]
            frame_i += 1
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if frame_i == 0:
        results.unreadable.append((key, "no frame could be read (not a video, or an empty one)"))
    else:
        results.outputs[key] = out_file


def run_detect(predictor: Predictor, source: str, out_dir: str | Path, conf=0.25, iou=0.45, max_det=300,
               progress: bool = True) -> DetectResults:
    """Detect on every image/video under ``source``; writes annotated files (one per input, never two
    inputs to one name), a txt of boxes per image and ``detections.json``; unreadable inputs are listed
    in the result (and the JSON), apart from images with no detections."""
    from tqdm import tqdm

    probability(conf, "confidence threshold (conf)")
    probability(iou, "IoU threshold (iou)")
    int_in(max_det, "max detections (max_det)", 1, 100_000)
    out_dir = output_dir(out_dir, "detect output folder")
    results = DetectResults()
    note = predictor.threshold_note(conf, iou, max_det)
    if note:
        results.notes.append(note)
    paths = list_sources(source, results.skipped)
    check_not_an_input_folder(out_dir, paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = _input_keys(paths)
    stems = _output_stems(keys)
    for path in tqdm(paths, desc="detect", disable=not progress):
        key = keys[path]
        if path.suffix.lower() in VIDEO_SUFFIXES:
            _detect_video(predictor, path, key, out_dir / f"{stems[path]}.mp4", results, conf, iou, max_det)
            continue
        image = cv2.imread(str(path))
        if image is None:
            results.unreadable.append((key, "not a readable image (OpenCV cannot decode it)"))
            continue
        if truncated_jpeg(path):
            results.damaged.append((key, "a truncated JPEG (no end-of-image marker; the rest decodes as grey)"))
        dets = predictor(image, conf, iou, max_det)
        results.outputs[key] = out_dir / f"{stems[path]}.jpg"
        cv2.imwrite(str(results.outputs[key]), draw(image, dets))
        (out_dir / f"{stems[path]}.txt").write_text(
            "".join(f"{d.cls} {d.score:.5f} {d.box[0]:.2f} {d.box[1]:.2f} {d.box[2]:.2f} {d.box[3]:.2f}\n" for d in dets))
        results[key] = [d.as_dict() for d in dets]
    (out_dir / "detections.json").write_text(json.dumps(
        {"detections": results, "unreadable": dict(results.unreadable), "damaged": dict(results.damaged),
         "not_read": results.skipped}, indent=1))
    return results
