"""NMS against a slow, obviously-correct reference on random boxes, with classes and ties."""
import pytest
import torch

from yolor_cfg.workflows.eval.nms import batched_nms, box_iou, nms, non_max_suppression


def reference(boxes, scores, classes, threshold):
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    kept = []
    for i in order:
        if all(int(classes[j]) != int(classes[i]) or float(box_iou(boxes[i:i + 1], boxes[j:j + 1])) <= threshold
               for j in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [0, 1, 7, 120])
def test_matches_reference(seed, n):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 50 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    scores = (torch.rand(n, generator=g) * 10).round() / 10  # many exact ties
    classes = torch.randint(0, 3, (n,), generator=g)
    assert batched_nms(boxes, scores, classes, 0.45).tolist() == reference(boxes, scores, classes, 0.45)
    assert nms(boxes, scores, 0.45).tolist() == reference(boxes, scores, torch.zeros(n), 0.45)


def test_class_aware_and_max_det():
    boxes = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert batched_nms(boxes, scores, torch.tensor([0, 0, 0]), 0.5).tolist() == [0]
    assert nms(boxes, scores, 0.99, max_keep=2).tolist() == [0, 2]  # 1 is identical to 0: IoU 1 > 0.99


def test_non_max_suppression_rows():
    pred = torch.zeros(1, 3, 7)
    pred[0, :, :4] = torch.tensor([[50, 50, 20, 20], [51, 50, 20, 20], [150, 150, 30, 30.0]])
    pred[0, :, 4] = torch.tensor([0.9, 0.8, 0.6])
    pred[0, :, 5:] = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]])
    [rows] = non_max_suppression(pred, conf=0.25, iou=0.45)
    expect = torch.tensor([[40, 40, 60, 60, 0.81, 0], [135, 135, 165, 165, 0.48, 1.0]])
    torch.testing.assert_close(rows, expect)
