"""Writing cfg text: re-emit a parsed cfg in yolor-cfg's house style (header, stage and head
comments, a layer index before every section, the layers a route reads), and rewrite option
values in place (``set-classes``)."""
from __future__ import annotations

from .frontend import CfgSource
from .graph import Graph


def annotate(source: CfgSource, graph: Graph, title: str, extra_header: list[str] = ()) -> str:
    """The same network as ``source``, with comments a reader needs. Options keep their order."""
    from .summary import summarize

    info = summarize(graph)
    lines = [f"# {title}",
             f"# Input {graph.net.width}x{graph.net.height}x{graph.net.channels}; {info['params']:,} parameters; "
             f"{info['gflops']:.3f} GFLOPs at {graph.net.width}x{graph.net.height} (yolor-cfg info).",
             *[f"# {line}" for line in extra_header],
             "# Heads: " + ", ".join(f"layer {h['index']} stride {h['stride']:g}" for h in info["heads"]) + ".",
             "# Every section is preceded by its layer index; routes say which layers they read.", ""]
    net = source.sections[0]
    lines.append("[net]")
    lines += [f"{o.key}={o.value}" for o in net.options]
    lines.append("")
    stride = None
    heads_started = False
    for section, node in zip(source.sections[1:], graph.nodes):
        if node.spec.implicit_source and not heads_started:
            lines += ["# ============ implicit knowledge (YOLOR) ============", ""]
            heads_started = True
        elif node.shape is not None and not node.spec.implicit_source and node.shape.h > 1:
            s = node.shape.stride
            if stride is None:
                lines += ["# ============ stem ============", ""]
            elif s > stride:
                lines += [f"# ============ stride {s:g} ============", ""]
            elif s < stride:
                lines += [f"# ============ neck: up to stride {s:g} ============", ""]
            stride = s
        note = ""
        if node.spec.input_refs(node):
            note = " <- " + ", ".join(str(i) for i in node.inputs)
        if node.spec.is_head:
            note = f" head at stride {node.in_shapes[0].stride:g}"
        lines.append(f"# {node.index}{note}")
        lines.append(f"[{section.name}]")
        lines += [f"{o.key}={o.value}" for o in section.options]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def set_classes(source: CfgSource, graph: Graph, classes: int) -> str:
    """``source`` with every head's ``classes=`` set, and the ``filters=`` that depend on it
    (the convolution before each head and the implicit vectors applied on the way) rewritten.
    Everything else, comments and layout included, stays as it was."""
    from .layers.head import head_filter_sources

    lines = source.text.split("\n")
    edits: dict[tuple[int, int], tuple[int, str]] = {}  # (line, col) -> (old length, new text)
    inserts: dict[int, str] = {}  # line after which to insert

    def set_value(section, node, key: str, value: int) -> None:
        for opt in section.options:
            if opt.key == key:
                edits[(opt.value_loc.line, opt.value_loc.col)] = (len(opt.value), str(value))
                return
        inserts[section.loc.line] = f"{key}={value}"

    sections = source.sections[1:]
    for head, spec in zip(graph.heads, graph.head_specs()):
        need = len(spec.anchors) * (classes + 5)
        set_value(sections[head.index], head, "classes", classes)
        for src in head_filter_sources(graph.nodes, head):
            set_value(sections[src.index], src, "filters", need)
    for (line, col), (old, new) in edits.items():
        text = lines[line - 1]
        lines[line - 1] = text[: col - 1] + new + text[col - 1 + old:]
    for line in sorted(inserts, reverse=True):
        lines.insert(line, inserts[line])
    return "\n".join(lines)
