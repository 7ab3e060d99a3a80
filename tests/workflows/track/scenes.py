"""Synthetic scenes shared by the tracking tests."""
import numpy as np

from yolor_cfg.workflows.track.mot import MotTable, table

SIZE = (40.0, 100.0)  # width, height of both objects: they look alike to IoU
LOOKS = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])  # their embeddings tell them apart


def bounce(frames: int = 21, meet: int = 10, speed: float = 5.0) -> list[np.ndarray]:
    """Two boxes of the same size (A left, B right) approach each other at ``speed`` px/frame, nearly
    coincide at frame index ``meet`` (their centres 2 px apart), then bounce back the way they came:
    per frame, boxes (2, 4) as corners, A first."""
    w, h = SIZE
    out = []
    for t in range(frames):
        d = speed * abs(t - meet) + 1
        out.append(np.array([[300 - d - w / 2, 200, 300 - d + w / 2, 200 + h],
                             [300 + d - w / 2, 200, 300 + d + w / 2, 200 + h]]))
    return out


def ground_truth(frames: list[np.ndarray]) -> MotTable:
    """The frames' boxes as MOTChallenge ground truth: id 1 for the first box of each frame, 2 for the second..."""
    rows = [(t, i + 1, *box[:2], *(box[2:] - box[:2]))
            for t, boxes in enumerate(frames, 1) for i, box in enumerate(boxes)]
    a = np.array(rows)
    return table(a[:, 0], a[:, 1], a[:, 2:6])
