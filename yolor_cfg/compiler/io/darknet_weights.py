"""Darknet ``.weights``: header, then every layer's tensors in cfg order as float32.

Header: major, minor, revision (int32), then ``seen`` as int64 when major*10+minor >= 2 and
major < 1000 and minor < 1000, else as int32 (Darknet's rule). Each layer kind's registry entry
gives its tensors in file order (``darknet_layout``)."""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...core.errors import WeightsError
from ...core.files import atomic_path

if TYPE_CHECKING:
    from ..executor import CompiledModel


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


# Largest version number a real header carries (Darknet's transposed-weights flag is > 1000).
_MAX_VERSION = 1 << 20
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<?xml")


def describe_foreign_file(data: bytes) -> str | None:
    """What a file that cannot be Darknet ``.weights`` is (a checkpoint, an archive, an HTML page,
    text), or None when it may be one."""
    head = data[:4096]
    if head[:4] == b"PK\x03\x04":
        return ("a zip archive: a PyTorch .pt checkpoint (give it as it is: model.load_weights() and --weights "
                "pick the format from the content) or a zipped download to unpack")
    if head[:1] == b"\x80":
        return "a pickle: a legacy PyTorch .pt checkpoint (model.load_weights() and --weights read it as one)"
    if head[:2] == b"\x1f\x8b":
        return "a gzip archive: unpack it first"
    if head.lstrip().lower().startswith(_HTML_STARTS):
        return "an HTML page (a download that saved an error or sign-in page instead of the weights?)"
    text = head.decode("utf-8", errors="replace")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if head and printable >= 0.95 * len(text):
        first = text.strip().splitlines()[0][:60] if text.strip() else ""
        return f"a text file (it starts with {first!r})"
    if len(data) >= 12:
        version = struct.unpack_from("<iii", data)
        if any(v < 0 or v > _MAX_VERSION for v in version):
            return f"binary data whose header is no Darknet version ({'.'.join(map(str, version))})"
    return None


def check_weights_file(path: str | Path) -> None:
    """WeightsError when ``path`` is empty or plainly not Darknet ``.weights`` (says what it is instead)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        raise WeightsError(f"{path}: the file is empty (0 bytes)")
    foreign = describe_foreign_file(head)
    if foreign:
        raise WeightsError(f"{path}: not a Darknet .weights file: this is {foreign}")


def read_header(data: bytes, path: str, first_layer: str = "") -> tuple[DarknetHeader, int]:
    """The header and its size in bytes; ``first_layer`` names the layer a cut-off header stops before."""
    foreign = describe_foreign_file(data)
    if foreign:
        raise WeightsError(f"{path}: not a Darknet .weights file: this is {foreign}")
    before = f", before {first_layer}" if first_layer else ""
    if len(data) < 16:
        raise WeightsError(f"{path}: the file ends inside the .weights header ({len(data)} bytes of 16 or 20"
                           f"{before}): it was cut off")
    major, minor, revision = struct.unpack_from("<iii", data)
    probe = DarknetHeader(major, minor, revision)
    if probe.seen_is_64bit:
        if len(data) < 20:
            raise WeightsError(f"{path}: the file ends inside the .weights header (version {major}.{minor}."
                               f"{revision} needs 20 bytes, the file has {len(data)}{before}): it was cut off")
        return DarknetHeader(major, minor, revision, struct.unpack_from("<q", data, 12)[0]), 20
    return DarknetHeader(major, minor, revision, struct.unpack_from("<I", data, 12)[0]), 16


def _layer_name(node) -> str:
    return node.describe()


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
    nodes = model.graph.nodes
    first = next((n for n in nodes if n.spec.darknet_layout(n)), None)
    header, offset = read_header(data, str(path), _layer_name(first) if first else "")
    stray = (len(data) - offset) % 4  # bytes of a float cut in half
    cut = f" and {stray} stray bytes (the file was cut off inside a float)" if stray else ""
    floats = np.frombuffer(data, dtype="<f4", count=(len(data) - offset) // 4, offset=offset)
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
            if partial is not False and have == 0 and not stray:
                stopped = node.index
                break
            raise WeightsError(
                f"{path}: the file ends inside {_layer_name(node)}: it needs {need:,} floats, {have:,} are "
                f"left{cut}"
                + ("" if partial is not False or stray else
                   " (use partial=True / --partial to load a backbone on purpose)"))
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
    if stray and pos == len(floats):
        last = next((n for n in reversed(nodes[:cutoff]) if n.spec.darknet_layout(n)), None)
        raise WeightsError(f"{path}: {stray} stray bytes after the last float of "
                           f"{_layer_name(last) if last else 'the header'}: not a whole float; the file is damaged")
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
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"".join(chunks))
    return count
