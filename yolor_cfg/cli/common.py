"""Helpers shared by subcommands: argument types (built on ``yolor_cfg.core.checks``, so the command line
and the Python API check the same way) and diagnostics output."""
from __future__ import annotations

import argparse
import re
import sys

from ..core import checks
from ..core.choices import BUILTIN_DATA
from ..core.errors import CfgError, Diagnostic

DIALECT_CHOICES = ("yolor", "darknet")


def print_diagnostics(diags: list[Diagnostic], show_source: bool = False, stream=None) -> None:
    stream = stream or sys.stderr
    for d in diags:
        print(d.format(show_source=show_source), file=stream)


def _checked(convert, check, role: str):
    """An argparse type: ``convert`` the text, then ``check`` it; a failure is argparse's usage error.
    ``role`` names what the value is (a count, an input file, an output folder, ...): the mistake tests
    draw wrong values for every option by it."""
    def parse(text: str):
        try:
            return check(convert(text))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {getattr(convert, '__name__', 'a value')}, got {text!r}") from None
        except checks.UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.role = role
    return parse


def count(low: int = 1, high: int | None = None, why: str = ""):
    """A whole number in [low, high]."""
    role = ("count" if low >= 1 else "count0") + ("" if high is not None else "+")
    return _checked(int, lambda v: checks.int_in(v, "the value", low, high, why), role)


def batch_size():
    return count(1, checks.MAX_BATCH, "no device fits more images in one batch")


def probability():
    return _checked(float, lambda v: checks.probability(v, "the value"), "probability")


def tolerance():
    """A non-negative finite number (0 asks for exact agreement)."""
    def check(v):
        if not 0 <= v < float("inf"):
            raise checks.UsageError(f"must be a number of 0 or more, got {v}")
        return v
    return _checked(float, check, "tolerance")


def finite_number():
    """Any finite number (negative allowed)."""
    def check(v):
        if v != v or v in (float("inf"), float("-inf")):
            raise checks.UsageError(f"must be a finite number, got {v}")
        return v
    return _checked(float, check, "number")


def existing_file(what: str = "file"):
    return _checked(str, lambda v: str(checks.existing_file(v, what)), "input")


def existing_file_or_auto(what: str = "file"):
    """An existing file, or the word ``auto`` (argparse also runs a type on an option's ``const``)."""
    return _checked(str, lambda v: v if v == "auto" else str(checks.existing_file(v, what)), "input")


def existing_path(what: str = "file"):
    return _checked(str, lambda v: str(checks.existing_path(v, what)), "input")


def output_file(what: str = "output", suffixes: tuple[str, ...] = ()):
    return _checked(str, lambda v: str(checks.output_file(v, what, suffixes)), "output_file")


def output_dir(what: str = "output folder"):
    return _checked(str, lambda v: str(checks.output_dir(v, what)), "output_dir")


def _data(text: str) -> str:
    return text if text in BUILTIN_DATA else str(checks.existing_file(text, "data yaml"))


data_spec = _checked(str, _data, "input")
"""--data: a data.yaml, or 'synth' / 'synth-tracks' for the built-in synthetic sets (detection / tracking)."""


def opset():
    return _checked(int, checks.opset, "count")


def device():
    return _checked(str, checks.device, "device")


def _img(text: str):
    parts = re.split(r"[x,]", text.strip())
    sizes = [int(p) for p in parts]
    if len(sizes) not in (1, 2):
        raise ValueError(text)
    return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])


_img.__name__ = "SIZE or HEIGHTxWIDTH"
img_size = _checked(_img, checks.img_size, "size")
"""argparse type for --img where a model runs: ``640`` (square) or ``640x480`` / ``640,480`` (height,
width), 32 to MAX_IMG."""
square_img = _checked(int, checks.img_size, "size")


def _any_size(value):
    for side in value if isinstance(value, tuple) else (value,):
        checks.int_in(side, "image size", 1)
    return value


shape_img = _checked(_img, _any_size, "size")
"""--img where only shapes are inferred (info, check, draw): any positive size."""


def report_cfg_error(exc: CfgError) -> int:
    print_diagnostics(exc.diagnostics, show_source=True)
    return 2


torch_device = checks.torch_device
