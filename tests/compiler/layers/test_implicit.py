"""The three ways to model implicit knowledge (vector, nn, mf) and the multi-label head."""
import numpy as np
import onnx
import pytest
import torch

import yolor_cfg
from yolor_cfg.workflows.eval.coco import average_precision, multilabel_map
from yolor_cfg.deploy.formats import ExportOptions, export_onnx
from yolor_cfg.compiler.io import load_darknet_weights, save_darknet_weights
from yolor_cfg.workflows.train.loss import MultiLabelLoss, image_labels

from tests.helpers import header

FORMS = {"vector": "", "nn": "model=nn\n", "mf": "model=mf\natoms=4\n", "nmf": "model=mf\natoms=4\nnonneg=1\n",
         "masked": "learn=2,3\nperiod=8\n"}


def cfg_text(form: str) -> str:
    extra = FORMS[form]
    return (header(32, 32, dialect="yolor")
            + "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=silu\n"     # 0
            f"[implicit_add]\nfilters=8\n{extra}"                                                    # 1
            f"[implicit_mul]\nfilters=16\n{extra}"                                                   # 2
            f"[implicit_cat]\nfilters=8\n{extra}"                                                    # 3
            "[route]\nlayers=0\n[shift_channels]\nfrom=1\n"                                          # 4 5
            "[alternate_channels]\nfrom=3\n"                                                         # 6
            "[convolutional]\nfilters=16\nsize=1\nactivation=linear\n"                               # 7
            "[control_channels]\nfrom=2\n[avgpool]\n")                                               # 8 9


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_folds_exactly(form):
    model = yolor_cfg.compile(cfg_text(form)).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        for p in model.parameters():  # move away from the initial values
            p.add_(torch.randn_like(p) * 0.1)
        ref = model(x)
        fused = model.fuse()
        out = fused(x)
    assert float((out - ref).abs().max()) <= 1e-5
    vector = yolor_cfg.compile(cfg_text("vector")).fuse()
    assert fused.num_params() == vector.num_params()
    assert not any(n.spec.implicit_source for n in fused.graph.nodes)


@pytest.mark.parametrize("form, names", [("nn", {"prior", "W"}), ("mf", {"Z", "c"}), ("nmf", {"Z", "c"})])
def test_gradients_reach_the_factors(form, names):
    model = yolor_cfg.compile(cfg_text(form)).train()
    model(torch.rand(2, 3, 32, 32)).square().mean().backward()
    grads = {name.rsplit(".", 1)[1]: p.grad for name, p in model.named_parameters() if name.startswith("module_list.1.")}
    assert set(grads) == names and all(g is not None and g.abs().sum() > 0 for g in grads.values())


def test_initial_values_follow_section_4_3():
    torch.manual_seed(0)
    for form in ("vector", "nn", "mf"):
        model = yolor_cfg.compile(cfg_text(form))
        add, mul = model.module_list[1]().detach(), model.module_list[2]().detach()
        assert add.abs().mean() < 0.05 and (mul - 1).abs().mean() < 0.05, form


def test_weights_files_store_the_factors(tmp_path):
    model = yolor_cfg.compile(cfg_text("nn"))
    assert [a for a, _ in model.graph.nodes[1].spec.darknet_layout(model.graph.nodes[1])] == ["prior", "W"]
    save_darknet_weights(model, tmp_path / "nn.weights")
    again = yolor_cfg.compile(cfg_text("nn"))
    load_darknet_weights(again, tmp_path / "nn.weights")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_onnx_has_no_trace_of_the_factors(tmp_path):
    model = yolor_cfg.compile(cfg_text("mf")).eval()
    export_onnx(model, tmp_path / "mf.onnx", ExportOptions())
    shapes = {tuple(i.dims) for i in onnx.load(str(tmp_path / "mf.onnx")).graph.initializer}
    assert (4, 8) not in shapes and (4, 16) not in shapes and (4,) not in shapes


def test_multilabel_map_hand_computed():
    # class 0: scores .9 (pos) .8 (neg) .7 (pos) .1 (neg): precision at the positives 1 and 2/3 -> AP 5/6
    # class 1: one positive ranked second: AP 1/2;  class 2: no positive image -> not counted
    scores = np.array([[0.9, 0.2, 0.5], [0.8, 0.9, 0.1], [0.7, 0.3, 0.2], [0.1, 0.1, 0.3]])
    labels = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 0]])
    mean, per_class = multilabel_map(scores, labels)
    assert per_class[0] == pytest.approx(5 / 6) and per_class[1] == pytest.approx(1 / 2) and per_class[2] is None
    assert mean == pytest.approx((5 / 6 + 1 / 2) / 2)
    # ties are scored together: two images at 0.5, one positive -> precision 1/2 at recall 1
    assert average_precision(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)


def test_multilabel_head_trains_jointly():
    cfg = cfg_text("vector").replace("[avgpool]\n", "") + (
        "[convolutional]\nfilters=24\nsize=1\nactivation=linear\n"
        "[yolo]\nmask=0,1,2\nanchors=4,4, 8,8, 16,16\nclasses=3\nnum=3\n"
        "[multilabel]\nfrom=0\nclasses=3\nimplicit=both\n")
    model = yolor_cfg.compile(cfg).train()
    raw, aux = model(torch.rand(2, 3, 32, 32))
    logits = aux["multilabel"]
    assert logits.shape == (2, 3) and len(raw) == 1
    targets = torch.tensor([[0, 2, 0.5, 0.5, 0.2, 0.2], [1, 0, 0.3, 0.3, 0.1, 0.1]])
    assert image_labels(targets, 2, 3).tolist() == [[0, 0, 1], [1, 0, 0]]
    loss = MultiLabelLoss({"mlc": 0.5})(logits, targets)
    loss.backward()
    head = model.module_list[-1]
    assert head.Linear.weight.grad.abs().sum() > 0 and head.ia.grad is not None and head.im.grad is not None
    model.eval()
    dets, raw, extras = model(torch.rand(1, 3, 32, 32))
    scores = extras["class_scores"]
    assert scores.shape == (1, 3) and ((scores > 0) & (scores < 1)).all()


def test_the_jdc_head_survives_fusion_and_is_exported(tmp_path):
    """iJDC folds into the [multilabel] classifier (fold_own_implicit), dce keeps the head, and the ONNX
    export carries its probabilities as class_scores beside the detections."""
    from yolor_cfg.deploy.formats import ExportOptions, export_onnx
    from yolor_cfg.deploy.runtimes import open_artifact

    cfg = cfg_text("vector").replace("[avgpool]\n", "") + (
        "[convolutional]\nfilters=24\nsize=1\nactivation=linear\n"
        "[yolo]\nmask=0,1,2\nanchors=4,4, 8,8, 16,16\nclasses=3\nnum=3\n"
        "[multilabel]\nfrom=0\nclasses=3\nimplicit=both\n")
    model = yolor_cfg.compile(cfg).eval()
    with torch.no_grad():
        model.module_list[-1].ia.normal_(0, 0.5)
        model.module_list[-1].im.uniform_(0.5, 1.5)
    fused = model.fuse()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)[2]["class_scores"]
        torch.testing.assert_close(fused(x)[2]["class_scores"], ref, atol=1e-6, rtol=1e-5)
    assert fused.module_list[-1].ia is None
    export_onnx(model, tmp_path / "jdc.onnx", ExportOptions(dynamic=True))
    got = open_artifact(tmp_path / "jdc.onnx")(x).class_scores
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
