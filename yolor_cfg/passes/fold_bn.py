"""fold_bn: BatchNorm into the adjacent convolution (exact: BN at inference is per-channel affine)."""
from __future__ import annotations

import torch

from .base import PassResult, WeightedGraph, describe, only_consumer


def _bn_affine(p: dict, prefix: str, eps: float):
    scale = p[f"{prefix}.weight"] / torch.sqrt(p[f"{prefix}.running_var"] + eps)
    shift = p[f"{prefix}.bias"] - p[f"{prefix}.running_mean"] * scale
    return scale, shift


def _conv_bias(p: dict) -> torch.Tensor:
    w = p["Conv2d.weight"]
    return p.get("Conv2d.bias", torch.zeros(w.shape[0], dtype=w.dtype))


def fold_bn(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    eps = wg.graph.dialect.bn_eps
    doomed = set()
    for node in wg.nodes:
        p = wg.params[node.index]
        if node.kind == "convolutional" and node.options["batch_normalize"]:
            scale, shift = _bn_affine(p, "BatchNorm2d", eps)
            w = p["Conv2d.weight"]
            wg.params[node.index] = {"Conv2d.weight": w * scale.view(-1, 1, 1, 1), "Conv2d.bias": shift}
            node.options["batch_normalize"] = 0
            res.rewrites.append(f"{describe(node)}: BatchNorm folded into the convolution")
        elif node.kind == "batchnorm":
            prev = wg.nodes[node.inputs[0]] if node.inputs[0] >= 0 else None
            if prev is None or prev.kind != "convolutional":
                res.declined.append((node.origin, "the layer before is not a convolution"))
            elif prev.options["batch_normalize"]:
                res.declined.append((node.origin, "the convolution before still has its own BatchNorm"))
            elif prev.options["activation"] != "linear":
                res.declined.append((node.origin, f"a {prev.options['activation']} activation lies between it and "
                                                 "the convolution before"))
            elif only_consumer(wg, prev.index) != node.index:
                res.declined.append((node.origin, f"layer {prev.origin}'s output is also read elsewhere"))
            else:
                scale, shift = _bn_affine(p, "BatchNorm2d", eps)
                q = wg.params[prev.index]
                wg.params[prev.index] = {"Conv2d.weight": q["Conv2d.weight"] * scale.view(-1, 1, 1, 1),
                                         "Conv2d.bias": _conv_bias(q) * scale + shift}
                wg.replace_uses(node.index, prev.index)
                doomed.add(node.index)
                res.rewrites.append(f"{describe(node)}: folded into layer {prev.origin}")
    wg.remove(doomed)
    return res
