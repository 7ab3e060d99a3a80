"""fold_bn: numerically equal before/after, and the cases where it must not fire."""
import torch

from yolor_cfg.compiler.passes import fold_bn

from tests.helpers import HEADER
from tests.compiler.passes.support import assert_same_outputs, randomized, run_pass


def test_fold_bn_standalone_batchnorm(write_cfg):
    body = ("[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=linear\n[batchnorm]\n[activation]\nactivation=leaky\n"
            "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=leaky\n[batchnorm]\n")
    model = randomized(write_cfg(HEADER + body))
    fused, result = run_pass(model, fold_bn)
    assert [n.kind for n in fused.graph.nodes] == ["convolutional", "activation", "convolutional", "batchnorm"]
    assert result.declined == [(4, "a leaky activation lies between it and the convolution before")]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))
