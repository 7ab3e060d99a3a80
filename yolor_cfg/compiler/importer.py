"""``import_checkpoint``: a YOLOR paper-branch (or other whole-model) training checkpoint in, a cfg and
our checkpoint out, with what can be checked without the writing project's code checked on the spot."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .model import Model
from ..core.checks import not_an_input, output_dir
from ..core.errors import WeightsError
from ..core.parity import max_error
from ..core.files import write_text_atomic
from .frontend import parse_text
from .graph import build_graph
from .io.checkpoint import load_state_dict, save_checkpoint
from .io.pickled import read_pickled_model
from .yaml2cfg import yaml_to_cfg

FUSED_TOLERANCE = 1e-4  # fused vs unfused outputs, relative where values exceed 1


@dataclass
class ImportResult:
    cfg: Path
    weights: Path
    params: int
    dialect: str
    source: str  # which model of the checkpoint, and conversions
    tensors: int
    fused_error: float
    names: list[str]

    def format(self) -> str:
        return (f"wrote {self.cfg} and {self.weights}\n"
                f"took {self.source}: {self.tensors} tensors, all placed (none missing, none left over)\n"
                f"{self.params:,} parameters, dialect {self.dialect}; fused equals unfused within "
                f"{self.fused_error:.2g}" + (f"; classes {', '.join(self.names)}" if self.names else ""))


def import_checkpoint(path: str | Path, out_dir: str | Path, name: str | None = None,
                      img_size: int | None = None) -> ImportResult:
    """Write ``out_dir/NAME.cfg`` (from the model's embedded YAML) and ``out_dir/NAME.pt`` (our format)
    from a whole-model checkpoint, read safely (``yolor_cfg.compiler.io.pickled``). Every tensor must land in the
    compiled model with its shape, and the fused model must equal the unfused one on a test input."""
    path = Path(path)
    out = output_dir(out_dir, "import output folder")
    name = name or path.stem
    for suffix in (".cfg", ".pt"):
        not_an_input(out / f"{name}{suffix}", [path], "import output")
    pickled = read_pickled_model(path)
    if not isinstance(pickled.yaml, dict):
        raise WeightsError(f"{path}: the pickled model carries no model YAML ('yaml' attribute), so its "
                           "architecture is unknown; convert its YAML with yolor-cfg yaml2cfg and load the weights")
    cfg_path = out / f"{name}.cfg"
    text = yaml_to_cfg(pickled.yaml, img_size, name=f"{path.name} (imported)")
    model = Model(build_graph(parse_text(text, str(cfg_path))))
    load_state_dict(model, pickled.state_dict, str(path))  # raises on any missing, extra or mis-shaped tensor
    model.eval()
    h, w = model.graph.net.height, model.graph.net.width
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference, fused = model(x), model.fuse()(x)
    error = max_error(fused[0].numpy(), reference[0].numpy()) if model.heads else max_error(fused.numpy(), reference.numpy())
    if error > FUSED_TOLERANCE:
        raise WeightsError(f"{path}: the fused model differs from the unfused one by {error:.3g} "
                           f"(> {FUSED_TOLERANCE:g}); nothing written")
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cfg_path, text)
    weights = out / f"{name}.pt"
    save_checkpoint(model, weights, pickled.names, imported_from=str(path), imported_model=pickled.source_key)
    return ImportResult(cfg_path, weights, model.num_params(), model.graph.dialect.name, pickled.describe(),
                        len(pickled.state_dict), error, pickled.names)
