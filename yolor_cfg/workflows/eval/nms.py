"""Non-maximum suppression in plain torch (torchvision is not a dependency).

Exact greedy NMS, vectorised over the candidates: each step keeps the best remaining box and
drops every remaining box that overlaps it more than the threshold, in one array operation; it
stops after ``max_keep`` boxes, so the work is O(kept x candidates), never candidates squared."""
from __future__ import annotations

import numpy as np
import torch



def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of (n, 4) and (m, 4) x1y1x2y2 boxes -> (n, m)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(0) * (a[:, 3] - a[:, 1]).clamp(0)
    area_b = (b[:, 2] - b[:, 0]).clamp(0) * (b[:, 3] - b[:, 1]).clamp(0)
    lt = torch.max(a[:, None, :2], b[None, :, :2])
    rb = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(0).prod(2)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, max_keep: int | None = None) -> torch.Tensor:
    """Indices of kept boxes, by decreasing score (ties: lower index first)."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    limit = len(order) if max_keep is None else max_keep
    b = boxes[order].detach().cpu().float().numpy()
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    rest = np.arange(len(b))
    keep = []
    while rest.size and len(keep) < limit:
        i, rest = rest[0], rest[1:]
        keep.append(i)
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        union = area[i] + area[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        rest = rest[iou <= iou_threshold]
    return order[torch.as_tensor(np.asarray(keep, dtype=np.int64), device=order.device)]


def batched_nms(boxes, scores, classes, iou_threshold: float, max_keep: int | None = None) -> torch.Tensor:
    """Class-aware NMS: boxes of different classes never suppress each other."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offset = classes.to(boxes.dtype)[:, None] * (boxes.max() - boxes.min() + 1)
    return nms(boxes + offset, scores, iou_threshold, max_keep)


def xywh2xyxy(x: torch.Tensor) -> torch.Tensor:
    y = x.clone()
    y[..., 0], y[..., 1] = x[..., 0] - x[..., 2] / 2, x[..., 1] - x[..., 3] / 2
    y[..., 2], y[..., 3] = x[..., 0] + x[..., 2] / 2, x[..., 1] + x[..., 3] / 2
    return y


def non_max_suppression(pred: torch.Tensor, conf: float = 0.25, iou: float = 0.45, agnostic: bool = False,
                        multi_label: bool = True, max_det: int = 300, max_candidates: int = 30000,
                        carry: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Decoded detections (batch x N x (5+nc): cx, cy, w, h, objectness, class scores) -> per image
    rows (x1, y1, x2, y2, score, class), score = objectness x class score, best first. ``carry``
    (batch x N x k, e.g. embeddings) follows each kept row as k more columns."""
    out = []
    for b, det in enumerate(pred):
        extra = carry[b][det[:, 4] > conf] if carry is not None else det.new_zeros((int((det[:, 4] > conf).sum()), 0))
        det = det[det[:, 4] > conf]
        if not len(det):
            out.append(det.new_zeros((0, 6 + extra.shape[1])))
            continue
        boxes = xywh2xyxy(det[:, :4])
        scores = det[:, 5:] * det[:, 4:5]
        if multi_label:
            i, j = (scores > conf).nonzero(as_tuple=True)
            rows = torch.cat((boxes[i], scores[i, j, None], j[:, None].to(det.dtype), extra[i].to(det.dtype)), 1)
        else:
            best, j = scores.max(1, keepdim=True)
            rows = torch.cat((boxes, best, j.to(det.dtype), extra.to(det.dtype)), 1)[best.view(-1) > conf]
        if len(rows) > max_candidates:
            rows = rows[rows[:, 4].topk(max_candidates).indices]
        classes = torch.zeros_like(rows[:, 5]) if agnostic else rows[:, 5]
        keep = batched_nms(rows[:, :4], rows[:, 4], classes, iou, max_det)
        out.append(rows[keep])
    return out


def scale_boxes(boxes: torch.Tensor, ratio: tuple[float, float], pad: tuple[float, float],
                shape0: tuple[int, int]) -> torch.Tensor:
    """Boxes in letterboxed-input pixels -> original image pixels: undo the pad, then the
    (width, height) scale; clip to the image (shape0 = height, width)."""
    boxes = boxes.clone()
    boxes[:, [0, 2]] = ((boxes[:, [0, 2]] - pad[0]) / ratio[0]).clamp(0, shape0[1])
    boxes[:, [1, 3]] = ((boxes[:, [1, 3]] - pad[1]) / ratio[1]).clamp(0, shape0[0])
    return boxes
