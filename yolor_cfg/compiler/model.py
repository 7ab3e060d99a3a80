"""Models from files: compile a cfg, rebuild one of our checkpoints, find a shipped cfg; ``Model``,
the compiled executor with its conveniences (fuse, optimize, weights in and out). Below the
workflows (training, evaluation, export, detection), which build their models through here."""
from __future__ import annotations

from pathlib import Path

from ..core import checks
from .optimize import optimize
from .executor import CompiledModel
from .frontend import parse_text
from .graph import build_graph, load_graph
from .io import load_weights_into, save_checkpoint, save_darknet_weights
from .io.checkpoint import load_state_dict, read_checkpoint
from .passes import FUSE_PIPELINE, WeightedGraph, run_pipeline


class Model(CompiledModel):
    """A ``CompiledModel`` (the executor) plus what users call on it: graph passes, the optimized
    inference model, weights in and out. Built by ``compile`` and ``load``."""

    def fuse(self, passes=None, verbose: bool = False) -> "Model":
        """A new, smaller model built from the rewritten graph (BN and implicit folded, dead
        layers removed); same API. ``self.fuse_report`` summarises what changed."""
        wg, report = run_pipeline(WeightedGraph.from_model(self), passes or FUSE_PIPELINE)
        fused = type(self)(wg.graph)
        fused.load_state_dict(wg.state_dict(), strict=True)
        fused.to(next(self.parameters()).device).train(self.training)
        fused.fuse_report = report
        if verbose:
            print(report.summary())
        return fused

    def optimize(self, dtype="auto", compile: bool = False, channels_last: bool = True, cuda_graph: bool = False):
        """The fastest correct inference model for the device: fused, then ``backends.optimize``."""
        return optimize(self.fuse(), dtype=dtype, compile=compile, channels_last=channels_last, cuda_graph=cuda_graph)

    def load_weights(self, path: str | Path, partial: bool | int = False, key: str | None = None,
                     fit_classes: bool = False):
        """Load weights, format picked from the content: a YOLOR or yolor-cfg ``.pt`` checkpoint,
        or Darknet ``.weights`` (``partial`` loads a backbone prefix on purpose; returns a report).
        ``fit_classes``: weights trained for another class count load everywhere they fit, and the
        class-dependent tensors that do not keep their fresh values; returns what was re-initialised."""
        if not fit_classes:
            return load_weights_into(self, path, key=key, partial=partial)
        reinitialised: list[str] = []
        load_weights_into(self, path, key=key, partial=partial, reinitialised=reinitialised)
        return reinitialised

    def save_weights(self, path: str | Path, names: list[str] | None = None, **extra):
        """Write ``.weights`` (Darknet) or our ``.pt`` checkpoint, by the file's extension."""
        if str(path).endswith(".weights"):
            return save_darknet_weights(self, path, extra.get("header"))
        return save_checkpoint(self, path, names, **extra)


def compile(cfg: str | Path, img_size: int | tuple[int, int] | None = None,
            dialect: str | None = None, cls: type[Model] = Model) -> Model:
    """Compile a cfg file into a torch.nn.Module (a ``Model``, or ``cls``).

    img_size overrides [net] width/height (an int for square inputs, or (height, width));
    dialect is 'yolor' or 'darknet' (detected from the sections when None)."""
    if not (isinstance(cfg, str) and "\n" in cfg):  # cfg text is taken as it is
        checks.existing_file(cfg, "cfg")
    if img_size is not None:
        checks.img_size(img_size, "img_size")
    return cls(load_graph(cfg, img_size, dialect))


def model_from_checkpoint(obj: dict, state_key: str = "model", source: str = "<checkpoint>",
                          cls: type[Model] = Model) -> Model:
    """The model one of our checkpoints describes (its cfg text), with the tensors under ``state_key``."""
    graph = build_graph(parse_text(obj["cfg"], obj.get("cfg_path", source)), tuple(obj["img_size"]), obj["dialect"])
    model = cls(graph)
    load_state_dict(model, obj[state_key], source)
    return model


def load(path: str | Path, cls: type[Model] = Model) -> Model:
    """Rebuild a model from one of our checkpoints alone (``yolor_cfg.load``)."""
    obj = read_checkpoint(path)
    model = model_from_checkpoint(obj, "model", str(path), cls)
    model.names = list(obj.get("names", []))
    model.checkpoint_extra = {k: v for k, v in obj.items() if k not in ("model", "cfg")}
    return model


def shipped_cfg(name: str) -> Path:
    """Path of a cfg shipped in ``cfg/`` (``yolor_tiny`` or ``yolor_tiny.cfg``)."""
    from importlib import resources

    file = name if name.endswith(".cfg") else f"{name}.cfg"
    local = Path(__file__).resolve().parents[2] / "cfg" / file
    if local.is_file():
        return local
    found = resources.files("yolor_cfg.cfgs").joinpath(file)
    if not found.is_file():
        raise FileNotFoundError(f"no shipped cfg named {file}")
    return Path(str(found))
