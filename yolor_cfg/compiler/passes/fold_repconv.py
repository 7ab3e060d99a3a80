"""fold_repconv: a layer kind that computes one convolution at inference (``as_convolution``, e.g.
yolov7's [repconv] with its three BatchNorm branches) becomes that [convolutional], exactly."""
from __future__ import annotations

from .base import PassResult, WeightedGraph, describe


def fold_repconv(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    eps = wg.graph.dialect.bn_eps
    for node in wg.nodes:
        rewrite = getattr(node.spec, "as_convolution", None)
        if rewrite is None:
            continue
        options, params = rewrite(node, wg.params[node.index], eps)
        node.kind, node.options, node.given = "convolutional", options, frozenset(options)
        node.derived = node.spec.derived_values(options)
        wg.params[node.index] = params
        res.rewrites.append(f"{describe(node)}: branches re-parameterised into one convolution")
    return res
