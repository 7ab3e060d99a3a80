"""Models from files: compile a cfg, rebuild one of our checkpoints, find a shipped cfg. Below the
workflows (training, evaluation, export, detection), which build their models through here."""
from __future__ import annotations

from pathlib import Path

from .backends.torch_exec import CompiledModel
from .frontend import parse_text
from .graph import build_graph, load_graph
from .io.checkpoint import load_state_dict, read_checkpoint


def compile(cfg: str | Path, img_size: int | tuple[int, int] | None = None,
            dialect: str | None = None) -> CompiledModel:
    """Compile a cfg file into a torch.nn.Module (``CompiledModel``).

    img_size overrides [net] width/height (an int for square inputs, or (height, width));
    dialect is 'yolor' or 'darknet' (detected from the sections when None)."""
    return CompiledModel(load_graph(cfg, img_size, dialect))


def model_from_checkpoint(obj: dict, state_key: str = "model", source: str = "<checkpoint>") -> CompiledModel:
    """The model one of our checkpoints describes (its cfg text), with the tensors under ``state_key``."""
    graph = build_graph(parse_text(obj["cfg"], obj.get("cfg_path", source)), tuple(obj["img_size"]), obj["dialect"])
    model = CompiledModel(graph)
    load_state_dict(model, obj[state_key], source)
    return model


def load(path: str | Path) -> CompiledModel:
    """Rebuild a model from one of our checkpoints alone (``yolor_cfg.load``)."""
    obj = read_checkpoint(path)
    model = model_from_checkpoint(obj, "model", str(path))
    model.names = list(obj.get("names", []))
    model.checkpoint_extra = {k: v for k, v in obj.items() if k not in ("model", "cfg")}
    return model


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
