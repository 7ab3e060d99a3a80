"""The PyTorch backend against the YOLOR reference implementation's golden outputs."""
import pytest
import torch

import yolor_cfg
from yolor_cfg.compiler.executor import release_schedule

from tests.helpers import assert_close, shared_path


@pytest.fixture(scope="module")
def fixture():
    return torch.load(shared_path("conformance", "all_layers.pt"), weights_only=True)


@pytest.fixture(scope="module")
def model(fixture):
    m = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg"))
    from yolor_cfg.compiler.io import load_state_dict

    load_state_dict(m, fixture["state_dict"])
    return m


def test_parameter_count(model, fixture):
    assert model.num_params() == fixture["n_params"] == 79492


def test_eval_outputs_match_reference(model, fixture):
    model.eval()
    with torch.no_grad():
        for key in ("x1", "x2"):
            dets, _ = model(fixture[key])
            assert_close(dets, fixture[f"eval_{key}"], f"eval_{key}")
        _, raw = model(fixture["x2"])
    assert len(raw) == len(fixture["eval_raw_x2"]) == 2
    for ours, ref in zip(raw, fixture["eval_raw_x2"]):
        assert_close(ours, ref, "eval_raw_x2")


def test_train_outputs_match_reference(model, fixture):
    model.train()
    try:
        with torch.no_grad():
            raw = model(fixture["x2"])
    finally:
        model.eval()
    for ours, ref in zip(raw, fixture["train_x2"]):
        assert_close(ours, ref, "train_x2")


def test_trace_returns_every_layer(model, fixture):
    outs = model.eval().trace(fixture["x1"])
    assert len(outs) == len(model.graph.nodes)
    assert all(o.shape[1:] == torch.Size(n.shape.as_list()) or n.spec.is_head or n.kind.startswith("implicit")
               for o, n in zip(outs, model.graph.nodes))


def test_executor_frees_outputs_after_last_use(model):
    schedule = release_schedule(model.graph)
    freed = [j for step in schedule for j in step]
    assert len(freed) == len(set(freed)) == len(model.graph.nodes) - 1  # all but the final output
    consumers = model.graph.consumers()
    for step, released in enumerate(schedule):
        for j in released:
            assert all(c <= step for c in consumers[j])


@pytest.mark.parametrize("name", ["yolov3", "yolov3-tiny", "yolov4", "yolov4-tiny", "yolov4-csp"])
def test_darknet_reference_cfgs_compile_and_run(name):
    m = yolor_cfg.compile(shared_path("reference-cfg", "darknet", f"{name}.cfg"), img_size=128).eval()
    with torch.no_grad():
        dets, raw = m(torch.rand(1, 3, 128, 128))
    assert dets.shape[0] == 1 and dets.shape[2] == 85 and torch.isfinite(dets).all()
    assert sum(r.shape[1] * r.shape[2] * r.shape[3] for r in raw) == dets.shape[1]


def test_float64_and_other_input_sizes(model, fixture):
    m = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg"), img_size=(64, 96)).double().eval()
    with torch.no_grad():
        dets, raw = m(torch.rand(1, 3, 64, 96, dtype=torch.float64))
    assert dets.dtype == torch.float64 and raw[0].shape[2:4] == (8, 12)
