"""Route-family layers against hand-written element loops of Darknet's C semantics."""
import math

import numpy as np
import pytest
import torch

import yolor_cfg

from tests.helpers import header


def darknet_shortcut(x, others, weights, normalization, layer_step):
    """shortcut_multilayer_cpu, element by element, for one image (flattened C*H*W buffers)."""
    out = np.zeros_like(x)
    n = len(others)
    step = x.size // layer_step

    def weight(i, src_i):
        idx = src_i // step + i * layer_step
        w = weights[idx]
        if normalization == "none":
            return w
        ws = [weights[src_i // step + k * layer_step] for k in range(n + 1)]
        if normalization == "relu":
            return max(w, 0) / (1e-4 + sum(max(v, 0) for v in ws))
        m = max(ws)
        return math.exp(w - m) / (1e-4 + sum(math.exp(v - m) for v in ws))

    for src_i in range(x.size):
        out[src_i] = x[src_i] * weight(0, src_i)
        for i, a in enumerate(others):
            if src_i < a.size:
                out[src_i] += a[src_i] * weight(i + 1, src_i)
    return out


@pytest.mark.parametrize("wtype, norm", [("per_feature", "none"), ("per_feature", "relu"),
                                         ("per_channel", "softmax"), ("per_channel", "relu")])
def test_weighted_shortcut_matches_darknet_loop(write_cfg, wtype, norm):
    cfg = write_cfg(header(8, 8) + f"""[convolutional]
filters=4
size=1
activation=linear
[convolutional]
filters=6
size=1
activation=linear
[shortcut]
from=-2
weights_type={wtype}
weights_normalization={norm}
activation=linear
""")
    model = yolor_cfg.compile(cfg, dialect="darknet").eval()
    shortcut = model.module_list[2]
    torch.nn.init.normal_(shortcut.weights, generator=torch.Generator().manual_seed(1))
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        outs = model.trace(x)
    layer_step = 6 if wtype == "per_channel" else 1
    expect = darknet_shortcut(outs[1][0].numpy().ravel(), [outs[0][0].numpy().ravel()],
                              shortcut.weights.detach().numpy().ravel(), norm, layer_step)
    np.testing.assert_allclose(outs[2][0].numpy().ravel(), expect, rtol=1e-5, atol=1e-6)
    assert [s for _, s in model.graph.nodes[2].spec.darknet_layout(model.graph.nodes[2])] == [(2, layer_step)]


def test_yolor_weighted_shortcut_uses_sigmoid_weights(write_cfg):
    cfg = write_cfg(header(8, 8) + "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n"
                    "[convolutional]\nfilters=4\nsize=1\nactivation=linear\n[shortcut]\nfrom=-2\nweights_type=per_feature\n")
    model = yolor_cfg.compile(cfg, dialect="yolor").eval()
    model.module_list[2].w.data = torch.tensor([0.3, -0.7])
    with torch.no_grad():
        outs = model.trace(torch.rand(1, 3, 8, 8))
    w = torch.sigmoid(torch.tensor([0.3, -0.7])) * (2 / 2)
    torch.testing.assert_close(outs[2], outs[1] * w[0] + outs[0] * w[1])
    assert "module_list.2.w" in model.state_dict()


def test_darknet_reorg_matches_c_loop():
    """reorg_cpu(forward=0) as Darknet's [reorg] calls it, element by element."""
    from yolor_cfg.compiler.modules.reorg import ReorgDarknet

    b, c, h, w, s = 1, 8, 4, 6, 2
    x = torch.arange(b * c * h * w, dtype=torch.float32).view(b, c, h, w)
    flat = x.numpy().ravel()
    out = np.zeros_like(flat)
    out_c = c // (s * s)
    for k in range(c):
        for j in range(h):
            for i in range(w):
                in_index = i + w * (j + h * k)
                c2, offset = k % out_c, k // out_c
                w2, h2 = i * s + offset % s, j * s + offset // s
                out[in_index] = flat[w2 + w * s * (h2 + h * s * c2)]
    ours = ReorgDarknet(s)(x)
    assert ours.shape == (b, c * s * s, h // s, w // s)
    np.testing.assert_array_equal(ours.numpy().ravel(), out)
