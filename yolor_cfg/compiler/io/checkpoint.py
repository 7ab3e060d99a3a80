"""PyTorch checkpoints: YOLOR's and ours. Always loaded with ``weights_only=True``."""
from __future__ import annotations

import dataclasses
import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..dialects import DialectConflict, Evidence, weights_dialect_change
from ...core.checks import existing_file
from ...core.errors import SourceLoc, WeightsError
from ...core.files import atomic_path
from ..layers.base import STATE_KEY

if TYPE_CHECKING:
    from ..executor import CompiledModel

_PAPER_KEY = re.compile(r"^(module\.)?model\.\d+\.")  # the YOLOR paper branch's nn.Sequential
_WRAPPER_PREFIXES = ("module.", "model.")  # DDP / EMA wrappers around the module_list


def read_torch_file(path: str | Path) -> object:
    """torch.load with weights_only=True; a pickle that would run code is refused, never executed."""
    existing_file(path, "weights")
    if not is_torch_file(path):
        from .darknet_weights import describe_foreign_file

        with open(path, "rb") as f:
            head = f.read(4096)
        what = describe_foreign_file(head) if head else "empty (0 bytes)"
        raise WeightsError(f"{path}: not a PyTorch file (no zip or pickle header); it is {what or 'binary data'}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # a whole pickled model (YOLOR paper branch, yolov7): read with inert stand-ins, never run
        from .pickled import load_restricted

        return load_restricted(path)
    except (RuntimeError, EOFError, IndexError, KeyError, ValueError, UnicodeDecodeError) as exc:  # damaged files
        size = Path(path).stat().st_size
        reason = str(exc).strip() or type(exc).__name__
        raise WeightsError(f"{path}: not a readable PyTorch file: "
                           + ("the file is empty (0 bytes)" if size == 0 else f"{reason} ({size:,} bytes)")) from None


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def extract_state_dict(obj, path: str = "<checkpoint>", key: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint: a bare state dict, {'model'|'state_dict'|'ema': ...}, or a
    whole pickled model (its ``ema`` preferred, float16 tensors as float32)."""
    from .pickled import is_pickled_model, pickled_model

    if _is_state_dict(obj):
        return obj
    if is_pickled_model(obj) and key is None:
        return pickled_model(obj).state_dict
    if isinstance(obj, dict):
        keys = [key] if key else ["model", "state_dict", "ema", "ema_state_dict"]
        for k in keys:
            if _is_state_dict(obj.get(k)):
                return obj[k]
            if isinstance(obj.get(k), dict) and _is_state_dict(obj[k].get("state_dict")):
                return obj[k]["state_dict"]
    raise WeightsError(f"{path}: no state dict found (looked for a dict of tensors, or one under "
                       f"'model', 'state_dict' or 'ema')")


def _strip_wrappers(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        while not k.startswith("module_list.") and k.startswith(_WRAPPER_PREFIXES):
            k = k.split(".", 1)[1]
        out[k] = v
    return out


def class_dependent_layers(graph) -> set[int]:
    """The layers whose tensors' sizes follow the class count: each head's input and, back from it,
    every layer with the same channel count (the prediction convolution and the implicit layers
    around it), stopping where the channel count changes."""
    layers: set[int] = set()
    for head in graph.heads:
        channels = graph.nodes[head.inputs[0]].shape.c
        stack = list(head.inputs)
        while stack:
            i = stack.pop()
            if i < 0 or i in layers or graph.nodes[i].shape.c != channels:
                continue
            layers.add(i)
            stack.extend(graph.nodes[i].inputs)
    return layers


def load_state_dict(model: CompiledModel, state_dict: dict[str, torch.Tensor], source: str = "<state dict>",
                    reinitialised: list[str] | None = None):
    """Load YOLOR-keyed tensors (``module_list.{i}.Conv2d.weight``, ...) into ``model``, exactly.

    Missing, unexpected and mis-shaped tensors are all reported together, each with its layer
    index, kind and cfg line. With a ``reinitialised`` list (fine-tuning to another class count),
    mis-shaped tensors of class-dependent layers keep the model's own fresh values and are named
    in it instead; every other tensor must still fit."""
    nodes = model.graph.nodes
    if any(_PAPER_KEY.match(k) for k in state_dict) and not any("module_list." in k for k in state_dict):
        from ..yaml2cfg import YamlError, translate_state_dict

        try:
            state_dict = translate_state_dict({k.removeprefix("module."): v for k, v in state_dict.items()},
                                              model.graph.text)
        except YamlError as exc:
            raise WeightsError(f"{source}: a YOLOR paper-branch state dict (model.N.* keys): {exc}") from None
    given = _strip_wrappers(state_dict)
    expected = model.state_dict()
    problems: list[str] = []

    def where(key: str) -> str:
        m = STATE_KEY.match(key)
        if m and int(m.group(1)) < len(nodes):
            n = nodes[int(m.group(1))]
            return f"{n.describe()} {m.group(2)}"
        return key

    refit = class_dependent_layers(model.graph) if reinitialised is not None else set()
    to_load = {}
    for k, v in given.items():
        m = STATE_KEY.match(k)
        if k not in expected:
            problems.append(f"unexpected tensor {where(k)} {tuple(v.shape)}")
        elif expected[k].shape != v.shape and m and int(m.group(1)) in refit:
            reinitialised.append(f"{where(k)}: {tuple(v.shape)} in the weights, {tuple(expected[k].shape)} here")
        elif expected[k].shape != v.shape:
            problems.append(f"{where(k)}: expected shape {tuple(expected[k].shape)}, found {tuple(v.shape)}")
        else:
            to_load[k] = v
    for k, v in expected.items():
        if k not in given and not k.endswith("num_batches_tracked"):
            problems.append(f"missing tensor {where(k)} {tuple(v.shape)}")
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise WeightsError(f"{source} does not fit {model.graph.path}:\n  " + "\n  ".join(shown))
    with torch.no_grad():
        for k, v in to_load.items():
            expected[k].copy_(v)
    return model


FORMAT = "yolor-cfg/1"


def is_torch_file(path: str | Path) -> bool:
    """A zip-format (torch.save) or legacy pickle file, judged by content, not extension."""
    with open(path, "rb") as f:
        magic = f.read(4)
    return magic == b"PK\x03\x04" or magic[:1] == b"\x80"


def torch_weights_evidence(obj, state_dict: dict, path: str | Path) -> Evidence | None:
    """What a PyTorch weight file says about the dialect: ours records it; YOLOR's key names mean yolor."""
    where = SourceLoc(str(path), 0, 0)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        return Evidence(obj["dialect"], where, f"a yolor-cfg checkpoint compiled with the {obj['dialect']} dialect")
    if any(STATE_KEY.match(k) for k in _strip_wrappers(state_dict)):
        return Evidence("yolor", where, "YOLOR PyTorch weights (module_list.N.* keys)")
    if any(_PAPER_KEY.match(k) for k in state_dict):
        return Evidence("yolor", where, "YOLOR paper-branch weights (model.N.* keys)")
    return None


def load_with_dialect(model: CompiledModel, evidence: Evidence | None, load):
    """Run ``load()`` after letting the weights' dialect evidence act on ``model``: a detected dialect
    that the weights contradict switches (the model is rebuilt, and restored if loading fails); a
    dialect the file's own evidence decided is a WeightsError naming both pieces of evidence."""
    if evidence is None:
        return load()
    try:
        change = weights_dialect_change(model.graph.dialect_choice, evidence)
    except DialectConflict as exc:
        raise WeightsError(str(exc)) from None
    if change is None:
        return load()
    if change.dialect.name == model.graph.dialect.name:  # the assumed dialect, now with evidence
        model.graph.dialect_choice = dataclasses.replace(change, dialect=model.graph.dialect)
        return load()
    from ..graph import with_dialect

    previous = model.replace_graph(with_dialect(model.graph, change))
    try:
        return load()
    except BaseException:
        model.replace_graph(*previous)
        raise


def load_weights_into(model: CompiledModel, path: str | Path, key: str | None = None, partial: bool | int = False,
                      reinitialised: list[str] | None = None):
    """Load any supported weight file into ``model``: our or YOLOR's .pt, or Darknet .weights; the
    class names of our checkpoints become ``model.names``. ``reinitialised`` (a list): fine-tuning to
    another class count, see ``load_state_dict``; a Darknet file is then loaded up to its first
    class-dependent layer.

    The file's format is dialect evidence too (see ``load_with_dialect``)."""
    existing_file(path, "weights")
    if not is_torch_file(path):
        from .darknet_weights import check_weights_file, load_darknet_weights

        check_weights_file(path)  # before its format counts as dialect evidence
        # Darknet's container holds floats, not semantics (convert writes YOLOR cfgs' weights in it too):
        # it decides only a dialect that was assumed for want of evidence
        evidence = (Evidence("darknet", SourceLoc(str(path), 0, 0), "a Darknet .weights file")
                    if model.graph.dialect_choice.source == "default" else None)
        if reinitialised is not None and partial is False:
            try:
                return load_with_dialect(model, evidence, lambda: load_darknet_weights(model, path))
            except WeightsError:
                partial = True  # another class count: the layers before the first head's input
                reinitialised.append("every layer from the first head's input on (a Darknet file is one stream "
                                     "of floats: past a layer of another size nothing lines up)")
        return load_with_dialect(model, evidence, lambda: load_darknet_weights(model, path, partial=partial))
    obj = read_torch_file(path)
    state_dict = extract_state_dict(obj, str(path), key)
    evidence = torch_weights_evidence(obj, state_dict, path)
    report = load_with_dialect(model, evidence, lambda: load_state_dict(model, state_dict, str(path), reinitialised))
    if reinitialised:
        return report  # other classes: the file's names are not this model's
    if isinstance(obj, dict) and obj.get("format") == FORMAT and obj.get("names"):
        model.names = list(obj["names"])  # our checkpoints carry the class names: export and detect use them
    return report


def save_checkpoint(model: CompiledModel, path: str | Path, names: list[str] | None = None, **extra) -> None:
    """Our checkpoint: state dict plus everything needed to rebuild the model (cfg text, dialect,
    input size, class names) and whatever training adds (epoch, optimizer, EMA, hyp). Written
    atomically (temp file + rename); tensors only, so it loads with weights_only=True."""
    graph = model.graph
    payload = {"format": FORMAT, "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "cfg": graph.text, "cfg_path": graph.path, "dialect": graph.dialect.name,
               "img_size": [graph.net.height, graph.net.width], "names": list(names or []), **extra}
    with atomic_path(path) as tmp:
        try:
            torch.save(payload, tmp)
        except (RuntimeError, OSError) as exc:  # torch reports a short write (full disk, ulimit -f) as RuntimeError
            reason = str(exc).splitlines()[0][:200]
            raise WeightsError(f"cannot write {path}: {reason} (is the disk full, or a file size limit set?); "
                               "nothing was written") from None


def read_checkpoint(path: str | Path) -> dict:
    """One of our checkpoints (a dict with the cfg text inside); WeightsError for anything else."""
    obj = read_torch_file(path)
    if not (isinstance(obj, dict) and obj.get("format") == FORMAT):
        raise WeightsError(f"{path}: not a yolor-cfg checkpoint (it has no cfg inside); compile the cfg and use "
                           "model.load_weights() instead")
    return obj
