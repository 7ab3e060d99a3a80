"""fold_bn: BatchNorm into the adjacent convolution (exact: BN at inference is per-channel affine).

Matches layers by capability, not by name: a layer whose kind declares ``affine_conv`` with its own
BatchNorm, and a standalone ``[batchnorm]`` right after such a layer."""
from __future__ import annotations

from .base import (PassResult, WeightedGraph, bn_affine, conv_weight_bias, describe, has_batchnorm_tensors, only_consumer, set_conv)


def fold_bn(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    eps = wg.graph.dialect.bn_eps
    doomed = set()
    for node in wg.nodes:
        p = wg.params[node.index]
        conv = node.spec.affine_conv(node)
        if conv is not None and conv.batchnorm:
            scale, shift = bn_affine(p, conv.batchnorm, eps)
            set_conv(wg, node, conv, p[conv.weight] * scale.view(-1, 1, 1, 1), shift)
            res.rewrites.append(f"{describe(node)}: BatchNorm folded into the convolution")
        elif node.spec.channel_affine(node):
            _fold_standalone(wg, node, res, doomed, eps)
        elif conv is None and has_batchnorm_tensors(p) and not node.spec.inference_identity:
            res.declined.append((node.origin, f"[{node.kind}] holds BatchNorm tensors but does not declare the "
                                              "affine_conv capability, so no pass knows where they apply"))
    wg.remove(doomed)
    return res


def _fold_standalone(wg: WeightedGraph, node, res: PassResult, doomed: set, eps: float) -> None:
    prev = wg.nodes[node.inputs[0]] if node.inputs[0] >= 0 else None
    conv = prev.spec.affine_conv(prev) if prev is not None else None
    if conv is None:
        res.declined.append((node.origin, "the layer before is not a convolution"))
    elif conv.batchnorm:
        res.declined.append((node.origin, "the convolution before still has its own BatchNorm"))
    elif conv.activation != "linear":
        res.declined.append((node.origin, f"a {conv.activation} activation lies between it and the convolution before"))
    elif only_consumer(wg, prev.index) != node.index:
        res.declined.append((node.origin, f"layer {prev.origin}'s output is also read elsewhere"))
    else:
        scale, shift = bn_affine(wg.params[node.index], node.spec.channel_affine(node), eps)
        w, b = conv_weight_bias(wg.params[prev.index], conv)
        set_conv(wg, prev, conv, w * scale.view(-1, 1, 1, 1), b * scale + shift)
        wg.replace_uses(node.index, prev.index)
        doomed.add(node.index)
        res.rewrites.append(f"{describe(node)}: folded into layer {prev.origin}")
