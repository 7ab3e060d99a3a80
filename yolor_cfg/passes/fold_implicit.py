"""fold_implicit: implicit knowledge is constant at inference, so it folds into a neighbouring
convolution (the YOLOR paper's equations 9 and 10).

- add (shift_channels): into the bias of the preceding linear convolution, or of the following
  convolution when that is exact (1x1 kernel or no zero padding);
- multiply (control_channels): into the output channels of the preceding linear convolution, or
  into the input channels of the following convolution (always exact: 0 x m = 0 in the padding);
- concatenate (alternate_channels): the constant channels into the following convolution's bias
  (1x1 or unpadded), which then reads only the features.
"""
from __future__ import annotations


from .base import PassResult, WeightedGraph, describe, only_consumer
from .fold_bn import _conv_bias


def _is_plain_conv(node) -> bool:
    return node.kind == "convolutional" and not node.options["batch_normalize"]


def _preceding_linear_conv(wg, node):
    src = node.inputs[0]
    if src < 0:
        return None, "its input is the network input"
    prev = wg.nodes[src]
    if not _is_plain_conv(prev):
        return None, f"layer {prev.origin} before it is a [{prev.kind}]" + (" with BatchNorm" if prev.kind == "convolutional" else "")
    if prev.options["activation"] != "linear":
        return None, f"layer {prev.origin} before it has a {prev.options['activation']} activation"
    if only_consumer(wg, src) != node.index:
        return None, f"layer {prev.origin}'s output is also read elsewhere"
    return prev, ""


def _following_conv(wg, node, needs_unpadded: bool):
    user = only_consumer(wg, node.index)
    if user is None:
        return None, "its output is read by several layers (or none)"
    nxt = wg.nodes[user]
    if not _is_plain_conv(nxt) or nxt.inputs != [node.index]:
        return None, f"layer {nxt.origin} after it is a [{nxt.kind}]" + (" with BatchNorm" if nxt.kind == "convolutional" else "")
    if needs_unpadded and nxt.options["padding"] and nxt.options["size"] > 1:
        return None, (f"the {nxt.options['size']}x{nxt.options['size']} convolution after it (layer {nxt.origin}) pads with "
                      "zeros, so a constant before it is not a constant after it at the borders")
    return nxt, ""


def fold_implicit(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    doomed: set[int] = set()
    for node in wg.nodes:
        op = node.spec.implicit_op
        if op is None and node.kind.endswith("_2d") and not node.spec.implicit_source:
            res.declined.append((node.origin, "a 2-D implicit map varies over the image: it is a constant, but not "
                                              "one per channel, so no convolution bias can hold it"))
            continue
        if op is None or node.index in doomed:
            continue
        src = wg.nodes[node.inputs[1]]
        if not src.spec.implicit_source:
            res.declined.append((node.origin, f"from= layer {src.origin} is not an implicit layer"))
            continue
        z = src.spec.implicit_value(src, wg.params[src.index]).reshape(-1)
        target, why_prev = (None, "concatenation cannot fold backwards") if op == "cat" else _preceding_linear_conv(wg, node)
        if target is not None:
            p = wg.params[target.index]
            w, b = p["Conv2d.weight"], _conv_bias(p)
            if op == "add":
                wg.params[target.index] = {"Conv2d.weight": w, "Conv2d.bias": b + z}
            else:
                wg.params[target.index] = {"Conv2d.weight": w * z.view(-1, 1, 1, 1), "Conv2d.bias": b * z}
            where = f"into layer {target.origin} before it"
        else:
            target, why_next = _following_conv(wg, node, needs_unpadded=op in ("add", "cat"))
            if target is None:
                res.declined.append((node.origin, f"{why_prev}; {why_next}"))
                continue
            p = wg.params[target.index]
            w, b = p["Conv2d.weight"], _conv_bias(p)
            if op == "add":
                b = b + (w.sum((2, 3)) @ z)
            elif op == "mul":
                w = w * z.view(1, -1, 1, 1)
            else:  # cat: the constant channels come first
                c = z.numel()
                b = b + (w[:, :c].sum((2, 3)) @ z)
                w = w[:, c:].contiguous()
                target.in_shapes = [wg.nodes[node.inputs[0]].shape if node.inputs[0] >= 0 else target.in_shapes[0]]
            wg.params[target.index] = {"Conv2d.weight": w, "Conv2d.bias": b}
            where = f"into layer {target.origin} after it"
        target.options["batch_normalize"] = 0
        wg.replace_uses(node.index, node.inputs[0])
        for n in wg.nodes:  # the applying layer's own reading of the implicit tensor goes too
            if n.index == node.index:
                n.inputs = [node.inputs[0]]
        doomed.add(node.index)
        res.rewrites.append(f"{describe(node)}: implicit {op} of layer {src.origin} folded {where}")
    wg.remove(doomed)
    return res
