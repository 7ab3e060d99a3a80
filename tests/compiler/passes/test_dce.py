"""dce: identities and unread layers go, nothing else."""
import torch

from yolor_cfg.compiler.passes import dce

from tests.helpers import header
from tests.compiler.passes.support import assert_same_outputs, randomized, run_pass


def test_dce_removes_identities_and_unread_layers_only(write_cfg):
    body = ("[convolutional]\nfilters=8\nsize=1\nactivation=leaky\n[dropout]\nprobability=.5\n[silence]\n"
            "[implicit_add]\nfilters=4\n[route]\nlayers=2\n[convolutional]\nfilters=4\nsize=1\nactivation=linear\n[cost]\n")
    model = randomized(write_cfg(header(dialect="yolor") + body))  # YOLOR's sections and Darknet's [cost]
    fused, result = run_pass(model, dce)
    assert [n.kind for n in fused.graph.nodes] == ["convolutional", "route", "convolutional"]
    assert len(result.rewrites) == 4
    assert_same_outputs(model, fused, torch.rand(2, 3, 64, 64))
    again, second = run_pass(fused, dce)
    assert not second.changed
