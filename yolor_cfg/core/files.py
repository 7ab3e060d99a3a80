"""Writing outputs safely: files appear whole or not at all, and run folders are never shared."""
from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from .checks import UsageError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block succeeds,
    removed when it fails, so neither a half-written file nor a stray temporary is left. The temporary keeps
    the suffix (writers such as OpenCV's choose the container by it)."""
    final = Path(path)
    tmp = final.with_name(f".{final.stem}.tmp{os.getpid()}{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill; it replaces ``path`` (and what was there) when the
    block succeeds and is removed when it fails."""
    final = Path(path)
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    old = final.with_name(f".{final.name}.old{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def claim_run_dir(project: str | Path, name: str, exist_ok: bool = False) -> Path:
    """A new folder project/name (or name2, name3, ...), created here: ``mkdir`` fails when another
    run made it first, so two runs started together never share one. ``exist_ok`` reuses project/name."""
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise UsageError(f"--name {name!r}: a run name is one folder name (not empty, no '/', not . or ..)")
    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    if exist_ok:
        (project / name).mkdir(exist_ok=True)
        return project / name
    n = 1
    while True:
        candidate = project / (name if n == 1 else f"{name}{n}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
