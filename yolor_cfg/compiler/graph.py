"""The layer graph (IR): typed nodes with absolute inputs and inferred shapes."""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import layers  # noqa: F401  (registers every kind)
from ..core.checks import height_width
from .dialects import DialectChoice, Dialect, Evidence, conflict_message, conflicting_evidence, decide_dialect
from ..core.errors import CfgError, Diagnostic, DiagnosticSink, SourceLoc
from .frontend import CfgSource, RawOption, Section, parse_file, parse_text
from .layers.base import ALIASES, REGISTRY, UNSUPPORTED, Context, Node, NodeError, Shape, lookup
from .options import Choice, Float, Inert, Int, Opt, OptionValueError, Refused

NET_OPTIONS: dict[str, Opt] = {
    "width": Int(0, min=0), "height": Int(0, min=0), "channels": Int(0, min=0),
    # yolor-cfg extension: BatchNorm epsilon for the whole network (default: the dialect's)
    "bn_eps": Float(None, min=0, doc="e.g. bn_eps=0.001 for models converted from the YOLOR paper branch"),
    # yolor-cfg extension: the dialect, for cfgs without a YOLOR-only section that mean YOLOR's semantics
    "dialect": Choice(None, choices=("yolor", "darknet")),
    **{k: Inert() for k in (
        "inputs", "max_batches", "batch", "learning_rate", "learning_rate_min", "sgdr_cycle", "sgdr_mult",
        "momentum", "decay", "subdivisions", "time_steps", "track", "augment_speed", "sequential_subdivisions",
        "try_fix_nan", "weights_reject_freq", "equidistant_point", "badlabels_rejection_percentage",
        "num_sigmas_reject_badlabels", "ema_alpha", "use_cuda_graph", "loss_scale", "dynamic_minibatch",
        "optimized_memory", "workspace_size_limit_MB", "adam", "B1", "B2", "eps", "max_crop", "min_crop",
        "flip", "blur", "gaussian_noise", "mixup", "cutmix", "mosaic", "letter_box", "mosaic_bound",
        "contrastive", "contrastive_jit_flip", "contrastive_color", "unsupervised", "label_smooth_eps",
        "resize_step", "attention", "adversarial_lr", "max_chart_loss", "angle", "aspect", "saturation",
        "exposure", "hue", "power", "policy", "burn_in", "step", "scale", "steps", "scales", "seq_scales",
        "gamma", "show_receptive_field", "center")},
}


@dataclass
class NetSpec:
    width: int
    height: int
    channels: int
    options: dict[str, Any]
    loc: SourceLoc


