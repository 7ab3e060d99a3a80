"""[repconv]: yolov7's re-parameterisable convolution in its training form, and the exact single
convolution it becomes at inference (the ``as_convolution`` capability, used by fold_repconv).

Training form: act(BN(conv kxk(x)) + BN(conv 1x1(x)) + BN(x)); the identity branch BN(x) exists
when the input has ``filters`` channels and stride is 1. No convolution has a bias. One section,
not a 3x3 conv + 1x1 conv + batchnorm + shortcut: the branches share one input and one output and
exist only to be summed, so one kind keeps yolov7's key names (``rbr_dense``, ``rbr_1x1``,
``rbr_identity``) and its parameter count, and folds as a unit."""
from __future__ import annotations

from ..options import Choice, Int
from .base import LayerKind, NodeError, Shape, register
from .conv import ACTIVATION_NAMES, Convolutional


def _bn_affine(p: dict, prefix: str, eps: float):
    scale = p[f"{prefix}.weight"] / (p[f"{prefix}.running_var"] + eps).sqrt()
    return scale, p[f"{prefix}.bias"] - p[f"{prefix}.running_mean"] * scale


@register
class RepConv(LayerKind):
    name = "repconv"
    yolor_only = True  # yolov7's, a member of the YOLOR family: its files follow YOLOR's semantics
    summary = "yolov7 RepConv: kxk + 1x1 + identity BatchNorm branches, summed (folds to one kxk convolution)"
    options = {"filters": Int(required=True, min=1), "size": Int(3, min=1), "stride": Int(1, min=1),
               "activation": Choice("silu", choices=ACTIVATION_NAMES)}
    example = "[repconv]\nfilters=8\n[repconv]\nfilters=4\nstride=2\nactivation=leaky\n"

    def validate(self, node, ctx):
        if node.options["size"] % 2 == 0:
            raise NodeError(f"size={node.options['size']}: the kxk branch needs an odd size (3, 5, ...)", "size")

    def _identity(self, node) -> bool:
        return node.in_shapes[0].c == node.options["filters"] and node.options["stride"] == 1

    def infer(self, node, in_shapes, ctx):
        o, s = node.options, in_shapes[0]
        h, w = (s.h - 1) // o["stride"] + 1, (s.w - 1) // o["stride"] + 1
        return Shape(o["filters"], h, w, ctx.net_height / h)

    def build(self, node, ctx):
        from ..modules.repconv import RepConvBlock

        o = node.options
        return RepConvBlock(node.in_shapes[0].c, o["filters"], o["size"], o["stride"], ctx.dialect.bn_eps,
                            o["activation"])

    def darknet_layout(self, node):
        o, c1 = node.options, node.in_shapes[0].c
        c2, k = o["filters"], o["size"]

        def bn(prefix, n):
            return [(f"{prefix}.bias", (n,)), (f"{prefix}.weight", (n,)), (f"{prefix}.running_mean", (n,)),
                    (f"{prefix}.running_var", (n,))]
        out = bn("rbr_dense.1", c2) + [("rbr_dense.0.weight", (c2, c1, k, k))]
        out += bn("rbr_1x1.1", c2) + [("rbr_1x1.0.weight", (c2, c1, 1, 1))]
        return out + (bn("rbr_identity", c1) if self._identity(node) else [])

    def num_params(self, node):
        o, c1 = node.options, node.in_shapes[0].c
        c2, k = o["filters"], o["size"]
        return c2 * c1 * k * k + 2 * c2 + c2 * c1 + 2 * c2 + (2 * c1 if self._identity(node) else 0)

    def macs(self, node):
        o, s = node.options, node.shape
        return s.h * s.w * o["filters"] * node.in_shapes[0].c * (o["size"] ** 2 + 1)

    def as_convolution(self, node, params: dict, eps: float):
        """The [convolutional] options and tensors that compute this layer exactly at inference:
        each branch's BN scales its kernel (the 1x1 zero-padded to kxk, the identity a kxk kernel with
        1 at the centre of channel i -> i) and the BN shifts add up to the bias."""
        import torch

        o, c1 = node.options, node.in_shapes[0].c
        k = o["size"]
        scale, shift = _bn_affine(params, "rbr_dense.1", eps)
        weight = params["rbr_dense.0.weight"] * scale.view(-1, 1, 1, 1)
        bias = shift
        scale, shift = _bn_affine(params, "rbr_1x1.1", eps)
        weight = weight + torch.nn.functional.pad(params["rbr_1x1.0.weight"] * scale.view(-1, 1, 1, 1), [k // 2] * 4)
        bias = bias + shift
        if "rbr_identity.weight" in params:
            scale, shift = _bn_affine(params, "rbr_identity", eps)
            eye = torch.zeros_like(weight)
            eye[torch.arange(c1), torch.arange(c1), k // 2, k // 2] = 1.0
            weight = weight + eye * scale.view(-1, 1, 1, 1)
            bias = bias + shift
        options = {"filters": o["filters"], "size": k, "stride": o["stride"], "stride_x": -1, "stride_y": -1,
                   "pad": 1, "padding": 0, "groups": 1, "dilation": 1, "batch_normalize": 0,
                   "activation": o["activation"]}
        return Convolutional.name, options, {"Conv2d.weight": weight, "Conv2d.bias": bias}
