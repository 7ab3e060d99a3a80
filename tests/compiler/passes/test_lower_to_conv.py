"""lower_to_conv: YOLOR's space-to-depth and Haar DWT become stride-2 convolutions computing the same
values; Darknet's [reorg] (another channel order) and everything else are left as they are."""
import torch

from yolor_cfg.compiler.passes import PASSES, FUSE_PIPELINE, lower_to_conv

from tests.compiler.passes.support import randomized, run_pass
from tests.helpers import header

TAIL = "[convolutional]\nfilters=8\nsize=3\npad=1\nactivation=silu\n"


def _outputs(model, x):
    with torch.no_grad():
        return model(x)


def test_space_to_depth_becomes_an_exact_convolution(write_cfg):
    model = randomized(write_cfg(header(dialect="yolor") + "[reorg]\n" + TAIL))
    lowered, result = run_pass(model, lower_to_conv)
    assert [n.kind for n in lowered.graph.nodes] == ["convolutional", "convolutional"]
    assert len(result.rewrites) == 1 and "computed as a stride-2 convolution" in result.rewrites[0]
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(lowered.trace(x)[0], model.trace(x)[0])  # one 1.0 per output: bit for bit
    torch.testing.assert_close(_outputs(lowered, x), _outputs(model, x), atol=1e-6, rtol=1e-6)


def test_dwt_becomes_a_convolution(write_cfg):
    model = randomized(write_cfg(header(dialect="yolor") + "[dwt]\n" + TAIL))
    lowered, result = run_pass(model, lower_to_conv)
    assert lowered.graph.nodes[0].kind == "convolutional" and len(result.rewrites) == 1
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(lowered.trace(x)[0], model.trace(x)[0], atol=1e-6, rtol=0)


def test_darknet_reorg_and_other_layers_are_left_alone(write_cfg):
    body = "[convolutional]\nfilters=4\nsize=1\nactivation=leaky\n[reorg]\nstride=2\n" + TAIL.replace("silu", "leaky")
    model = randomized(write_cfg(header(dialect="darknet") + body))
    lowered, result = run_pass(model, lower_to_conv)
    assert not result.changed and [n.kind for n in lowered.graph.nodes] == ["convolutional", "reorg", "convolutional"]


def test_it_is_not_part_of_the_default_fuse():
    assert "lower_to_conv" in PASSES and "lower_to_conv" not in FUSE_PIPELINE
