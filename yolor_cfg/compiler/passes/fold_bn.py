"""fold_bn: BatchNorm into the adjacent convolution (exact: BN at inference is per-channel affine).

Matches layers by capability, not by name: a layer whose kind declares ``affine_conv`` with its own
BatchNorm, and a standalone ``[batchnorm]`` right after such a layer."""
from __future__ import annotations

from torch.nn.utils.fusion import fuse_conv_bn_weights

from .base import PassResult, WeightedGraph, conv_weight_bias, describe, has_batchnorm_tensors, only_consumer, set_conv


def _fused(p: dict, conv, bn: dict, prefix: str, eps: float):
    """W and b of ``conv`` (its tensors in ``p``) with the BatchNorm under ``prefix`` (in ``bn``) after it."""
    w, b = conv_weight_bias(p, conv)
    fw, fb = fuse_conv_bn_weights(w, b, bn[f"{prefix}.running_mean"], bn[f"{prefix}.running_var"], eps,
                                  bn[f"{prefix}.weight"], bn[f"{prefix}.bias"])
    return fw.detach(), fb.detach()


def fold_bn(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    eps = wg.graph.dialect.bn_eps
    doomed = set()
    for node in wg.nodes:
        p = wg.params[node.index]
        conv = node.spec.affine_conv(node)
        if conv is not None and conv.batchnorm:
            set_conv(wg, node, conv, *_fused({conv.weight: p[conv.weight]}, conv, p, conv.batchnorm, eps))
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
        set_conv(wg, prev, conv, *_fused(wg.params[prev.index], conv, wg.params[node.index],
                                         node.spec.channel_affine(node), eps))
        wg.replace_uses(node.index, prev.index)
        doomed.add(node.index)
        res.rewrites.append(f"{describe(node)}: folded into layer {prev.origin}")
