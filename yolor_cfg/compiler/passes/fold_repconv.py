"""fold_repconv: a layer kind that computes one convolution at inference (``as_convolution``, e.g.
yolov7's [repconv] with its three BatchNorm branches) becomes that [convolutional], exactly."""
from __future__ import annotations

from .base import PassResult, WeightedGraph, describe


def fold_repconv(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    eps = wg.graph.dialect.bn_eps
    for node in wg.nodes:
        rewrite = node.spec.as_convolution(node, wg.params[node.index], eps)
        if rewrite is None:
            continue
        kind, options, params = rewrite
        node.kind, node.options, node.given = kind, options, frozenset(options)
        node.derived = node.spec.derived_values(options)
        wg.params[node.index] = params
        res.rewrites.append(f"{describe(node)}: branches re-parameterised into one convolution")
    return res
