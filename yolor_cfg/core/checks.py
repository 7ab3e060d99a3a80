"""Checks of user input shared by the command line and the Python API: each returns the checked
value or raises UsageError with what is wrong and what would be right."""
from __future__ import annotations

import numbers
import os
import re
from pathlib import Path

from .errors import YolorCfgError

# An input side above this is a typo, not a wish: a P6 network at 8192x8192 already needs about 100 GB
# of activations for one image.
MAX_IMG = 8192
MAX_BATCH = 4096  # images per batch; more never fits one device
ONNX_OPSETS = range(11, 22)  # what torch's ONNX exporter writes and onnxruntime runs (11: NonMaxSuppression)


class UsageError(YolorCfgError):
    """A bad argument, option value or input file."""


def height_width(size: int | tuple[int, int], what: str = "image size") -> tuple[int, int]:
    """An input size as (height, width): an int means a square; anything else is a UsageError."""
    img_size(size, what)
    return (int(size), int(size)) if isinstance(size, numbers.Integral) else (int(size[0]), int(size[1]))


def int_in(value, what: str, low: int = 1, high: int | None = None, why: str = "") -> int:
    """An int in [low, high] (NumPy integers too)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{what} must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise UsageError(f"{what} must be {bound}, got {value}{f' ({why})' if why else ''}")
    return value


def img_size(value, what: str = "image size") -> int | tuple[int, int]:
    """An input size: one side or (height, width), each from 32 to MAX_IMG."""
    if isinstance(value, (tuple, list)) and len(value) != 2:
        raise UsageError(f"{what} is one side or (height, width), got {value!r}")
    sides = value if isinstance(value, (tuple, list)) else (value,)
    for side in sides:
        too_large = isinstance(side, numbers.Integral) and side > MAX_IMG
        int_in(side, what, 32, MAX_IMG,
               f"larger inputs need more memory than any machine has; {MAX_IMG} is the limit" if too_large else "")
    return value


def probability(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise UsageError(f"{what} must be a number from 0 to 1, got {value!r}")
    return float(value)


def opset(value) -> int:
    if value not in ONNX_OPSETS:
        raise UsageError(f"ONNX opset {value} is not supported: choose {ONNX_OPSETS.start} to {ONNX_OPSETS.stop - 1}")
    return value


def _given_path(path, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise UsageError(f"{what} must be a path (str or pathlib.Path), got {type(path).__name__} {path!r}")
    if not str(path):
        raise UsageError(f"{what}: an empty path")
    return Path(path)


def existing_path(path, what: str = "file") -> Path:
    """An existing, readable file or folder (an exported OpenVINO model is a folder)."""
    p = _given_path(path, what)
    if not p.exists():
        raise UsageError(f"{what} {path}: no such file or folder")
    if not os.access(p, os.R_OK):
        raise UsageError(f"{what} {path}: not readable (permission denied)")
    return p


def existing_file(path, what: str = "file") -> Path:
    p = existing_path(path, what)
    if p.is_dir():
        raise UsageError(f"{what} {path}: is a folder, not a file")
    return p


def output_file(path, what: str = "output", suffixes: tuple[str, ...] = ()) -> Path:
    """A file to write: its folder exists and is writable, it is not a folder, its suffix fits."""
    p = _given_path(path, what)
    if p.is_dir():
        raise UsageError(f"{what} {path}: is a folder; give a file name")
    if suffixes and p.suffix.lower() not in suffixes:
        raise UsageError(f"{what} {path}: the name must end in {' or '.join(suffixes)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{what} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"{what} {path}: the folder {parent} is not writable")
    return p


def output_dir(path, what: str = "output folder") -> Path:
    """A folder to write into (made if missing): not an existing file, and not under one."""
    p = _given_path(path, what)
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                raise UsageError(f"{what} {path}: {q} is a file, not a folder")
            if not os.access(q, os.W_OK):
                raise UsageError(f"{what} {path}: {q} is not writable")
            break
    return p


def not_an_input(output, inputs, what: str = "output") -> None:
    """No command writes over a file it reads: UsageError when ``output`` is one of ``inputs``."""
    target = Path(output).resolve()
    for given in inputs:
        if given is not None and Path(given).resolve() == target:
            raise UsageError(f"{what} {output}: is the input {given}; this command never writes over a file it "
                             "reads: give another name")


_DEVICE = re.compile(r"^(cpu|\d+(,\d+)*)$")


def device(spec: str) -> str:
    """'cpu', or CUDA device indices ('0', '0,1') that exist on this machine."""
    import torch

    spec = str(spec).strip().lower()
    if not _DEVICE.match(spec):
        raise UsageError(f"device {spec!r}: use cpu, or CUDA device numbers such as 0 or 0,1")
    if spec == "cpu":
        return spec
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise UsageError(f"device {spec}: no CUDA device is available on this machine (torch {torch.__version__}); "
                         "use --device cpu")
    bad = [i for i in spec.split(",") if int(i) >= count]
    if bad:
        raise UsageError(f"device {spec}: this machine has {count} CUDA device(s), numbered 0 to {count - 1}")
    return spec


def torch_device(spec: str) -> str:
    """A checked device (cpu | 0 | 0,1) as a torch device string (the first of several)."""
    spec = device(spec)
    return "cpu" if spec == "cpu" else f"cuda:{spec.split(',')[0]}"


class NotText(UsageError):
    """A file that is not UTF-8 text; ``line`` holds its first NUL byte (``binary``) or non-UTF-8 byte."""

    def __init__(self, message: str, line: int, binary: bool):
        super().__init__(message)
        self.line, self.binary = line, binary


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text (a BOM allowed) from a file's bytes, or NotText naming ``source`` and the line: every
    reader of user text (cfg, data and model YAML, hyperparameters, COCO json) goes through here."""
    if b"\x00" in data:
        raise NotText(f"{source}: a binary file, not text", data.count(b"\n", 0, data.index(b"\x00")) + 1, True)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise NotText(f"{source}: not UTF-8 text (line {line}: binary data?)", line, False) from None


def read_text(path, what: str = "file") -> str:
    """A UTF-8 text file's content; binary files and unreadable ones are UsageErrors."""
    return decode_text(existing_file(path, what).read_bytes(), f"{what} {path}")