"""The Python API's entry points."""
from __future__ import annotations

from pathlib import Path

from .backends.torch_exec import CompiledModel
from .graph import load_graph


def compile(cfg: str | Path, img_size: int | tuple[int, int] | None = None,
            dialect: str | None = None) -> CompiledModel:
    """Compile a cfg file into a torch.nn.Module (``CompiledModel``).

    img_size overrides [net] width/height (an int for square inputs, or (height, width));
    dialect is 'yolor' or 'darknet' (detected from the sections when None)."""
    return CompiledModel(load_graph(cfg, img_size, dialect))
