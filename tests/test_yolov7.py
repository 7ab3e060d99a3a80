"""yolov7 as cfg: yaml2cfg of its module set, exact against golden outputs of the yolov7 code, RepConv
folding, training-only auxiliary heads, safe import of its fp16 training checkpoints, shipped cfgs."""
from pathlib import Path

import pytest
import torch

import yolor_cfg
from yolor_cfg.compiler.model import Model
from yolor_cfg.cli import main
from yolor_cfg.deploy.formats import ExportOptions, export_onnx
from yolor_cfg.compiler.frontend import parse_text
from yolor_cfg.compiler.graph import build_graph
from yolor_cfg.compiler.io import load_state_dict
from yolor_cfg.compiler.yaml2cfg import yaml_to_cfg

from tests.helpers import assert_reproduces, shared_path

CFG = Path(__file__).resolve().parents[1] / "cfg"
MINIS = ["yolov7_mini", "yolov7_aux_mini"]


def fixture(name):
    return torch.load(shared_path("reference-arch", "yolov7", f"{name}.pt"), weights_only=True)


def converted(name) -> Model:
    text = yaml_to_cfg(shared_path("reference-arch", "yolov7", f"{name}.yaml"), 128)
    return Model(build_graph(parse_text(text, f"{name}.cfg")))


def implicit_params(state_dict) -> int:
    """The ImplicitA/M vectors of the head: yolov7's fuse() folds them but keeps them registered."""
    return sum(v.numel() for k, v in state_dict.items() if ".ia." in k or ".im." in k)


@pytest.mark.parametrize("name", MINIS)
def test_yaml2cfg_reproduces_yolov7(name):
    fx = fixture(name)
    model = converted(name)
    load_state_dict(model, fx["state_dict"], name)
    assert_reproduces(model, fx)
    model.train()
    with torch.no_grad():
        train = model(fx["x2"])  # lead heads, then the auxiliary ones
    assert len(train) == len(fx["train_x2"])
    for ours, ref in zip(train, fx["train_x2"]):
        torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("name", MINIS)
def test_fused_yolov7_is_its_deployment_network(name):
    fx = fixture(name)
    model = converted(name)
    load_state_dict(model, fx["state_dict"], name)
    model.eval()
    fused = model.fuse()
    assert not any(n.kind in ("repconv", "batchnorm", "implicit_add", "implicit_mul") for n in fused.graph.nodes)
    assert not any(n.spec.is_head and n.options.get("aux") for n in fused.graph.nodes)  # aux heads gone
    # yolov7's fuse() keeps the folded implicit vectors and the auxiliary branch registered; ours drops them
    aux = sum(v.numel() for k, v in fx["state_dict"].items() if ".m2." in k)
    expected = fx["fused_n_params"] - implicit_params(fx["state_dict"]) - aux
    assert fused.num_params() == expected if name == "yolov7_mini" else fused.num_params() < expected
    with torch.no_grad():
        ours, reference = fused(fx["x2"])[0], model(fx["x2"])[0]
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours, fx["fused_eval_x2"], atol=1e-4, rtol=1e-5)


def test_aux_heads_are_training_only_and_dropped_from_exports(tmp_path):
    fx = fixture("yolov7_aux_mini")
    model = converted("yolov7_aux_mini")
    load_state_dict(model, fx["state_dict"], "aux")
    assert model.head_is_train_only == [False] * 4 + [True] * 4 and len(model.strides) == 4
    report = export_onnx(model, tmp_path / "aux.onnx", ExportOptions())
    assert report.parity[0][1] < 1e-4 and "dce" in report.fuse_summary


@pytest.mark.parametrize("ckpt, name", [("yolov7_mini_ckpt.pt", "yolov7_mini"),
                                        ("yolov7_aux_mini_ckpt.pt", "yolov7_aux_mini")])
def test_fp16_training_checkpoint_imports_exactly(tmp_path, capsys, ckpt, name):
    fx = fixture(name)
    assert main(["import", str(shared_path("reference-arch", "yolov7", ckpt)), "--out", str(tmp_path),
                 "--img", "128"]) == 0
    out = capsys.readouterr().out
    assert "from 'ema'" in out and "float16 tensors converted to float32" in out
    model = yolor_cfg.load(tmp_path / f"{Path(ckpt).stem}.pt")
    assert_reproduces(model, fx)
    model.train()
    with torch.no_grad():
        for ours, ref in zip(model(fx["x2"]), fx["train_x2"]):
            torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-5)


# The shipped cfgs' parameter counts (yolov7's own) are checked with the zoo in test_zoo.py.


@pytest.mark.parametrize("name, deploy", [("yolov7", "deploy-yolov7.yaml"), ("yolov7_w6", "deploy-yolov7-w6.yaml")])
def test_fused_training_cfg_is_yolov7s_deployment_network(name, deploy):
    """fuse() of the training cfg has exactly the parameters of yolov7's own deployment YAML (Detect
    head, no auxiliary branch) once that is fused too: no indices, no class counts, no notebook."""
    fused = yolor_cfg.compile(CFG / f"{name}.cfg", img_size=128).eval().fuse()
    text = yaml_to_cfg(shared_path("reference-arch", "yolov7", deploy), 128)
    reference = Model(build_graph(parse_text(text, deploy))).eval().fuse()
    assert fused.num_params() == reference.num_params()
    assert [n.kind for n in fused.graph.nodes] == [n.kind for n in reference.graph.nodes]
    if name == "yolov7":  # yolov7's fuse() reports 36,907,898: it still counts the 2,557 implicit values it folded
        assert fused.num_params() == 36_907_898 - 2_557


def test_aux_heads_are_trained_at_a_quarter_weight():
    from yolor_cfg.workflows.train.hyp import DEFAULT_HYP
    from yolor_cfg.workflows.train.loss import YoloLoss

    fx = fixture("yolov7_aux_mini")
    model = converted("yolov7_aux_mini")
    load_state_dict(model, fx["state_dict"], "aux")
    model.train()
    raw = model(fx["x2"])
    targets = torch.tensor([[0, 1, 0.4, 0.5, 0.2, 0.3], [1, 2, 0.6, 0.3, 0.1, 0.2]])
    loss_fn = YoloLoss(model, DEFAULT_HYP)
    loss, _ = loss_fn(raw, targets)
    lead = loss_fn._heads_loss(raw[:4], targets, loss_fn.lead_vecs)
    aux = loss_fn._heads_loss(raw[4:], targets, loss_fn.aux_vecs)
    torch.testing.assert_close(loss, sum(a + 0.25 * b for a, b in zip(lead, aux)) * 2)  # x batch size
    loss.backward()
    aux_convs = [model.module_list[n.inputs[0]] for n in model.graph.nodes if n.spec.is_head and n.options["aux"]]
    assert len(aux_convs) == 4 and all(m.Conv2d.weight.grad.abs().sum() > 0 for m in aux_convs)
