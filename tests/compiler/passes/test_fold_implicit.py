"""fold_implicit (the paper's eq. 9/10): equal before/after, and where it must decline."""
import torch

from yolor_cfg.compiler.passes import fold_implicit

from tests.helpers import HEADER
from tests.compiler.passes.support import assert_same_outputs, randomized, run_pass


IMPLICIT_BODY = """[convolutional]
batch_normalize=1
filters=8
size=3
pad=1
activation=silu
[implicit_add]
filters=8
[implicit_mul]
filters=8
[route]
layers=0
[shift_channels]
from=1
[convolutional]
filters=6
size={size}
pad=1
activation=linear
[avgpool]
"""


def test_fold_implicit_add_declines_before_padded_conv(write_cfg):
    model = randomized(write_cfg(HEADER + IMPLICIT_BODY.format(size=3)))
    fused, result = run_pass(model, fold_implicit)
    assert not result.changed
    [(layer, why)] = result.declined
    assert layer == 4 and "pads with zeros" in why and "layer 3 before it is a [route]" in why
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))


def test_fold_implicit_add_into_following_1x1(write_cfg):
    model = randomized(write_cfg(HEADER + IMPLICIT_BODY.format(size=1)))
    fused, result = run_pass(model, fold_implicit)
    assert result.rewrites == ["layer 4 [shift_channels] (line 17): implicit add of layer 1 folded into layer 5 after it"]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))


def test_fold_implicit_mul_into_following_padded_conv_is_exact(write_cfg):
    body = IMPLICIT_BODY.format(size=3).replace("[shift_channels]\nfrom=1", "[control_channels]\nfrom=2")
    model = randomized(write_cfg(HEADER + body))
    fused, result = run_pass(model, fold_implicit)
    assert len(result.rewrites) == 1 and "into layer 5 after it" in result.rewrites[0]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))


def test_fold_implicit_into_preceding_linear_conv(write_cfg):
    body = ("[implicit_add]\nfilters=8\n[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=linear\n"
            "[shift_channels]\nfrom=0\n[avgpool]\n")
    model = randomized(write_cfg(HEADER + body))
    fused, result = run_pass(model, fold_implicit)  # eq. 10: into the bias of the conv before, padding or not
    assert result.rewrites == ["layer 2 [shift_channels] (line 12): implicit add of layer 0 folded into layer 1 before it"]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))
    # the must-not-fire twin: the conv's output is also read by a route, and a route follows
    body = body.replace("[avgpool]\n", "[route]\nlayers=-1,1\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n")
    model = randomized(write_cfg(HEADER + body, "twin.cfg"))
    fused, result = run_pass(model, fold_implicit)
    assert not result.changed
    assert result.declined == [(2, "layer 1's output is also read elsewhere; layer 3 after it is a [route] (not a convolution)")]


def test_fold_implicit_declines_2d_maps(write_cfg):
    body = ("[convolutional]\nfilters=8\nsize=1\nactivation=linear\n[implicit_add_2d]\nfilters=64\natoms=64\n"
            "[route]\nlayers=0\n[shift_channels_2d]\nfrom=1\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n")
    model = randomized(write_cfg(HEADER + body))
    fused, result = run_pass(model, fold_implicit)
    assert not result.changed and result.declined[0][0] == 3 and "2-D implicit map" in result.declined[0][1]
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))
