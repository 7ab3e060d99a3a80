"""Module of [embedding]."""
from __future__ import annotations

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
    outputs are concatenated (head, anchor, cell y, cell x). A detection reads the embedding map at the
    location under its cell's centre (a fixed index for a fixed input size, so exports hold a constant
    Gather)."""
    h, w = embeddings.shape[2:]
    flat = embeddings.flatten(2)
    index = []
    for p in raw:  # batch x anchors x ny x nx x (5 + classes)
        na, ny, nx = p.shape[1:4]
        ys = ((torch.arange(ny, device=p.device) * 2 + 1) * h // (2 * ny)).clamp(max=h - 1)
        xs = ((torch.arange(nx, device=p.device) * 2 + 1) * w // (2 * nx)).clamp(max=w - 1)
        index.append((ys[:, None] * w + xs[None, :]).flatten().repeat(na))
    return flat[:, :, torch.cat(index)].transpose(1, 2)
