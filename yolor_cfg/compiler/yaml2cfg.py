"""Convert a model YAML of the YOLOR paper branch or of yolov7 into an equivalent cfg, with a key map
for its weights.

``CONVERTERS`` holds one function per module: the paper branch's (Conv, DownC, BottleneckCSP,
BottleneckCSPF, BottleneckCSP2, SPPCSP, ReOrg, DWT, nn.Upsample, Concat, IDetect; described in
tests/fixtures/reference-arch/MODULES.md) and yolov7's (MP, SP, Shortcut, SPPCSPC, RepConv, Detect,
IAuxDetect; tests/fixtures/reference-arch/yolov7/README.md). A joint BatchNorm over a concatenation
becomes one BatchNorm per part: the plain 1x1 convolution of a CSP block becomes a BN+SiLU
convolution holding the second part, and the bottleneck branch gets a ``[batchnorm]`` +
``[activation]`` holding the first; parameters stay the same, one for one.

The key map is written at the end of the cfg as ``#@keymap`` comment lines, so the cfg alone is
enough to load a paper-branch or yolov7 state dict (``model.load_weights(...)`` reads it)."""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..core.checks import read_text
from ..core.errors import YolorCfgError

KEYMAP_TAG = "#@keymap"


class YamlError(YolorCfgError):
    """A model YAML that cannot be converted (says which row and why)."""


def make_divisible(x: float, divisor: int = 8) -> int:
    return math.ceil(x / divisor) * divisor


@dataclass
class _Writer:
    lines: list[str] = field(default_factory=list)
    keymap: list[str] = field(default_factory=list)
    channels: list[int] = field(default_factory=list)  # per cfg layer
    input_channels: int = 3

    @property
    def n(self) -> int:
        return len(self.channels)

    def ch(self, index: int) -> int:
        return self.input_channels if index < 0 else self.channels[index]

    def section(self, name: str, out_ch: int, comment: str | None = None, **options) -> int:
        index = self.n
        self.lines.append(f"# {index}" + (f": {comment}" if comment else ""))
        self.lines.append(f"[{name}]")
        self.lines += [f"{k}={v}" for k, v in options.items()]
        self.lines.append("")
        self.channels.append(out_ch)
        return index

    def heading(self, text: str) -> None:
        self.lines += [f"# ---- {text} ----", ""]

    def goto(self, src: int) -> int:
        """Make ``src`` the previous layer (a [route] when it is not already)."""
        if src == self.n - 1:
            return src
        return self.section("route", self.ch(src), layers=src)

    def conv(self, c2: int, k: int, s: int, prefix: str | None, act: str = "silu", bn: bool = True,
             bn_from: str | None = None) -> int:
        opts = {"batch_normalize": 1} if bn else {}
        index = self.section("convolutional", c2, **opts, filters=c2, size=k, stride=s, pad=1, activation=act)
        if prefix is not None:
            self.keymap.append(f"{index}.Conv2d<-{prefix}")
        if bn:
            self.keymap.append(f"{index}.BatchNorm2d<-{bn_from or prefix.rsplit('.', 1)[0] + '.bn'}")
        return index


def _bottlenecks(w: _Writer, c: int, n: int, shortcut: bool, prefix: str) -> int:
    last = w.n - 1
    for j in range(n):
        w.conv(c, 1, 1, f"{prefix}.m.{j}.cv1.conv")
        last = w.conv(c, 3, 1, f"{prefix}.m.{j}.cv2.conv")
        if shortcut:
            last = w.section("shortcut", c, comment=f"{prefix}.m.{j} residual", **{"from": -3}, activation="linear")
    return last


def _bn_part(w: _Writer, c: int, bn_prefix: str, part: slice) -> int:
    """The first part of a CSP block's joint BatchNorm and its SiLU, as their own sections."""
    index = w.section("batchnorm", c, comment=f"{bn_prefix} channels {part.start}:{part.stop}")
    w.keymap.append(f"{index}.BatchNorm2d<-{bn_prefix}[{part.start}:{part.stop}]")
    return w.section("activation", c, activation="silu")


@dataclass
class _Call:
    """One YAML row being converted: its module's arguments, input layers and key prefix."""

    args: list
    src: list[int]  # cfg layers of the row's inputs
    n: int  # repeats (inside the module)
    prefix: str  # state-dict prefix, model.N
    nc: int
    anchors: list


