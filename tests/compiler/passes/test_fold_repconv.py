"""fold_repconv: a kind's as_convolution capability gives one equal convolution; nothing else changes."""
import torch

from yolor_cfg.compiler.passes import fold_repconv

from tests.helpers import HEADER, header
from tests.compiler.passes.support import assert_same_outputs, randomized, run_pass


def test_repconv_branches_become_one_convolution(write_cfg):
    body = ("[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=silu\n"
            "[repconv]\nfilters=8\n[repconv]\nfilters=6\nstride=2\nactivation=leaky\n")
    model = randomized(write_cfg(header(dialect="yolor", bn_eps=0.001) + body))
    fused, result = run_pass(model, fold_repconv)
    assert [n.kind for n in fused.graph.nodes] == ["convolutional"] * 3
    assert len(result.rewrites) == 2 and fused.num_params() < model.num_params()
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))


def test_nothing_to_reparameterise_is_left_alone(write_cfg):
    model = randomized(write_cfg(HEADER + "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\n"))
    fused, result = run_pass(model, fold_repconv)
    assert not result.changed and not result.declined
    assert_same_outputs(model, fused, torch.rand(1, 3, 64, 64))
