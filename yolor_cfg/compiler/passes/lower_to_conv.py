"""lower_to_conv: a layer whose kind knows a convolution that computes it (``lowered_convolution``, e.g.
YOLOR's space-to-depth [reorg] and Haar [dwt]) becomes that [convolutional], for export formats whose
runtimes lack the layer's ops (NCNN has no strided slice). Not in the default fuse: elsewhere the
original ops are as fast and quantize as they are."""
from __future__ import annotations

from .base import PassResult, WeightedGraph, describe


def lower_to_conv(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    for node in wg.nodes:
        rewrite = node.spec.lowered_convolution(node, wg.params[node.index])
        if rewrite is None:
            continue
        kind, options, params = rewrite
        was = describe(node)
        node.kind, node.options, node.given = kind, options, frozenset(options)
        node.derived = node.spec.derived_values(options)
        wg.params[node.index] = params
        res.rewrites.append(f"{was}: computed as a stride-{options['stride']} convolution")
    return res
