"""The dialect comes from evidence (sections, keys, activations, weight files), never a silent guess."""
import re

import pytest
import torch

import yolor_cfg
from yolor_cfg.cli import main
from yolor_cfg.core.errors import CfgError, WeightsError
from yolor_cfg.workflows.train.loss import YoloLoss

from tests.helpers import shared_path


@pytest.fixture(scope="module")
def mini():
    return torch.load(shared_path("conformance", "yolov4_mini.pt"), weights_only=True)


def mini_text(swish=False, new_coords=False) -> str:
    text = shared_path("conformance", "yolov4_mini.cfg").read_text()
    if swish:  # the same function under the name both programs know: no evidence left
        text = text.replace("activation=silu", "activation=swish")
    if new_coords:
        text = text.replace("scale_x_y = 1.05", "scale_x_y = 1.05\nnew_coords=1")
    return text


def write(tmp_path, text, name="mini.cfg"):
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_matches_fixture(model, fx):
    model.eval()
    with torch.no_grad():
        decoded, raw = model(fx["x2"])
    torch.testing.assert_close(decoded, fx["eval_x2"], rtol=1e-4, atol=1e-4 * fx["eval_x2"].abs().max().item())
    for ours, theirs in zip(raw, fx["eval_raw_x2"]):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_yolov4_mini_without_a_dialect_argument_is_yolors(mini):
    model = yolor_cfg.compile(shared_path("conformance", "yolov4_mini.cfg"))
    assert model.graph.dialect.name == "yolor" and "activation=silu" in model.graph.dialect_reason
    model.load_state_dict(mini["state_dict"], strict=False)
    assert model.num_params() == mini["n_params"]
    assert_matches_fixture(model, mini)
    model.train()
    train = model(mini["x2"])
    for ours, theirs in zip(train, mini["train_x2"]):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5 * theirs.abs().max().item())
    raw = [t.detach().clone().requires_grad_(True) for t in mini["train_x2"]]
    loss, items = YoloLoss(model, mini["hyp"])(raw, mini["targets"])
    torch.testing.assert_close(loss, mini["loss"], rtol=1e-5, atol=0)
    torch.testing.assert_close(items, mini["items"], rtol=1e-5, atol=1e-8)
    loss.backward()
    for ours, theirs in zip(raw, mini["grads"]):
        torch.testing.assert_close(ours.grad, theirs, rtol=1e-5, atol=1e-8)


def test_swish_and_new_coords_read_as_darknet(tmp_path):
    graph = yolor_cfg.load_graph(write(tmp_path, mini_text(swish=True, new_coords=True)))
    assert graph.dialect.name == "darknet" and graph.dialect_choice.source == "evidence"
    assert "new_coords= in [yolo] is a Darknet key that YOLOR's cfg parser rejects" in graph.dialect_reason


def test_no_evidence_is_said_in_info_and_check(tmp_path, capsys):
    path = write(tmp_path, mini_text(swish=True))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr()
    assert "dialect: darknet (no evidence: Darknet semantics assumed" in out.out
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"mini\.cfg:\d+:1: warning: no dialect evidence in this file: Darknet semantics assumed", out)
    assert main(["check", str(shared_path("conformance", "yolov4_mini.cfg"))]) == 0
    assert "yolov4_mini.cfg: ok (dialect yolor: detected from line 21: activation=silu" in capsys.readouterr().out


