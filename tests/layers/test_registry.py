"""The layer-kind contract, checked for every registered kind through its own ``example`` snippet:
it parses, infers, builds, runs forward and backward; its Darknet layout names its module's
tensors with their sizes; ``num_params`` counts the module; ``.weights`` and ``.pt`` round-trip."""
import math

import pytest
import torch

import yolor_cfg
from yolor_cfg.backends.torch_exec import CompiledModel
from yolor_cfg.frontend import parse_text
from yolor_cfg.graph import build_graph
from yolor_cfg.io import save_darknet_weights
from yolor_cfg.layers.base import REGISTRY

PREFIX = ("[net]\nwidth=32\nheight=32\nchannels=3\n"
          "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=leaky\n")


def example_model(kind: str) -> CompiledModel:
    spec = REGISTRY[kind]
    assert spec.example, f"[{kind}] has no example snippet (LayerKind.example)"
    text = PREFIX + spec.example
    graph = build_graph(parse_text(text, f"<{kind} example>"), dialect="yolor" if spec.yolor_only else "darknet")
    assert any(n.kind == kind for n in graph.nodes), f"the example of [{kind}] does not use it"
    torch.manual_seed(0)
    model = CompiledModel(graph)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # away from the initial values, so round trips show
    return model


def _outputs(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _outputs(item)] if isinstance(out, (list, tuple)) else []


@pytest.fixture(params=sorted(REGISTRY), ids=str)
def kind(request):
    return request.param


def test_example_runs_forward_and_backward(kind):
    model = example_model(kind).train()
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    loss = sum(t.float().square().mean() for t in _outputs(model(x)))
    loss.backward()
    assert torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        assert all(torch.isfinite(t).all() for t in _outputs(model(torch.rand(1, 3, 32, 32))))


def test_layout_and_param_count_match_the_module(kind):
    model = example_model(kind)
    for node, module in zip(model.graph.nodes, model.module_list):
        if node.kind != kind:
            continue
        state = module.state_dict()
        for name, shape in node.spec.darknet_layout(node):
            assert name in state, f"[{kind}] layout names {name}, the module has {sorted(state)}"
            assert tuple(state[name].shape) == tuple(shape), (kind, name)
        layout = {name for name, _ in node.spec.darknet_layout(node)}
        trainable = {n for n, p in module.named_parameters() if p.requires_grad}
        assert trainable <= layout, f"[{kind}] parameters {trainable - layout} are not in its Darknet layout"
        counted = sum(p.numel() for p in module.parameters() if p.requires_grad)
        assert node.spec.num_params(node) == counted, kind
        assert sum(math.prod(s) for _, s in node.spec.darknet_layout(node)) >= counted


def test_weights_and_pt_round_trip(kind, tmp_path):
    model = example_model(kind)
    save_darknet_weights(model, tmp_path / "m.weights")
    model.save_weights(tmp_path / "m.pt")
    again = CompiledModel(model.graph)
    again.load_weights(tmp_path / "m.weights")
    layout = {f"module_list.{n.index}.{name}" for n in model.graph.nodes for name, _ in n.spec.darknet_layout(n)}
    for key in layout:
        assert torch.equal(again.state_dict()[key], model.state_dict()[key]), key
    loaded = yolor_cfg.load(tmp_path / "m.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_a_kind_registered_for_a_test_is_covered(monkeypatch):
    """The contract holds for a kind defined outside the package (as a new section would be)."""
    from yolor_cfg.layers.conv import Convolutional

    class Conv3(Convolutional):
        name = "conv3"
        aliases = ()
        example = "[conv3]\nbatch_normalize=1\nfilters=4\nsize=3\npad=1\nactivation=silu\n"

    monkeypatch.setitem(REGISTRY, "conv3", Conv3())
    test_example_runs_forward_and_backward("conv3")
    test_layout_and_param_count_match_the_module("conv3")
