import torch

import yolor_cfg
from yolor_cfg.workflows.train.loss import YoloLoss

from tests.helpers import shared_path


def test_loss_matches_yolor_reference():
    fixture = torch.load(shared_path("conformance", "all_layers.pt"), weights_only=True)
    ref = torch.load(shared_path("conformance", "all_layers_loss.pt"), weights_only=True)
    model = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg"))
    raw = [t.clone().requires_grad_(True) for t in fixture["train_x2"]]
    loss, items = YoloLoss(model, ref["hyp"], gr=ref["gr"])(raw, ref["targets"])
    torch.testing.assert_close(loss, ref["loss"], rtol=1e-5, atol=0)
    torch.testing.assert_close(items, ref["items_lbox_lobj_lcls_total"], rtol=1e-5, atol=1e-8)
    loss.backward()
    for ours, theirs in zip(raw, ref["grads"]):
        torch.testing.assert_close(ours.grad, theirs, rtol=1e-5, atol=1e-8)


def test_loss_without_targets_is_objectness_only():
    model = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg"))
    raw = [torch.zeros(2, 3, 16, 16, 7), torch.zeros(2, 3, 8, 8, 7)]
    hyp = {"box": 0.05, "obj": 1.0, "cls": 0.5, "cls_pw": 1.0, "obj_pw": 1.0, "anchor_t": 4.0, "fl_gamma": 0.0}
    loss, items = YoloLoss(model, hyp)(raw, torch.zeros(0, 6))
    assert items[0] == 0 and items[2] == 0 and items[1] > 0
