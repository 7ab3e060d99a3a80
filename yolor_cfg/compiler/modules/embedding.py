"""Module of [embedding]."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class EmbeddingHead(nn.Module):
    """(+ implicit) -> 1x1 projection to ``dim`` -> (x implicit) -> L2 normalisation over channels."""

    def __init__(self, channels: int, dim: int, implicit: str, std: float):
        super().__init__()
        self.Conv2d = nn.Conv2d(channels, dim, 1)
        self.ia = nn.Parameter(torch.randn(channels) * std) if implicit in ("add", "both") else None
        self.im = nn.Parameter(1 + torch.randn(dim) * std) if implicit in ("mul", "both") else None

    def forward(self, x):
        if self.ia is not None:
            x = x + self.ia.view(1, -1, 1, 1)
        e = self.Conv2d(x)
        if self.im is not None:
            e = e * self.im.view(1, -1, 1, 1)
        return F.normalize(e, dim=1)


def detection_embeddings(embeddings: torch.Tensor, raw: list[torch.Tensor]) -> torch.Tensor:
    """Each decoded detection row's embedding: batch x N x dim, rows in the order the heads' decoded
    outputs are concatenated (head, anchor, cell y, cell x). A detection reads the map under its cell's
    centre: the vector there when the head's stride is the map's; when the head is coarser, the vector at
    the centre of the cell's block (where training reads an object centred in that cell), picked by a
    strided depthwise convolution with a one-hot kernel (exact, and runnable where strided slices are
    not: ncnn); when finer, the enclosing location (nearest upsampling)."""
    # the ratios are fixed by the strides (the same at every input size): plain ints, so an export with dynamic
    # height and width keeps a static pooling kernel
    h, w = (int(s) for s in embeddings.shape[2:])
    per_head = []
    for p in raw:  # batch x anchors x ny x nx x (5 + classes)
        na, ny, nx = (int(s) for s in p.shape[1:4])
        if (ny, nx) == (h, w):
            e = embeddings
        elif h % ny == 0 and w % nx == 0:
            ry, rx, dim = h // ny, w // nx, int(embeddings.shape[1])
            kernel = np.zeros((dim, 1, ry, rx), np.float32)
            kernel[:, 0, ry // 2, rx // 2] = 1.0  # from NumPy: a constant to the ONNX tracer
            pick = torch.from_numpy(kernel).to(embeddings)
            e = F.conv2d(embeddings, pick, stride=(ry, rx), groups=dim)
        else:
            e = F.interpolate(embeddings, size=(ny, nx), mode="nearest")
        per_head += [e.flatten(2)] * na  # anchor-major, as the decoded rows (a concat: ncnn has no tile)
    return torch.cat(per_head, 2).transpose(1, 2)
