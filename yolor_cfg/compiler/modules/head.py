"""Module of the detection heads [yolo] and [region] (see ``layers/head.py`` for the output contract)."""
from __future__ import annotations

import torch
import torch.nn as nn


def _grid(ny: int, nx: int, like: torch.Tensor) -> torch.Tensor:
    yv, xv = torch.meshgrid(torch.arange(ny, device=like.device), torch.arange(nx, device=like.device),
                            indexing="ij")
    return torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2).to(like.dtype)


class DetectHead(nn.Module):
    """Reshapes a head's feature map and decodes it; ``decoding`` picks the formula."""

    def __init__(self, anchors: list[tuple[float, float]], nc: int, stride: tuple[float, float],
                 decoding: str, scale_x_y: float = 1.0, class_softmax: bool = False):
        super().__init__()
        self.na, self.nc, self.no = len(anchors), nc, nc + 5
        self.stride = stride  # (sy, sx) in input pixels
        self.decoding, self.scale_x_y, self.class_softmax = decoding, scale_x_y, class_softmax
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32), persistent=False)  # na x 2
        # (x, y) pixels per cell, kept on the model's device: a host tensor made in forward would be a
        # host-to-device copy per call, which CUDA graph capture forbids
        self.register_buffer("stride_xy", torch.tensor([stride[1], stride[0]], dtype=torch.float32), persistent=False)

    def forward(self, p):
        bs, _, ny, nx = p.shape
        p = p.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
        if self.training:
            return p
        return self.decode(p).view(bs, -1, self.no), p

    def decode(self, p):
        ny, nx = p.shape[2], p.shape[3]
        anchors = self.anchors.view(1, -1, 1, 1, 2).to(p.dtype)
        grid = _grid(ny, nx, p)
        stride = self.stride_xy.to(p.dtype)
        if self.decoding == "yolor":  # scaled-YOLOv4: xy = (2s - 0.5 + grid) * stride, wh = (2s)^2 * anchor
            s = p.sigmoid()
            xy = (s[..., :2] * 2.0 - 0.5 + grid) * stride
            wh = (s[..., 2:4] * 2) ** 2 * (anchors / stride) * stride
            return torch.cat([xy, wh, s[..., 4:]], -1)
        k = self.scale_x_y
        if self.decoding == "darknet_new_coords":  # the conv is logistic already: no sigmoid here
            xy = (p[..., :2] * k - 0.5 * (k - 1) + grid) * stride
            wh = p[..., 2:4] ** 2 * 4 * anchors
            return torch.cat([xy, wh, p[..., 4:]], -1)
        if self.decoding == "darknet":
            xy = (p[..., :2].sigmoid() * k - 0.5 * (k - 1) + grid) * stride
            wh = p[..., 2:4].exp() * anchors
            return torch.cat([xy, wh, p[..., 4:].sigmoid()], -1)
        # region (YOLOv2): anchors in grid cells
        xy = (p[..., :2].sigmoid() + grid) * stride
        wh = p[..., 2:4].exp() * anchors * stride
        cls = p[..., 5:].softmax(-1) if self.class_softmax else p[..., 5:].sigmoid()
        return torch.cat([xy, wh, p[..., 4:5].sigmoid(), cls], -1)
