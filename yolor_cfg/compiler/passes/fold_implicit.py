"""fold_implicit: implicit knowledge is constant at inference, so it folds into a neighbouring
convolution (the YOLOR paper's equations 9 and 10).

- add (shift_channels): into the bias of the preceding linear convolution, or of the following
  convolution when that is exact (1x1 kernel or no zero padding);
- multiply (control_channels): into the output channels of the preceding linear convolution, or
  into the input channels of the following convolution (always exact: 0 x m = 0 in the padding);
- concatenate (alternate_channels): the constant channels into the following convolution's bias
  (1x1 or unpadded), which then reads only the features;
- a kind holding implicit knowledge of its own ([multilabel], [embedding]) folds it itself
  (``fold_own_implicit``).
"""
from __future__ import annotations


from .base import PassResult, WeightedGraph, conv_weight_bias, describe, only_consumer, set_conv


def _plain_conv(node):
    """The layer's affine_conv capability when it is a convolution without its own BatchNorm, else None."""
    conv = node.spec.affine_conv(node)
    return conv if conv is not None and conv.batchnorm is None else None


def _what(node) -> str:
    conv = node.spec.affine_conv(node)
    if conv is None:
        return f"a [{node.kind}] (not a convolution)"
    return f"a [{node.kind}] with BatchNorm" if conv.batchnorm else f"a [{node.kind}]"


def _preceding_linear_conv(wg, node):
    src = node.inputs[0]
    if src < 0:
        return None, None, "its input is the network input"
    prev = wg.nodes[src]
    conv = _plain_conv(prev)
    if conv is None:
        return None, None, f"layer {prev.origin} before it is {_what(prev)}"
    if conv.activation != "linear":
        return None, None, f"layer {prev.origin} before it has a {conv.activation} activation"
    if only_consumer(wg, src) != node.index:
        return None, None, f"layer {prev.origin}'s output is also read elsewhere"
    return prev, conv, ""


def _following_conv(wg, node, needs_unpadded: bool):
    user = only_consumer(wg, node.index)
    if user is None:
        return None, None, "its output is read by several layers (or none)"
    nxt = wg.nodes[user]
    conv = _plain_conv(nxt)
    if conv is None or nxt.inputs != [node.index]:
        return None, None, f"layer {nxt.origin} after it is {_what(nxt)}"
    if conv.groups != 1:
        return None, None, f"the convolution after it (layer {nxt.origin}) is grouped"
    if needs_unpadded and conv.padded and conv.size > 1:
        return None, None, (f"the {conv.size}x{conv.size} convolution after it (layer {nxt.origin}) pads with "
                            "zeros, so a constant before it is not a constant after it at the borders")
    return nxt, conv, ""


def fold_implicit(wg: WeightedGraph) -> PassResult:
    wg = wg.copy()
    res = PassResult(wg)
    doomed: set[int] = set()
    for node in wg.nodes:
        op = node.spec.implicit_op
        if node.spec.implicit_fold_refusal:
            res.declined.append((node.origin, node.spec.implicit_fold_refusal))
            continue
        if op is None or node.index in doomed:
            continue
        src = wg.nodes[node.inputs[1]]
        if not src.spec.implicit_source:
            res.declined.append((node.origin, f"from= layer {src.origin} is not an implicit layer"))
            continue
        z = src.spec.implicit_value(src, wg.params[src.index]).reshape(-1)
        if op == "cat":
            target, conv, why_prev = None, None, "concatenation cannot fold backwards"
        else:
            target, conv, why_prev = _preceding_linear_conv(wg, node)
        if target is not None:
            w, b = conv_weight_bias(wg.params[target.index], conv)
            if op == "add":
                set_conv(wg, target, conv, w, b + z)
            else:
                set_conv(wg, target, conv, w * z.view(-1, 1, 1, 1), b * z)
            where = f"into layer {target.origin} before it"
        else:
            target, conv, why_next = _following_conv(wg, node, needs_unpadded=op in ("add", "cat"))
            if target is None:
                res.declined.append((node.origin, f"{why_prev}; {why_next}"))
                continue
            w, b = conv_weight_bias(wg.params[target.index], conv)
            if op == "add":
                b = b + (w.sum((2, 3)) @ z)
            elif op == "mul":
                w = w * z.view(1, -1, 1, 1)
            else:  # cat: the constant channels come first
                c = z.numel()
                b = b + (w[:, :c].sum((2, 3)) @ z)
                w = w[:, c:].contiguous()
                target.in_shapes = [wg.nodes[node.inputs[0]].shape if node.inputs[0] >= 0 else target.in_shapes[0]]
            set_conv(wg, target, conv, w, b)
            where = f"into layer {target.origin} after it"
        wg.replace_uses(node.index, node.inputs[0])
        for n in wg.nodes:  # the applying layer's own reading of the implicit tensor goes too
            if n.index == node.index:
                n.inputs = [node.inputs[0]]
        doomed.add(node.index)
        res.rewrites.append(f"{describe(node)}: implicit {op} of layer {src.origin} folded {where}")
    wg.remove(doomed)
    for node in wg.nodes:
        folded = node.spec.fold_own_implicit(node, wg.params[node.index])
        if folded is not None:
            node.options, wg.params[node.index] = folded
            res.rewrites.append(f"{describe(node)}: its own implicit knowledge folded into its projection")
    return res
