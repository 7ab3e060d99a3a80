"""The layer-kind contract (contract.py), checked for every registered kind through its own ``example``
snippet: it parses, infers, builds, runs forward and backward; its Darknet layout names its module's
tensors with their sizes; ``num_params`` counts the module; ``.weights`` and ``.pt`` round-trip; a head
states its head contract."""
import math

import pytest
import torch

from yolor_cfg.compiler.layers.base import REGISTRY, AffineConv, LayerKind, Shape
from yolor_cfg.compiler.options import Int

from .contract import (CHECKS, check_batchnorm_can_be_dropped, check_forward_backward, check_layout_and_param_count,
                       check_weights_round_trip, example_model)


@pytest.fixture(params=sorted(REGISTRY), ids=str)
def kind(request):
    return request.param


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_contract(kind, check):
    check(kind)


def test_weights_and_pt_round_trip(kind, tmp_path):
    check_weights_round_trip(kind, tmp_path)


class ConvBN(torch.nn.Module):
    def __init__(self, c1, c2, k, bn, eps):
        super().__init__()
        self.conv = torch.nn.Conv2d(c1, c2, k, 1, k // 2, bias=not bn)
        self.norm = torch.nn.BatchNorm2d(c2, eps=eps) if bn else None

    def forward(self, x):
        x = self.conv(x)
        return torch.nn.functional.gelu(self.norm(x) if self.norm is not None else x)


class GeluConv(LayerKind):
    """An exercise: a new conv-like section written outside the package, with its own module and key
    names. Declaring affine_conv is all it takes for fold_bn (and fold_implicit) to handle it."""

    name = "gelu_conv"
    options = {"filters": Int(required=True, min=1), "size": Int(3, min=1), "batch_normalize": Int(1, min=0)}
    example = "[gelu_conv]\nfilters=6\n"

    def infer(self, node, in_shapes, ctx):
        return Shape(node.options["filters"], in_shapes[0].h, in_shapes[0].w, in_shapes[0].stride)

    def build(self, node, ctx):
        o = node.options
        return ConvBN(node.in_shapes[0].c, o["filters"], o["size"], bool(o["batch_normalize"]), ctx.dialect.bn_eps)

    def _shapes(self, node):
        o, c1 = node.options, node.in_shapes[0].c
        w = [("conv.weight", (o["filters"], c1, o["size"], o["size"]))]
        if o["batch_normalize"]:
            return [(f"norm.{t}", (o["filters"],)) for t in ("bias", "weight", "running_mean", "running_var")] + w
        return [("conv.bias", (o["filters"],))] + w

    def darknet_layout(self, node):
        return self._shapes(node)

    def num_params(self, node):
        return sum(math.prod(s) for n, s in self._shapes(node) if "running" not in n)

    def affine_conv(self, node):
        o = node.options
        return AffineConv("conv.weight", "conv.bias", "norm" if o["batch_normalize"] else None, "gelu", o["size"], True)

    def drop_batchnorm(self, node):
        node.options["batch_normalize"] = 0


@pytest.fixture
def gelu_conv(monkeypatch):
    monkeypatch.setitem(REGISTRY, "gelu_conv", GeluConv())
    return "gelu_conv"


def test_a_new_conv_like_kind_is_covered_and_folds_without_touching_a_pass(gelu_conv, tmp_path):
    for check in CHECKS:
        check(gelu_conv)
    check_weights_round_trip(gelu_conv, tmp_path)
    model = example_model(gelu_conv).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    fused = model.fuse(("fold_bn",))
    assert "fold_bn: 2 folded" in fused.fuse_report.summary()  # layer 0's conv and the new kind
    assert fused.module_list[1].norm is None
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), model(x), atol=1e-5, rtol=1e-5)


def test_a_kind_with_batchnorm_but_no_capability_is_named_in_the_declines():
    model = example_model("repconv").eval()  # fold_repconv, not fold_bn, is what folds it
    fused = model.fuse(("fold_bn",))
    reasons = [why for name, declines in fused.fuse_report.declined.items() for _, why in declines]
    assert any("[repconv] holds BatchNorm tensors but does not declare the affine_conv capability" in r for r in reasons)


def test_a_kind_registered_for_a_test_is_covered(monkeypatch):
    """The contract holds for a kind defined outside the package (as a new section would be)."""
    from yolor_cfg.compiler.layers.conv import Convolutional

    class Conv3(Convolutional):
        name = "conv3"
        aliases = ()
        example = "[conv3]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=silu\n"

    monkeypatch.setitem(REGISTRY, "conv3", Conv3())
    for check in CHECKS:
        check("conv3")

