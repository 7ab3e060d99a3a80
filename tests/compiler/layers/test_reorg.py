"""[reorg] and [dwt] (layers/reorg.py) against NumPy transcriptions: Darknet's reorg_cpu (as
forward_reorg_layer calls it), YOLOR's ReOrg, and a one-level Haar transform written out by hand."""
import numpy as np
import pytest
import torch

import yolor_cfg

from tests.helpers import header


def darknet_reorg(x: np.ndarray, stride: int) -> np.ndarray:
    """reorg_cpu(input, w, h, c, batch, stride, forward=0, output), index for index; the flat output
    is the layer's (c*s*s, h/s, w/s) tensor."""
    batch, c, h, w = x.shape
    flat, out = x.reshape(-1), np.empty(x.size, x.dtype)
    out_c = c // (stride * stride)
    for b in range(batch):
        for k in range(c):
            for j in range(h):
                for i in range(w):
                    c2, offset = k % out_c, k // out_c
                    w2, h2 = i * stride + offset % stride, j * stride + offset // stride
                    out[i + w * (j + h * (k + c * b))] = flat[w2 + w * stride * (h2 + h * stride * (c2 + out_c * b))]
    return out.reshape(batch, c * stride * stride, h // stride, w // stride)


@pytest.mark.parametrize("c, h, w, stride", [(4, 6, 8, 2), (8, 4, 4, 2), (9, 6, 9, 3)])
def test_darknet_reorg_matches_reorg_cpu(write_cfg, c, h, w, stride):
    model = yolor_cfg.compile(write_cfg(header(w, h, c) + f"[reorg]\nstride={stride}\n"),
                              dialect="darknet").eval()
    x = torch.randn(2, c, h, w)
    with torch.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), darknet_reorg(x.numpy(), stride))


def test_yolor_reorg_is_yolors_reorg(write_cfg):
    model = yolor_cfg.compile(write_cfg(header(8, 6, 3) + "[reorg]\n"), dialect="yolor").eval()
    x = torch.randn(1, 3, 6, 8)
    a = x.numpy()
    ref = np.concatenate([a[..., 0::2, 0::2], a[..., 1::2, 0::2], a[..., 0::2, 1::2], a[..., 1::2, 1::2]], 1)
    with torch.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), ref)


def test_dwt_is_one_haar_level_as_yolor_returns_it(write_cfg):
    model = yolor_cfg.compile(write_cfg(header(8, 6, 2) + "[dwt]\n"), dialect="yolor").eval()
    x = torch.randn(1, 2, 6, 8, dtype=torch.float64)
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]  # rows even: columns even / odd
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]  # rows odd
    ll = (a + b + c + d) / 2
    lh, hl, hh = (a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2  # height, width, both
    bands = torch.stack([lh, hl, hh], 2).reshape(1, 6, 3, 4)
    with torch.no_grad():
        out = model.double()(x)
    torch.testing.assert_close(out, torch.cat([ll / 2, bands / 2 + 0.5], 1))
