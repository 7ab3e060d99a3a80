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


def shipped_cfg(name: str) -> Path:
    """Path of a cfg shipped in ``cfg/`` (``yolor_tiny`` or ``yolor_tiny.cfg``)."""
    from importlib import resources

    file = name if name.endswith(".cfg") else f"{name}.cfg"
    local = Path(__file__).resolve().parent.parent / "cfg" / file
    if local.is_file():
        return local
    found = resources.files("yolor_cfg.cfgs").joinpath(file)
    if not found.is_file():
        raise FileNotFoundError(f"no shipped cfg named {file}")
    return Path(str(found))
