"""Pass-through and classifier-tail layers (layers/misc.py): [silence], [dropout], [cost], [softmax]."""
import numpy as np
import pytest
import torch

import yolor_cfg

from tests.helpers import header

NET = header(8, 8, channels=6)


def test_pass_through_layers_are_identities_at_inference(write_cfg):
    model = yolor_cfg.compile(write_cfg(NET + "[silence]\n[dropout]\nprobability=0.5\n[cost]\n"),
                              dialect="darknet").eval()
    x = torch.randn(2, 6, 8, 8)
    with torch.no_grad():
        assert all(torch.equal(y, x) for y in model.trace(x))


def test_dropout_while_training_keeps_the_expected_value(write_cfg):
    model = yolor_cfg.compile(write_cfg(NET + "[dropout]\nprobability=0.25\n"), dialect="darknet").train()
    x = torch.ones(4, 6, 64, 64)
    y = model(x)
    kept = y != 0
    assert 0.70 < float(kept.float().mean()) < 0.80  # a quarter dropped
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.75))  # the rest scaled, as Darknet scales


@pytest.mark.parametrize("groups, temperature", [(1, 1.0), (3, 1.0), (2, 0.5)])
def test_softmax_per_group_with_temperature(write_cfg, groups, temperature):
    """softmax_cpu: each group's values (the flattened input split into ``groups``) / temperature."""
    model = yolor_cfg.compile(write_cfg(NET + f"[avgpool]\n[softmax]\ngroups={groups}\ntemperature={temperature}\n"),
                              dialect="darknet").eval()
    x = torch.randn(2, 6, 8, 8)
    with torch.no_grad():
        out = model(x).numpy().reshape(2, groups, -1)
    z = x.mean((2, 3)).numpy().reshape(2, groups, -1) / temperature
    ref = np.exp(z - z.max(-1, keepdims=True))
    np.testing.assert_allclose(out, ref / ref.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)