_ACTIVATIONS = {"nn.LeakyReLU(0.1)": "leaky", "nn.SiLU()": "silu", "nn.Identity()": "linear", "True": "silu",
                "False": "linear", "None": "silu"}


def _conv(w: _Writer, c: _Call) -> int:
    """Conv(c2, k=1, s=1, p=None, g=1, act=SiLU): conv (no bias) + BN + activation."""
    c2, k, s = c.args[0], c.args[1] if len(c.args) > 1 else 1, c.args[2] if len(c.args) > 2 else 1
    if len(c.args) > 3 and c.args[3] not in (None, "None", k // 2):  # YAML reads a bare None as text
        raise YamlError(f"{c.prefix}: Conv padding {c.args[3]} (other than k//2) is not converted")
    if len(c.args) > 4 and c.args[4] != 1:
        raise YamlError(f"{c.prefix}: grouped Conv (g={c.args[4]}) is not converted")
    act = str(c.args[5]) if len(c.args) > 5 else "True"
    if act not in _ACTIVATIONS:
        raise YamlError(f"{c.prefix}: Conv activation {act!r} is not one of {', '.join(_ACTIVATIONS)}")
    return w.conv(c2, k, s, f"{c.prefix}.conv", act=_ACTIVATIONS[act])


def _concat(w: _Writer, c: _Call) -> int:
    return w.section("route", sum(w.ch(s) for s in c.src), layers=",".join(map(str, c.src)))


def _shortcut(w: _Writer, c: _Call) -> int:
    """Shortcut([a, b]): a + b."""
    w.goto(c.src[0])
    return w.section("shortcut", w.ch(c.src[0]), **{"from": c.src[1]}, activation="linear")


def _maxpool(k: int | None = None, s: int | None = None):
    """MP(): 2x2 stride 2; SP(k=3, s=1): k x k, padding k//2."""
    def convert(w: _Writer, c: _Call) -> int:
        size = k or (c.args[0] if c.args else 3)
        stride = s or (c.args[1] if len(c.args) > 1 else 1)
        return w.section("maxpool", w.ch(c.src[0]), size=size, stride=stride)
    return convert


def _reorg(w: _Writer, c: _Call) -> int:
    return w.section("reorg", 4 * w.ch(c.src[0]))


def _dwt(w: _Writer, c: _Call) -> int:
    index = w.section("dwt", 4 * w.ch(c.src[0]))
    w.keymap.append(f"{index}.DWT.xfm<-{c.prefix}.xfm")
    return index


def _upsample(w: _Writer, c: _Call) -> int:
    return w.section("upsample", w.ch(c.src[0]), stride=int(c.args[1]) if len(c.args) > 1 else 2)


def _downc(w: _Writer, c: _Call) -> int:
    x, c1, c2 = c.src[0], w.ch(c.src[0]), c.args[0]
    w.conv(c1, 1, 1, f"{c.prefix}.cv1.conv")
    a = w.conv(c2 // 2, 3, 2, f"{c.prefix}.cv2.conv")
    w.goto(x)
    w.section("maxpool", c1, size=2, stride=2)
    b = w.conv(c2 // 2, 1, 1, f"{c.prefix}.cv3.conv")
    return w.section("route", c2, layers=f"{a},{b}")


def _bottleneck_csp(kind: str):
    def convert(w: _Writer, c: _Call) -> int:
        x, c2, prefix = c.src[0], c.args[0], c.prefix
        c_ = c2 if kind == "BottleneckCSP2" else int(c2 * 0.5)
        first = w.conv(c_, 1, 1, f"{prefix}.cv1.conv")
        _bottlenecks(w, c_, c.n, shortcut=kind != "BottleneckCSP2", prefix=prefix)
        if kind == "BottleneckCSP":  # y1 = cv3(m(cv1 x)): a plain conv, then the first BN part
            a = w.conv(c_, 1, 1, f"{prefix}.cv3", bn_from=f"{prefix}.bn[0:{c_}]")
        else:
            a = _bn_part(w, c_, f"{prefix}.bn", slice(0, c_))
        w.goto(first if kind == "BottleneckCSP2" else x)
        b = w.conv(c_, 1, 1, f"{prefix}.cv2", bn_from=f"{prefix}.bn[{c_}:{2 * c_}]")
        w.section("route", 2 * c_, layers=f"{a},{b}")
        return w.conv(c2, 1, 1, f"{prefix}.{'cv3' if kind == 'BottleneckCSP2' else 'cv4'}.conv")
    return convert


def _spp_pools(w: _Writer, x1: int, c_: int) -> int:
    pools = []
    for k in (5, 9, 13):
        w.goto(x1)
        pools.append(w.section("maxpool", c_, size=k, stride=1))
    return w.section("route", 4 * c_, layers=",".join(map(str, [x1, *pools])))


def _spp_csp(joint_bn: bool):
    """SPPCSP (the paper branch: one joint BatchNorm over cat(y1, y2), split per part) and SPPCSPC
    (yolov7: every convolution with its own BatchNorm); hidden c_ = c2 in both."""
    def convert(w: _Writer, c: _Call) -> int:
        x, c2, prefix = c.src[0], c.args[0], c.prefix
        c_ = c2
        w.conv(c_, 1, 1, f"{prefix}.cv1.conv")
        w.conv(c_, 3, 1, f"{prefix}.cv3.conv")
        x1 = w.conv(c_, 1, 1, f"{prefix}.cv4.conv")
        _spp_pools(w, x1, c_)
        w.conv(c_, 1, 1, f"{prefix}.cv5.conv")
        a = w.conv(c_, 3, 1, f"{prefix}.cv6.conv")
        if joint_bn:
            a = _bn_part(w, c_, f"{prefix}.bn", slice(0, c_))
        w.goto(x)
        if joint_bn:
            b = w.conv(c_, 1, 1, f"{prefix}.cv2", bn_from=f"{prefix}.bn[{c_}:{2 * c_}]")
        else:
            b = w.conv(c_, 1, 1, f"{prefix}.cv2.conv")
        w.section("route", 2 * c_, layers=f"{a},{b}")
        return w.conv(c2, 1, 1, f"{prefix}.cv7.conv")
    return convert


def _repconv(w: _Writer, c: _Call) -> int:
    """RepConv(c2, k=3, s=1): one [repconv] section, yolov7's key names."""
    c2, k, s = c.args[0], c.args[1] if len(c.args) > 1 else 3, c.args[2] if len(c.args) > 2 else 1
    index = w.section("repconv", c2, filters=c2, size=k, stride=s, activation="silu")
    w.keymap += [f"{index}.{branch}<-{c.prefix}.{branch}" for branch in ("rbr_dense", "rbr_1x1", "rbr_identity")]
    return index


def _detect_head(w: _Writer, c: _Call, k: int, s: int, level: int, key: str, implicit: bool, aux: bool) -> int:
    na = len(c.anchors[0]) // 2
    no = na * (c.nc + 5)
    flat = ", ".join(",".join(str(v) for v in row) for row in c.anchors)
    mask = ",".join(str(level * na + j) for j in range(na))
    w.heading(f"head {k}: auxiliary, training only, level {level} (layer {s})" if aux else
              f"head {k}: {'IDetect' if implicit else 'Detect'} input {k} (layer {s})")
    if implicit:
        ia = w.section("implicit_add", w.ch(s), filters=w.ch(s))
        im = w.section("implicit_mul", no, filters=no)
        w.keymap += [f"{ia}.implicit<-{c.prefix}.ia.{level}.implicit", f"{im}.implicit<-{c.prefix}.im.{level}.implicit"]
        w.section("route", w.ch(s), layers=s)
        w.section("shift_channels", w.ch(s), **{"from": ia})
    else:
        w.goto(s)
    w.conv(no, 1, 1, f"{c.prefix}.{key}.{level}", act="linear", bn=False)
    if implicit:
        w.section("control_channels", no, **{"from": im})
    options = {"mask": mask, "anchors": flat, "classes": c.nc, "num": na * len(c.anchors)}
    return w.section("yolo", no, **options, **({"aux": 1} if aux else {}))


def _anchor_buffers_ignored(w: _Writer, c: _Call, last: int) -> int:
    w.keymap += [f"ignore<-{c.prefix}.anchors", f"ignore<-{c.prefix}.anchor_grid"]  # derived from the cfg
    return last


def _detect_heads(implicit: bool):
    """Detect (yolov7's deployment head) / IDetect: per level [ImplicitA ->] 1x1 conv with bias
    [-> ImplicitM] -> [yolo]."""
    def convert(w: _Writer, c: _Call) -> int:
        last = None
        for k, s in enumerate(c.src):
            last = _detect_head(w, c, k, s, k, "m", implicit=implicit, aux=False)
        return _anchor_buffers_ignored(w, c, last)
    return convert


def _iauxdetect(w: _Writer, c: _Call) -> int:
    """IAuxDetect: lead heads on the first half of the inputs (as IDetect), then auxiliary heads (plain
    1x1 conv, ``m2``) on the second half, marked training-only."""
    half = len(c.src) // 2
    last = None
    for k, s in enumerate(c.src):
        level = k % half
        last = _detect_head(w, c, k, s, level, "m" if k < half else "m2", implicit=k < half, aux=k >= half)
    return _anchor_buffers_ignored(w, c, last)


CONVERTERS = {
    "Conv": _conv, "Concat": _concat, "Shortcut": _shortcut, "MP": _maxpool(2, 2), "SP": _maxpool(),
    "ReOrg": _reorg, "DWT": _dwt, "nn.Upsample": _upsample, "Upsample": _upsample, "DownC": _downc,
    "BottleneckCSP": _bottleneck_csp("BottleneckCSP"), "BottleneckCSPF": _bottleneck_csp("BottleneckCSPF"),
    "BottleneckCSP2": _bottleneck_csp("BottleneckCSP2"), "SPPCSP": _spp_csp(joint_bn=True),
    "SPPCSPC": _spp_csp(joint_bn=False),
    "RepConv": _repconv, "Detect": _detect_heads(implicit=False), "IDetect": _detect_heads(implicit=True),
    "IAuxDetect": _iauxdetect,
}
"""YAML module name -> converter writing its sections (and key map) and returning its output layer."""
# modules whose first argument is a channel count scaled by width_multiple
_WIDTH_SCALED = ("Conv", "DownC", "BottleneckCSP", "BottleneckCSPF", "BottleneckCSP2", "SPPCSP", "SPPCSPC", "RepConv")
# modules that read each of their inputs where it was made (the detection heads)
_READS_SOURCES = ("Detect", "IDetect", "IAuxDetect")
# modules a YAML row repeats n times as separate modules (the others repeat inside)
_ROW_REPEATED = ("Conv", "ReOrg", "DWT", "nn.Upsample", "RepConv")


def _module(w: _Writer, name: str, call: _Call) -> int:
    convert = CONVERTERS.get(name)
    if convert is None:
        raise YamlError(f"{call.prefix}: module {name!r} is not one yolor-cfg converts "
                        f"(it converts {', '.join(sorted(CONVERTERS))})")
    if name != "Concat":  # the row's first input becomes the previous layer (a [route] when needed)
        first = w.goto(call.src[0])
        if name not in _READS_SOURCES:
            call = dataclasses.replace(call, src=[first, *call.src[1:]])
    return convert(w, call)


def _load_model_yaml(path: Path) -> dict:
    """A model YAML's content, with the keys yaml2cfg needs; YamlError says what is wrong and where."""
    try:
        spec = yaml.safe_load(read_text(path, "model YAML"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise YamlError(f"{where}: YAML syntax error: {getattr(exc, 'problem', None) or exc}") from None
    _check_model_yaml(spec, path)
    return spec


def _check_model_yaml(spec, path: Path) -> None:
    if not isinstance(spec, dict):
        raise YamlError(f"{path}: a model YAML is a mapping with nc, anchors, backbone and head")
    missing = [k for k in ("nc", "anchors", "backbone", "head") if k not in spec]
    if missing:
        raise YamlError(f"{path}: a model YAML needs {', '.join(missing)} (it has {', '.join(map(str, spec)) or 'nothing'})")
    anchors = spec["anchors"]
    if isinstance(anchors, int) and not isinstance(anchors, bool):
        raise YamlError(f"{path}: anchors: {anchors} is an anchor count (yolov5-style YAMLs leave the boxes to "
                        "AutoAnchor, which computes them from the training data); a cfg needs the boxes: write "
                        "anchors as one list of w,h pairs per detection level, e.g. [10,13, 16,30, 33,23]")
    if not (isinstance(anchors, list) and anchors and all(
            isinstance(row, list) and row and len(row) % 2 == 0
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row) for row in anchors)):
        raise YamlError(f"{path}: anchors must be one list of w,h pairs per detection level, got {anchors!r}")


def yaml_to_cfg(yaml_path: str | Path | dict, img_size: int | None = None, name: str | None = None) -> str:
    """The cfg text for a paper-branch model YAML (a file, or its parsed mapping, e.g. the ``yaml``
    a checkpoint's model carries) with its key map at the end."""
    if isinstance(yaml_path, dict):
        spec, path = yaml_path, Path(name or "model.yaml")
        _check_model_yaml(spec, path)
    else:
        path = Path(yaml_path)
        spec = _load_model_yaml(path)
    nc, gd, gw = spec["nc"], spec.get("depth_multiple", 1.0), spec.get("width_multiple", 1.0)
    anchors = spec["anchors"]
    rows = list(spec["backbone"]) + list(spec["head"])
    n_levels = len(anchors)
    size = img_size or (1280 if n_levels >= 4 else 640)
    w = _Writer()
    header = [f"# Converted from {path.name} by yolor-cfg yaml2cfg: the same network, parameter for parameter.",
              f"# nc={nc}, depth_multiple={gd}, width_multiple={gw}; each section is commented with its cfg",
              "# layer index and the YAML row it comes from; the key map at the end loads paper-branch weights.",
              "[net]", "batch=64", "subdivisions=1", f"width={size}", f"height={size}", "channels=3",
              "# YOLOR's semantics, and the paper branch's BatchNorm eps 1e-3", "dialect=yolor", "bn_eps=0.001", ""]
    row_out: list[int] = []
    for i, (f, n, m, args) in enumerate(rows):
        refs = f if isinstance(f, list) else [f]
        src = [row_out[i + r] if r < 0 else row_out[r] for r in refs] if i else [-1]
        if i and refs == [-1]:
            src = [row_out[i - 1]]
        n = max(round(n * gd), 1) if n > 1 else n
        args = [nc if a == "nc" else anchors if a == "anchors" else a for a in args]
        if m in _WIDTH_SCALED:
            args = [make_divisible(args[0] * gw), *args[1:]]
        repeat = n if m in _ROW_REPEATED else 1
        inner = 1 if repeat > 1 else n
        w.heading(f"row {i}: {m}{tuple(args) if m not in ('IDetect', 'IAuxDetect') else ''}" + (f" x{n}" if n > 1 else "")
                  + ("" if refs == [-1] else f" from {refs}"))
        out = None
        for _ in range(repeat):
            out = _module(w, m, _Call(args, src if out is None else [out], inner, f"model.{i}", nc, anchors))
        row_out.append(out)
    footer = ["# ---- key map: cfg layer attribute <- paper-branch state dict prefix ----"]
    footer += [f"{KEYMAP_TAG} {entry}" for entry in w.keymap]
    return "\n".join(header + w.lines + footer) + "\n"


_ENTRY = re.compile(r"^(?P<dst>\S+)<-(?P<src>[^\[\s]+)(\[(?P<lo>\d+):(?P<hi>\d+)\])?$")


def read_keymap(cfg_text: str) -> list[tuple[str, str, slice | None]]:
    out = []
    for line in cfg_text.splitlines():
        if line.startswith(KEYMAP_TAG):
            m = _ENTRY.match(line[len(KEYMAP_TAG):].strip())
            if m:
                part = slice(int(m["lo"]), int(m["hi"])) if m["lo"] is not None else None
                out.append((m["dst"], m["src"], part))
    return out


def translate_state_dict(paper_sd: dict, cfg_text: str) -> dict:
    """Paper-branch keys -> our module_list keys, through the cfg's key map (splitting joint BNs)."""
    mapping = read_keymap(cfg_text)
    if not mapping:
        raise YamlError("this cfg has no yaml2cfg key map (#@keymap lines); convert the YAML with yolor-cfg yaml2cfg")
    out = {}
    used = set()
    for dst, src, part in mapping:
        keys = [k for k in paper_sd if k == src or k.startswith(src + ".")]
        used.update(keys)
        if dst == "ignore":
            continue
        for k in keys:
            suffix = k[len(src):]
            value = paper_sd[k]
            if part is not None and value.dim() > 0:
                value = value[part]
            index, attr = dst.split(".", 1)
            out[f"module_list.{index}.{attr}{suffix}"] = value.clone()
    out.update({f"unmapped.{k}": v for k, v in paper_sd.items() if k not in used})
    return out
