"""Modules of [reorg] and [dwt]."""
from __future__ import annotations

import torch
import torch.nn as nn


class SpaceToDepthYolor(nn.Module):
    """YOLOR's ReOrg: concat(x[::2, ::2], x[1::2, ::2], x[::2, 1::2], x[1::2, 1::2])."""

    def forward(self, x):
        return torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)


class ReorgDarknet(nn.Module):
    """Darknet's [reorg] (reorg_old, forward): reads the input buffer as (C/s², H·s, W·s) and writes
    channel k = offset·C/s² + c of an (C, H, W) buffer, which is then the (C·s², H/s, W/s) output."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        b, c, h, w = x.shape
        s = self.stride
        xr = x.reshape(b, c // (s * s), h, s, w, s)  # the buffer seen as (C/s², H·s, W·s)
        y = xr.permute(0, 3, 5, 1, 2, 4).reshape(b, c, h, w)
        return y.reshape(b, c * s * s, h // s, w // s)


class FilterBank(nn.Module):
    """The four 2-tap analysis filters, stored as pytorch_wavelets stores them (already reversed),
    so YOLOR checkpoints (``DWT.xfm.h0_col`` ...) load as they are. Default: Haar (db1)."""

    def __init__(self):
        super().__init__()
        a = 2 ** -0.5
        self.register_buffer("h0_col", torch.tensor([a, a]).view(1, 1, 2, 1))
        self.register_buffer("h1_col", torch.tensor([a, -a]).view(1, 1, 2, 1))
        self.register_buffer("h0_row", torch.tensor([a, a]).view(1, 1, 1, 2))
        self.register_buffer("h1_row", torch.tensor([a, -a]).view(1, 1, 1, 2))


class WaveletDWT(nn.Module):
    """One level of the 2-D DWT in zero mode with plain tensor ops, returned as YOLOR's DWT layer
    returns it: concat(LL / 2, [LH, HL, HH of each input channel] / 2 + 0.5).

    As in pytorch_wavelets, the ``*_col`` filters run along the width first, then the ``*_row``
    filters along the height; sub-band k of channel c lands at channel 3c + k - 1."""

    def __init__(self):
        super().__init__()
        self.xfm = FilterBank()

    def forward(self, x):
        f0, f1 = self.xfm.h0_col.flatten(), self.xfm.h1_col.flatten()
        g0, g1 = self.xfm.h0_row.flatten(), self.xfm.h1_row.flatten()
        even_w, odd_w = x[..., 0::2], x[..., 1::2]
        lo_w, hi_w = f0[0] * even_w + f0[1] * odd_w, f1[0] * even_w + f1[1] * odd_w

        def along_h(t, g):
            return g[0] * t[..., 0::2, :] + g[1] * t[..., 1::2, :]

        ll = along_h(lo_w, g0)
        bands = torch.stack([along_h(lo_w, g1), along_h(hi_w, g0), along_h(hi_w, g1)], 2)
        n, c, h, w = ll.shape
        return torch.cat([ll * 0.5, bands.reshape(n, 3 * c, h, w) * 0.5 + 0.5], 1)


class DWTBlock(nn.Module):
    """Holds the transform under the attribute names of YOLOR's module (``DWT.xfm``)."""

    def __init__(self):
        super().__init__()
        self.DWT = WaveletDWT()

    def forward(self, x):
        return self.DWT(x)
