"""Helpers shared by subcommands."""
from __future__ import annotations

import re
import sys

from ..errors import CfgError, Diagnostic


def print_diagnostics(diags: list[Diagnostic], show_source: bool = False, stream=None) -> None:
    stream = stream or sys.stderr
    for d in diags:
        print(d.format(show_source=show_source), file=stream)


def img_size(text: str):
    """argparse type for --img: ``640`` (square) or ``640x480`` / ``640,480`` (height, width)."""
    import argparse

    parts = re.split(r"[x,]", text.strip())
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SIZE or HEIGHTxWIDTH, got {text!r}") from None
    if len(sizes) not in (1, 2) or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"expected SIZE or HEIGHTxWIDTH with positive sizes, got {text!r}")
    return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])


def report_cfg_error(exc: CfgError) -> int:
    print_diagnostics(exc.diagnostics, show_source=True)
    return 2


def torch_device(spec: str) -> str:
    """--device cpu | 0 | 0,1 -> a torch device string (the CPU when CUDA is absent)."""
    import torch

    if spec == "cpu" or not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{spec.split(',')[0]}"
