"""[crop] against a NumPy transcription of Darknet's forward_crop_layer (crop_layer.c)."""
import numpy as np
import pytest
import torch

import yolor_cfg
from yolor_cfg.core.errors import CfgError

from tests.helpers import header


def crop_cfg(w: int, h: int, cw: int, ch: int, flip: int, extra: str) -> str:
    """A network of one [crop] on a w x h input; ``extra``: more [crop] option lines."""
    return header(w, h) + f"[crop]\ncrop_width={cw}\ncrop_height={ch}\nflip={flip}\n{extra}"


def darknet_crop(x: np.ndarray, out_h: int, out_w: int, noadjust: bool, train_draw=None) -> np.ndarray:
    """Darknet's loop, index for index: at test time dh, dw are centred and there is no flip."""
    batch, c, h, w = x.shape
    flat = x.reshape(-1)
    flip, dh, dw = train_draw if train_draw else (0, (h - out_h) // 2, (w - out_w) // 2)
    scale, trans = (1.0, 0.0) if noadjust else (2.0, -1.0)
    out = []
    for b in range(batch):
        for k in range(c):
            for i in range(out_h):
                for j in range(out_w):
                    col = w - dw - j - 1 if flip else j + dw
                    row = i + dh
                    out.append(flat[col + w * (row + h * (k + c * b))] * scale + trans)
    return np.array(out, dtype=x.dtype).reshape(batch, c, out_h, out_w)


@pytest.mark.parametrize("h, w, ch, cw, noadjust", [(32, 32, 28, 28, 0), (31, 40, 20, 27, 1), (9, 9, 9, 9, 0)])
def test_crop_matches_darknet_at_inference(write_cfg, h, w, ch, cw, noadjust):
    model = yolor_cfg.compile(write_cfg(crop_cfg(w=w, h=h, cw=cw, ch=ch, flip=1, extra=f"noadjust={noadjust}\n")))
    assert model.graph.nodes[0].shape.as_list() == [3, ch, cw]
    x = torch.rand(2, 3, h, w)
    ours = model.eval()(x).numpy()
    np.testing.assert_array_equal(ours, darknet_crop(x.numpy(), ch, cw, bool(noadjust)))


def test_crop_while_training_is_a_window_mirrored_as_darknet_mirrors(write_cfg):
    model = yolor_cfg.compile(write_cfg(crop_cfg(w=12, h=10, cw=7, ch=6, flip=1, extra=""))).train()
    x = torch.rand(1, 3, 10, 12)
    candidates = [darknet_crop(x.numpy(), 6, 7, False, (flip, dh, dw))
                  for flip in (0, 1) for dh in range(5) for dw in range(6)]
    torch.manual_seed(0)
    seen = set()
    for _ in range(40):
        y = model(x).numpy()
        matches = [i for i, c in enumerate(candidates) if np.array_equal(y, c)]
        assert len(matches) == 1
        seen.add(matches[0] >= 30)
    assert seen == {False, True}  # both mirrored and plain windows occur


def test_crop_larger_than_its_input_is_an_error(write_cfg):
    with pytest.raises(CfgError, match=r"a 40x20 crop does not fit the 32x32 input"):
        yolor_cfg.compile(write_cfg(crop_cfg(w=32, h=32, cw=20, ch=40, flip=0, extra="")))


def test_crop_means_darknet(write_cfg):
    graph = yolor_cfg.load_graph(write_cfg(crop_cfg(w=32, h=32, cw=28, ch=28, flip=1, extra="angle=7\nsaturation=1.5\n")))
    assert graph.dialect.name == "darknet" and "[crop] is a Darknet section" in graph.dialect_reason
