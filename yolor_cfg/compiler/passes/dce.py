"""dce: remove layers that do nothing at inference (silence, dropout, cost) and layers nothing reads
(implicit tensors left behind by fold_implicit)."""
from __future__ import annotations

from .base import PassResult, WeightedGraph, describe


def dce(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    doomed: set[int] = set()
    detector = any(n.spec.inference_output(n) for n in wg.nodes)
    output = -2 if detector else len(wg.nodes) - 1  # a classifier returns its last layer's output
    for node in reversed(wg.nodes):
        if not (node.spec.inference_identity and node.inputs and node.inputs[0] >= 0):
            continue
        if node.index == output:
            if node.inputs[0] != output - 1 or detector:
                res.declined.append((node.origin, "it is the network's output and does not pass on the layer before"))
                continue
            output -= 1
        wg.replace_uses(node.index, node.inputs[0])
        doomed.add(node.index)
        res.rewrites.append(f"{describe(node)}: identity at inference, removed")
    for node in reversed(wg.nodes):  # reversed: a chain of dead layers goes in one sweep
        if node.index in doomed or node.spec.inference_output(node) or node.index == output:
            continue
        readers = [n.index for n in wg.nodes if node.index in n.inputs and n.index not in doomed]
        if not readers:
            doomed.add(node.index)
            res.rewrites.append(f"{describe(node)}: nothing reads it, removed")
    wg.remove(doomed)
    return res
