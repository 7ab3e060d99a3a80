"""[maxpool], [local_avgpool], [avgpool], [upsample] against NumPy transcriptions of Darknet's loops
(maxpool_layer.c, avgpool_layer.c, upsample_layer.c), and YOLOR's maxpool padding rule."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import yolor_cfg

from tests.helpers import header


def darknet_pool(x: np.ndarray, size: int, stride: int, padding: int, average: bool) -> np.ndarray:
    """forward_maxpool_layer / forward_local_avgpool_layer: offset -pad/2 (C division), padded cells
    never win a max and are left out of an average."""
    c, h, w = x.shape
    out_h, out_w = (h + padding - size) // stride + 1, (w + padding - size) // stride + 1
    offset = -(padding // 2)
    out = np.zeros((c, out_h, out_w), x.dtype)
    for k in range(c):
        for i in range(out_h):
            for j in range(out_w):
                cells = [x[k, r, q] for n in range(size) for m in range(size)
                         if 0 <= (r := offset + i * stride + n) < h and 0 <= (q := offset + j * stride + m) < w]
                out[k, i, j] = np.mean(cells) if average else max(cells)
    return out


@pytest.mark.parametrize("kind", ["maxpool", "local_avgpool"])
@pytest.mark.parametrize("h, w, size, stride, padding", [
    (13, 13, 2, 1, None),  # yolov3-tiny's 2x2/1 pool: output keeps the size
    (13, 13, 3, 2, None), (16, 11, 2, 2, None), (9, 10, 5, 1, None), (12, 12, 3, 2, 0), (11, 9, 3, 3, 4),
])
def test_darknet_pooling_matches_darknet(write_cfg, kind, h, w, size, stride, padding):
    pad = "" if padding is None else f"padding={padding}\n"
    cfg = write_cfg(header(w, h, channels=2) + f"[{kind}]\nsize={size}\nstride={stride}\n{pad}")
    model = yolor_cfg.compile(cfg, dialect="darknet").eval()
    x = torch.randn(1, 2, h, w)
    ref = darknet_pool(x[0].numpy(), size, stride, size - 1 if padding is None else padding, kind != "maxpool")
    with torch.no_grad():
        ours = model(x)[0].numpy()
    assert ours.shape == ref.shape == tuple(model.graph.nodes[0].shape.as_list())
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)


def _yolor_reference(x, size, stride):
    """YOLOR's modules: nn.MaxPool2d(k, s, padding=(k-1)//2), after ZeroPad2d((0, 1, 0, 1)) for 2x2/1."""
    if (size, stride) == (2, 1):
        return F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)
    return F.max_pool2d(x, size, stride, (size - 1) // 2)


@pytest.mark.parametrize("size, stride", [(3, 1), (5, 1), (2, 2), (3, 2), (2, 1)])
def test_yolor_maxpool_is_yolors_module(write_cfg, size, stride):
    cfg = write_cfg(header(12, 12, channels=2) + f"[maxpool]\nsize={size}\nstride={stride}\n")
    model = yolor_cfg.compile(cfg, dialect="yolor").eval()
    x = torch.randn(1, 2, 12, 12)
    with torch.no_grad():
        assert torch.equal(model(x), _yolor_reference(x, size, stride))


def test_global_avgpool_and_upsample(write_cfg):
    cfg = write_cfg(header(8, 6, channels=2) + "[upsample]\nstride=2\n[avgpool]\n")
    model = yolor_cfg.compile(cfg, dialect="darknet").eval()
    x = torch.randn(2, 2, 6, 8)
    with torch.no_grad():
        up, pooled = model.trace(x)
    assert torch.equal(up, x.repeat_interleave(2, 2).repeat_interleave(2, 3))  # nearest, as upsample_layer.c
    torch.testing.assert_close(pooled.flatten(1), x.mean((2, 3)))
