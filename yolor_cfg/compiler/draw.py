"""Diagrams of a network: one box per layer, an edge per input (Graphviz DOT, SVG, PNG)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import graphviz

from .graph import Graph

# edge styles by how a layer reads an input
_EDGE_STYLE = {
    "sequential": {"color": "#555555"},
    "route": {"color": "#1f77b4", "style": "dashed"},
    "shortcut": {"color": "#2ca02c", "style": "bold"},
    "implicit": {"color": "#d62728", "style": "dotted", "penwidth": "2"},
}


def _label(node, head, count: int = 1) -> str:
    parts = [f"{node.origin}: {node.kind}" + (f" x{count}" if count > 1 else ""), *node.spec.draw_details(node)]
    if head is not None:
        parts.append(f"stride {head.stride[0]:g}, {head.classes} classes"
                     + (" (training only)" if head.train_only else ""))
        parts.append("anchors " + " ".join(f"{w:g},{h:g}" for w, h in head.anchors))
    if node.shape is not None:
        parts.append("x".join(map(str, node.shape.as_list())))
    return "\\n".join(parts)


def _residual_blocks(graph: Graph) -> dict[int, tuple[int, int]]:
    """Repeated residual blocks: runs of identical (kinds, options) segments ending in a shortcut.

    Returns {first layer of a run: (block length, repeats)}."""
    nodes = graph.nodes
    ends = [n.index for n in nodes if n.spec.closes_residual and len(n.inputs) == 2 and n.inputs[0] == n.index - 1]
    runs: dict[int, tuple[int, int]] = {}
    covered: set[int] = set()

    def signature(start, length):
        return tuple((nodes[i].kind, tuple(sorted((k, str(v)) for k, v in nodes[i].options.items())),
                      tuple(j - start for j in nodes[i].inputs)) for i in range(start, start + length))

    for end in ends:
        start = nodes[end].inputs[1] + 1
        length = end - start + 1
        if start in covered or length < 2:
            continue
        repeats, s = 1, start + length
        while s + length - 1 < len(nodes) and signature(s, length) == signature(start, length):
            repeats += 1
            s += length
        if repeats > 1:
            runs[start] = (length, repeats)
            covered.update(range(start, start + length * repeats))
    return runs


def to_dot(graph: Graph, collapse: bool = False, title: str | None = None) -> graphviz.Digraph:
    dot = graphviz.Digraph(name="network", graph_attr={"rankdir": "TB", "label": title or Path(graph.path).name,
                                                       "labelloc": "t", "fontname": "Helvetica"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                      "fontsize": "10", "fillcolor": "#f4f4f4"},
                           edge_attr={"arrowsize": "0.6"})
    nodes = graph.nodes
    implicit = {n.index for n in nodes if n.spec.implicit_source}
    appliers = {n.index for n in nodes if n.spec.implicit_op is not None or n.spec.implicit_fold_refusal}
    heads = dict(zip((n.index for n in graph.heads), graph.head_specs()))
    represent = {n.index: n.index for n in nodes}
    hidden: set[int] = set()
    counts: dict[int, int] = {}
    if collapse:
        for start, (length, repeats) in _residual_blocks(graph).items():
            for k in range(length):
                for r in range(repeats):
                    represent[start + r * length + k] = start + k
            counts.update({start + k: repeats for k in range(length)})
            hidden.update(range(start + length, start + length * repeats))
    dot.node("input", f"input\\n{graph.net.channels}x{graph.net.height}x{graph.net.width}", shape="oval",
             fillcolor="#ffffff")
    for n in nodes:
        if n.index in hidden:
            continue
        attrs = {}
        if n.index in implicit:
            attrs = {"fillcolor": "#fde0dd", "color": "#d62728", "shape": "note"}
        elif n.index in appliers:
            attrs = {"fillcolor": "#fff2cc", "color": "#d62728"}
        elif n.spec.is_head:
            attrs = {"fillcolor": "#d9ead3", "shape": "box3d"}
        dot.node(str(n.index), _label(n, heads.get(n.index), counts.get(n.index, 1)), **attrs)
    drawn: set[tuple[str, str]] = set()
    for n in nodes:
        dst = str(represent[n.index])
        for position, src in enumerate(n.inputs):
            src_name = "input" if src < 0 else str(represent[src])
            if src_name == dst:
                continue
            if src >= 0 and src in implicit:
                kind = "implicit"
            elif position == 0 and src == n.index - 1 and n.spec.sequential(n):
                kind = "sequential"
            else:
                kind = n.spec.edge_style
            if n.index in hidden and (src_name, dst) in drawn:
                continue
            drawn.add((src_name, dst))
            dot.edge(src_name, dst, **_EDGE_STYLE[kind])
    return dot


def render(graph: Graph, out: str | Path, collapse: bool = False, title: str | None = None) -> tuple[Path, str]:
    """Write ``out`` (.dot, .svg or .png). Without Graphviz's ``dot`` program, writes the .dot file
    and says how to install Graphviz. Returns (written path, message)."""
    out = Path(out)
    dot = to_dot(graph, collapse, title)
    fmt = out.suffix.lstrip(".").lower() or "dot"
    dot_path = out.with_suffix(".dot")
    dot_path.write_text(dot.source)
    if fmt == "dot":
        return dot_path, f"wrote {dot_path}"
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"{out}: use .dot, .svg, .png or .pdf")
    exe = shutil.which("dot")
    if exe is None:
        return dot_path, (f"wrote {dot_path}; Graphviz's `dot` program is not installed, so no {fmt.upper()} was "
                          f"rendered (install it: apt-get install graphviz / brew install graphviz / conda install "
                          f"graphviz, then: dot -T{fmt} {dot_path} -o {out})")
    subprocess.run([exe, f"-T{fmt}", str(dot_path), "-o", str(out)], check=True, capture_output=True)
    return out, f"wrote {out} (and {dot_path})"