def test_info_lists_the_evidence(capsys):
    assert main(["info", str(shared_path("conformance", "yolov4_mini.cfg"))]) == 0
    out = capsys.readouterr().out
    assert "dialect: yolor (detected from line 21: activation=silu is YOLOR's spelling" in out
    assert re.search(r"evidence: \S*yolov4_mini\.cfg:21: activation=silu", out)
    assert main(["info", str(shared_path("conformance", "yolov4_mini.cfg")), "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["dialect_source"] == "evidence" and info["dialect_evidence"][0] == {
        "dialect": "yolor", "line": 21, "what": "activation=silu is YOLOR's spelling (Darknet knows this function "
                                                 "only as swish)"}


def test_conflicting_evidence_in_a_file_is_an_error_naming_both(tmp_path):
    text = mini_text(new_coords=True)  # silu (YOLOR) and new_coords (Darknet)
    with pytest.raises(CfgError) as info:
        yolor_cfg.load_graph(write(tmp_path, text))
    [diag] = info.value.diagnostics
    assert "conflicting dialect evidence" in diag.message and "mini.cfg:21: activation=silu" in diag.message
    assert "new_coords=" in diag.message and "[net] dialect=yolor|darknet" in diag.message
    assert yolor_cfg.load_graph(write(tmp_path, text), dialect="darknet").dialect.name == "darknet"
    assert yolor_cfg.load_graph(write(tmp_path, text.replace("[net]", "[net]\ndialect=yolor", 1))).dialect.name == "yolor"


@pytest.fixture
def yolor_pt(tmp_path, mini):
    path = tmp_path / "yolor.pt"
    torch.save({"epoch": 3, "model": mini["state_dict"]}, path)  # as YOLOR's train.py saves state dicts
    return path


def test_yolor_weights_switch_a_model_without_evidence(tmp_path, yolor_pt, mini):
    model = yolor_cfg.compile(write(tmp_path, mini_text(swish=True)))
    assert model.graph.dialect.name == "darknet"
    model.load_weights(yolor_pt)
    assert model.graph.dialect.name == "yolor" and model.graph.dialect_choice.source == "weights"
    assert "YOLOR PyTorch weights (module_list.N.* keys)" in model.graph.dialect_reason
    assert_matches_fixture(model, mini)


def test_yolor_weights_into_darknet_evidence_is_a_conflict(tmp_path, yolor_pt):
    model = yolor_cfg.compile(write(tmp_path, mini_text(swish=True, new_coords=True)))
    with pytest.raises(WeightsError, match=r"mini\.cfg:\d+: new_coords= in \[yolo\].* means darknet, but "
                                           r".*yolor\.pt: YOLOR PyTorch weights .* means yolor; .*dialect="):
        model.load_weights(yolor_pt)
    assert model.graph.dialect.name == "darknet"


def test_darknet_weights_of_a_yolor_cfg_round_trip(tmp_path):
    """convert writes YOLOR cfgs' weights in Darknet's container; reading them back needs no --dialect:
    the format decides only a dialect that was assumed for want of evidence."""
    model = yolor_cfg.compile(shared_path("conformance", "yolov4_mini.cfg"))
    path = tmp_path / "mini.weights"
    model.save_weights(path)
    again = yolor_cfg.compile(shared_path("conformance", "yolov4_mini.cfg"))
    again.load_weights(path)
    assert again.graph.dialect.name == "yolor" and again.graph.dialect_choice.source == "evidence"
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    plain = yolor_cfg.compile(write(tmp_path, mini_text(swish=True)))
    plain.load_weights(path)  # no evidence: Darknet's format keeps Darknet's semantics
    assert plain.graph.dialect.name == "darknet" and plain.graph.dialect_choice.source == "weights"


def test_weights_of_another_network_are_named_as_such(tmp_path):
    other = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg"))
    path = tmp_path / "other.weights"
    other.save_weights(path)
    with pytest.raises(WeightsError) as info:
        yolor_cfg.compile(shared_path("conformance", "yolov4_mini.cfg")).load_weights(path)
    assert "dialect" not in str(info.value)


def test_the_users_dialect_is_never_switched(tmp_path, yolor_pt):
    model = yolor_cfg.compile(write(tmp_path, mini_text(swish=True, new_coords=True)), dialect="darknet")
    model.load_weights(yolor_pt)
    assert model.graph.dialect.name == "darknet" and model.graph.dialect_choice.source == "user"


def test_a_failed_load_restores_the_model(tmp_path, mini):
    model = yolor_cfg.compile(write(tmp_path, mini_text(swish=True)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bad = tmp_path / "bad.pt"
    torch.save({k: v for k, v in list(mini["state_dict"].items())[1:]}, bad)
    with pytest.raises(WeightsError, match="missing tensor layer 0"):
        model.load_weights(bad)
    assert model.graph.dialect.name == "darknet"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
