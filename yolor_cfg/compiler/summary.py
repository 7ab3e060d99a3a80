"""Per-layer facts of a graph: parameters and GFLOPs (2 x multiply-accumulates / 1e9)."""
from __future__ import annotations

from .graph import Graph

SHOWN_EVIDENCE = 5  # evidence lines in the text table


def layer_rows(graph: Graph) -> list[dict]:
    rows = []
    for node in graph.nodes:
        spec = node.spec
        rows.append({
            "index": node.index, "type": node.kind, "line": node.loc.line, "inputs": list(node.inputs),
            "out_shape": node.shape.as_list(), "params": spec.num_params(node),
            "gflops": 2 * spec.macs(node) / 1e9,
        })
    return rows


def summarize(graph: Graph) -> dict:
    rows = layer_rows(graph)
    return {
        "path": graph.path, "dialect": graph.dialect.name, "dialect_reason": graph.dialect_reason,
        "dialect_source": graph.dialect_choice.source,
        "dialect_evidence": [{"dialect": e.dialect, "line": e.loc.line, "what": e.what}
                             for e in graph.dialect_choice.evidence],
        "input": [graph.net.channels, graph.net.height, graph.net.width],
        "params": sum(r["params"] for r in rows), "gflops": sum(r["gflops"] for r in rows),
        "heads": [{"index": n.index, "stride": h.stride[0], "anchors": [list(a) for a in h.anchors],
                   "classes": h.classes} for n, h in zip(graph.heads, graph.head_specs())],
        "layers": rows,
    }


def format_table(graph: Graph, info: dict) -> str:
    lines = [f"{'idx':>4}  {'type':<18} {'line':>5}  {'inputs':<14} {'output (CxHxW)':<18} {'params':>12} "
             f"{'GFLOPs':>9}"]
    for node, r in zip(graph.nodes, info["layers"]):
        inputs = ",".join("in" if i < 0 else str(i) for i in r["inputs"]) or "-"
        shape = "x".join(map(str, r["out_shape"]))
        lines.append(f"{r['index']:>4}  {r['type']:<18} {r['line']:>5}  {inputs[:14]:<14} {shape:<18} "
                     f"{r['params']:>12,} {r['gflops']:>9.3f}")
    c, h, w = info["input"]
    lines.append(f"total: {len(info['layers'])} layers, {info['params']:,} parameters, {info['gflops']:.3f} GFLOPs "
                 f"at {c}x{h}x{w}")
    for head in info["heads"]:
        lines.append(f"head: layer {head['index']} stride {head['stride']:g}, {head['classes']} classes, anchors "
                     + " ".join(f"{w:g},{h:g}" for w, h in head["anchors"]))
    lines.append(f"dialect: {info['dialect']} ({info['dialect_reason']})")
    evidence = graph.dialect_choice.evidence
    lines += [f"  evidence: {e}" for e in evidence[:SHOWN_EVIDENCE]]
    if len(evidence) > SHOWN_EVIDENCE:
        lines.append(f"  evidence: ... {len(evidence) - SHOWN_EVIDENCE} more (info --json lists all)")
    return "\n".join(lines)
