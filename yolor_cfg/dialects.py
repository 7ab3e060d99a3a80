"""Dialects: whose semantics a cfg follows where YOLOR's PyTorch code and Darknet differ."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    name: str
    bn_eps: float
    description: str


DIALECTS = {
    "yolor": Dialect("yolor", 1e-4, "YOLOR PyTorch: space-to-depth reorg, scaled-YOLOv4 decoding, BN eps 1e-4, "
                                    "zero-padded 2x2/1 maxpool"),
    "darknet": Dialect("darknet", 1e-5, "Darknet: reorg_old element order, scale_x_y/new_coords decoding, "
                                        "BN eps 1e-5, -inf maxpool padding"),
}
