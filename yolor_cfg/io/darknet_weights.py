"""Darknet ``.weights``: header, then every layer's tensors in cfg order as float32.

Header: major, minor, revision (int32), then ``seen`` as int64 when major*10+minor >= 2 and
major < 1000 and minor < 1000, else as int32 (Darknet's rule). Each layer kind's registry entry
gives its tensors in file order (``darknet_layout``)."""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import WeightsError

if TYPE_CHECKING:
    from ..backends.torch_exec import CompiledModel


@dataclass(frozen=True)
class DarknetHeader:
    major: int = 0
    minor: int = 2
    revision: int = 5
    seen: int = 0

    @property
    def seen_is_64bit(self) -> bool:
        return self.major * 10 + self.minor >= 2 and self.major < 1000 and self.minor < 1000

    @property
    def transposed(self) -> bool:  # connected weights stored transposed (very old files)
        return self.major > 1000 or self.minor > 1000

    def pack(self) -> bytes:
        fmt = "<iiiq" if self.seen_is_64bit else "<iiiI"
        return struct.pack(fmt, self.major, self.minor, self.revision, self.seen)


@dataclass
class LoadReport:
    layers_loaded: int
    floats_read: int
    header: DarknetHeader
    stopped_before: int | None = None

    def __str__(self) -> str:
        text = f"loaded {self.layers_loaded} layers ({self.floats_read:,} floats)"
        if self.stopped_before is not None:
            text += f", stopped before layer {self.stopped_before}"
        return text


def read_header(data: bytes, path: str) -> tuple[DarknetHeader, int]:
    if len(data) < 16:
        raise WeightsError(f"{path}: {len(data)} bytes is too short for a Darknet .weights header (16 or 20 bytes)")
    major, minor, revision = struct.unpack_from("<iii", data)
    probe = DarknetHeader(major, minor, revision)
    if probe.seen_is_64bit:
        if len(data) < 20:
            raise WeightsError(f"{path}: header of version {major}.{minor}.{revision} needs 20 bytes, file has {len(data)}")
        return DarknetHeader(major, minor, revision, struct.unpack_from("<q", data, 12)[0]), 20
    return DarknetHeader(major, minor, revision, struct.unpack_from("<I", data, 12)[0]), 16


def _class_dependent_start(model: CompiledModel) -> int:
    """The first layer whose size depends on the class count: the input of the first head."""
    heads = model.graph.heads
    return min(h.inputs[0] for h in heads) if heads else len(model.graph.nodes)


def load_darknet_weights(model: CompiledModel, path: str | Path, partial: bool | int = False) -> LoadReport:
    """Load a .weights file with strict byte accounting.

    partial=False: the file must hold exactly the network's tensors. partial=True loads the
    layers before the first class-dependent layer (the backbone, as Darknet's ``*.conv.N`` files
    hold), partial=N the first N layers; the file may hold more, and may end at a layer boundary
    before the cut-off."""
    data = Path(path).read_bytes()
    header, offset = read_header(data, str(path))
    if (len(data) - offset) % 4:
        raise WeightsError(f"{path}: {len(data) - offset} bytes after the header is not a whole number of floats")
    floats = np.frombuffer(data, dtype="<f4", offset=offset)
    nodes = model.graph.nodes
    cutoff = len(nodes) if partial is False else _class_dependent_start(model) if partial is True else int(partial)
    state = model.state_dict()
    pos, loaded, stopped = 0, 0, None
    for node in nodes[:cutoff]:
        layout = node.spec.darknet_layout(node)
        need = sum(math.prod(shape) for _, shape in layout)
        if not layout:
            loaded += 1
            continue
        have = len(floats) - pos
        if have < need:
            if partial is not False and have == 0:
                stopped = node.index
                break
            raise WeightsError(
                f"{path}: the file ends inside layer {node.index} [{node.kind}] (cfg line {node.loc.line}): "
                f"it needs {need:,} floats, {have:,} are left"
                + ("" if partial is not False else " (use partial=True / --partial to load a backbone on purpose)"))
        for attr, shape in layout:
            n = math.prod(shape)
            values = torch.from_numpy(floats[pos:pos + n].copy())
            if attr == "Linear.weight" and header.transposed:
                values = values.view(shape[1], shape[0]).t().contiguous()
            target = state[f"module_list.{node.index}.{attr}"]
            with torch.no_grad():
                target.copy_(values.view(shape).to(target.dtype))
            pos += n
        loaded += 1
    if partial is False and pos != len(floats):
        raise WeightsError(f"{path}: {len(floats) - pos:,} floats are left after the last layer "
                           f"(expected {pos:,} floats for {model.graph.path}, the file has {len(floats):,}); "
                           "the weights belong to another network")
    if partial is not False and stopped is None and cutoff < len(nodes):
        stopped = cutoff
    return LoadReport(loaded, pos, header, stopped)


def save_darknet_weights(model: CompiledModel, path: str | Path, header: DarknetHeader | None = None) -> int:
    """Write the model as a .weights file (atomically); returns the number of floats written."""
    header = header or DarknetHeader()
    state = model.state_dict()
    chunks = [header.pack()]
    count = 0
    for node in model.graph.nodes:
        for attr, shape in node.spec.darknet_layout(node):
            t = state[f"module_list.{node.index}.{attr}"].detach().to("cpu", torch.float32)
            if attr == "Linear.weight" and header.transposed:
                t = t.t()
            chunks.append(t.contiguous().numpy().astype("<f4").tobytes())
            count += math.prod(shape)
    tmp = Path(f"{path}.tmp{os.getpid()}")
    tmp.write_bytes(b"".join(chunks))
    os.replace(tmp, path)
    return count