@dataclass
class Graph:
    path: str
    net: NetSpec
    nodes: list[Node]
    dialect_choice: DialectChoice
    text: str = ""
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def dialect(self) -> Dialect:
        return self.dialect_choice.dialect

    @property
    def dialect_reason(self) -> str:
        return self.dialect_choice.reason

    @property
    def heads(self) -> list[Node]:
        return [n for n in self.nodes if n.spec.is_head]

    def head_specs(self) -> list:
        """Each head's contract (``layers.base.HeadSpec``), in the order of ``heads``."""
        ctx = self.context()
        return [dataclasses.replace(n.spec.head(n, ctx), train_only=not n.spec.inference_output(n)) for n in self.heads]

    def context(self) -> Context:
        return Context(self.dialect, self.net.height, self.net.width, self.net.channels, self.nodes)

    def consumers(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {n.index: [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                if i >= 0:
                    out[i].append(n.index)
        return out


def _did_you_mean(word: str, candidates) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _type_options(section: Section, schema: dict[str, Opt], sink: DiagnosticSink, what: str,
                  unknown_is_error: bool = True):
    """Typed values of a section's options (first occurrence wins, as in Darknet).

    Unknown keys are errors, or warnings where Darknet ignores them (``unknown_is_error=False``: [net],
    where other programs keep training keys of their own). Returns (values, value locations, keys
    given, ok); ok is False when any option was reported as an error."""
    errors_before = sum(d.severity == "error" for d in sink.diagnostics)
    values: dict[str, Any] = {}
    locs: dict[str, SourceLoc] = {}
    first_seen: dict[str, RawOption] = {}
    for opt in section.options:
        spec = schema.get(opt.key)
        if spec is None:
            hint = _did_you_mean(opt.key, schema)
            if unknown_is_error:
                sink.error(opt.key_loc, f"unknown key '{opt.key}' in {what}{hint}")
            else:
                sink.warning(opt.key_loc, f"unknown key '{opt.key}' in {what}, ignored as Darknet ignores it{hint}")
            continue
        if opt.key in first_seen:
            prev = first_seen[opt.key]
            sink.warning(opt.key_loc, f"'{opt.key}' repeated in {what}: the first value "
                                      f"({prev.value!r}, line {prev.key_loc.line}) is used, as Darknet does")
            continue
        first_seen[opt.key] = opt
        try:
            value = spec.parse(opt.value)
            spec.check(value)
        except OptionValueError as exc:
            sink.error(opt.value_loc, f"{what} {opt.key}: {exc}")
            continue
        if isinstance(spec, Refused) and not spec.is_default(value):
            sink.error(opt.value_loc, f"{what} {opt.key}={value}: {spec.reason or 'not supported by yolor-cfg'} "
                                      f"(remove it or set {opt.key}={spec.default})")
            continue
        values[opt.key] = value
        locs[opt.key] = opt.value_loc
    given = frozenset(values)
    for key, spec in schema.items():
        if key in values or key in first_seen:
            continue
        if spec.required:
            sink.error(section.loc, f"{what} needs '{key}='{(' (' + spec.doc + ')') if spec.doc else ''}")
        elif not isinstance(spec, (Inert, Refused)):
            values[key] = spec.default
    ok = sum(d.severity == "error" for d in sink.diagnostics) == errors_before
    return values, locs, given, ok


def dialect_evidence(nodes: list[Node]) -> list[Evidence]:
    """Every fact in the file that means a dialect, in file order (see LayerKind.dialect_evidence)."""
    found = []
    for node in nodes:
        if not node.broken:
            found += [Evidence(dialect, node.loc_of(key), what) for dialect, key, what in node.spec.dialect_evidence(node)]
    return found


def _choose_dialect(nodes: list[Node], user: str | None, net: str | None, sink: DiagnosticSink,
                    net_loc: SourceLoc) -> DialectChoice:
    evidence = dialect_evidence(nodes)
    choice = decide_dialect(evidence, user, net)
    conflict = conflicting_evidence(evidence)
    if conflict and choice.detected:
        sink.error(conflict[1].loc, conflict_message(*conflict))
    elif choice.source == "default" and any(n.spec.is_head for n in nodes):
        sink.warning(net_loc, "no dialect evidence in this file: Darknet semantics assumed (BN eps 1e-5, Darknet's "
                              "box decoding); a cfg from the YOLOR repository means YOLOR's: set [net] dialect=yolor "
                              "(or --dialect yolor), or load YOLOR .pt weights, which switch it")
    return choice


def _typed_nodes(sections: list[Section], sink: DiagnosticSink) -> list[Node]:
    """One node per section after [net], its options typed; an unknown section keeps its index as a broken node."""
    nodes: list[Node] = []
    for sec in sections:
        index = len(nodes)
        kind = lookup(sec.name)
        if kind is None:
            if sec.name in UNSUPPORTED:
                sink.error(sec.loc, f"[{sec.name}] is a Darknet section that yolor-cfg does not support: "
                                    f"{UNSUPPORTED[sec.name]}")
            else:
                known = list(REGISTRY) + list(ALIASES) + ["net"]
                sink.error(sec.loc, f"unknown section type [{sec.name}]{_did_you_mean(sec.name, known)}")
            nodes.append(Node(index, "silence", {}, [index - 1], sec.loc, broken=True))  # keeps indices
            continue
        values, locs, given, ok = _type_options(sec, kind.all_options(), sink, f"[{sec.name}]")
        nodes.append(Node(index, kind.name, values, [], sec.loc, locs, given, broken=not ok))
    return nodes


def _resolve_inputs(nodes: list[Node], sink: DiagnosticSink) -> None:
    """Each node's inputs as absolute indices (references resolved once), or an error at the reference."""
    for node in nodes:
        if node.broken:
            continue
        spec = node.spec
        inputs = [node.index - 1] if spec.sequential(node) else []
        try:
            refs = spec.input_refs(node)
        except NodeError as exc:
            sink.error(node.loc_of(exc.key), f"[{node.kind}] {exc.message}")
            node.broken = True
            continue
        for ref, key in refs:
            absolute = node.index + ref if ref < 0 else ref
            where = node.loc_of(key)
            if absolute < 0:
                sink.error(where, f"[{node.kind}] {key}={ref} points before layer 0 (this is layer {node.index})")
            elif absolute == node.index:
                sink.error(where, f"[{node.kind}] {key}={ref} points to this layer itself (layer {node.index}); "
                                  "inputs must be earlier layers")
            elif absolute > node.index:
                sink.error(where, f"[{node.kind}] {key}={ref} points forward to layer {absolute} "
                                  f"(this is layer {node.index}; the file has {len(nodes)} layers)")
            else:
                inputs.append(absolute)
                continue
            node.broken = True
        for absolute in inputs:
            source = nodes[absolute] if absolute >= 0 else None  # -1: the network's input
            if source is not None and not source.broken and source.spec.is_head:
                sink.error(node.loc, f"[{node.kind}] (layer {node.index}) reads layer {absolute} [{source.kind}], a "
                                     "detection head: a head's output is detections, not a feature map; read the "
                                     f"layer before it (layer {absolute - 1}) or move this section above the head")
                node.broken = True
        node.inputs = inputs


def _net_spec(net_opts: dict, loc: SourceLoc, img_size, sink: DiagnosticSink) -> NetSpec:
    height, width = net_opts["height"], net_opts["width"]
    if img_size is not None:
        height, width = height_width(img_size)
    if height <= 0 or width <= 0:
        sink.error(loc, "[net] needs width= and height= (or give an input size: --img / img_size=)")
        sink.raise_if_errors()
    return NetSpec(width, height, net_opts["channels"] or 3, net_opts, loc)


def _infer_shapes(graph: Graph, sink: DiagnosticSink) -> None:
    """Each node's checks and output shape, in order (a node after a broken input is skipped silently)."""
    ctx = graph.context()
    input_shape = Shape(graph.net.channels, graph.net.height, graph.net.width, 1)
    nodes = graph.nodes
    for node in nodes:
        node.dialect, node.origin = graph.dialect.name, node.index
        if node.broken:
            continue
        try:
            node.spec.validate(node, ctx)
        except NodeError as exc:
            sink.error(node.loc_of(exc.key), f"[{node.kind}] {exc.message}")
            node.broken = True
            continue
        in_shapes = [input_shape if i < 0 else nodes[i].shape for i in node.inputs]
        if any(s is None for s in in_shapes):
            node.broken = True  # an earlier error already explains this
            continue
        node.in_shapes = in_shapes
        try:
            node.shape = node.spec.infer(node, in_shapes, ctx)
        except NodeError as exc:
            sink.error(node.loc_of(exc.key), f"[{node.kind}] {exc.message}")
            for other, key, message in exc.related:
                sink.error(other.loc_of(key), f"[{other.kind}] {message}")
            node.broken = True


def build_graph(source: CfgSource, img_size: int | tuple[int, int] | None = None,
                dialect: str | None = None) -> Graph:
    """Sections -> typed, shape-inferred graph. Collects every error, then raises CfgError."""
    sink = DiagnosticSink()
    first = source.sections[0]
    if first.name not in ("net", "network"):
        raise CfgError([Diagnostic(first.loc, f"the first section must be [net], not [{first.name}]")])
    net_opts, _, _, net_ok = _type_options(first, NET_OPTIONS, sink, "[net]", unknown_is_error=False)
    nodes = _typed_nodes(source.sections[1:], sink)
    _resolve_inputs(nodes, sink)
    choice = _choose_dialect(nodes, dialect, net_opts.get("dialect"), sink, first.loc)
    if not net_ok:
        sink.raise_if_errors()
    if net_opts.get("bn_eps") is not None:
        choice = dataclasses.replace(
            choice, dialect=dataclasses.replace(choice.dialect, bn_eps=net_opts["bn_eps"]),
            reason=choice.reason + f"; bn_eps={net_opts['bn_eps']:g} from [net]")
    net = _net_spec(net_opts, first.loc, img_size, sink)
    if not nodes:
        sink.error(first.loc, "the cfg has no layers after [net]")
    graph = Graph(source.path, net, nodes, choice, source.text)
    _infer_shapes(graph, sink)
    graph.warnings = sink.warnings
    sink.raise_if_errors()
    return graph


def with_dialect(graph: Graph, choice: DialectChoice) -> Graph:
    """The same cfg built again under ``choice`` (e.g. a detected dialect that loaded weights switched)."""
    rebuilt = build_graph(parse_text(graph.text, graph.path), (graph.net.height, graph.net.width), choice.dialect.name)
    rebuilt.dialect_choice = dataclasses.replace(choice, dialect=rebuilt.dialect)
    return rebuilt


def load_graph(cfg: str | Path, img_size=None, dialect: str | None = None) -> Graph:
    """Parse and build a cfg file (or cfg text, when ``cfg`` contains a newline)."""
    if isinstance(cfg, str) and "\n" in cfg:
        source = parse_text(cfg, "<string>")
    else:
        source = parse_file(cfg)
    return build_graph(source, img_size, dialect)
