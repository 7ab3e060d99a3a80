"""The layer-kind contract as plain checks, for every registered kind (test_registry.py) and for
kinds that tests define outside the package."""
import math

import torch

import yolor_cfg
from yolor_cfg.compiler.frontend import parse_text
from yolor_cfg.compiler.graph import build_graph
from yolor_cfg.compiler.io import save_darknet_weights
from yolor_cfg.compiler.layers.base import REGISTRY, HeadSpec
from yolor_cfg.compiler.model import Model

from tests.helpers import header

PREFIX = (header(32, 32)
          + "[convolutional]\nbatch_normalize=1\nfilters=8\nsize=3\npad=1\nactivation=leaky\n")


def example_model(kind: str) -> Model:
    spec = REGISTRY[kind]
    assert spec.example, f"[{kind}] has no example snippet (LayerKind.example)"
    text = PREFIX + spec.example
    graph = build_graph(parse_text(text, f"<{kind} example>"), dialect="yolor" if spec.yolor_only else "darknet")
    assert any(n.kind == kind for n in graph.nodes), f"the example of [{kind}] does not use it"
    torch.manual_seed(0)
    model = Model(graph)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # away from the initial values, so round trips show
    return model


def _outputs(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _outputs(item)] if isinstance(out, (list, tuple)) else []


def check_forward_backward(kind):
    model = example_model(kind).train()
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    loss = sum(t.float().square().mean() for t in _outputs(model(x)))
    loss.backward()
    assert torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        assert all(torch.isfinite(t).all() for t in _outputs(model(torch.rand(1, 3, 32, 32))))


def check_layout_and_param_count(kind):
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


def check_weights_round_trip(kind, tmp_path):
    model = example_model(kind)
    save_darknet_weights(model, tmp_path / "m.weights")
    model.save_weights(tmp_path / "m.pt")
    again = Model(model.graph)
    again.load_weights(tmp_path / "m.weights")
    layout = {f"module_list.{n.index}.{name}" for n in model.graph.nodes for name, _ in n.spec.darknet_layout(n)}
    for key in layout:
        assert torch.equal(again.state_dict()[key], model.state_dict()[key]), key
    loaded = yolor_cfg.load(tmp_path / "m.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def check_batchnorm_can_be_dropped(kind):
    """A kind whose affine_conv names a BatchNorm must build without it after drop_batchnorm."""
    model = example_model(kind)
    for node in model.graph.nodes:
        conv = node.spec.affine_conv(node) if node.kind == kind else None
        if conv is not None and conv.batchnorm:
            node.spec.drop_batchnorm(node)
            assert node.spec.affine_conv(node).batchnorm is None, kind


def check_head_contract(kind):
    model = example_model(kind)
    for node, spec in zip(model.graph.heads, model.graph.head_specs()):
        assert isinstance(spec, HeadSpec), f"[{node.kind}] is a head but its head() says nothing"
        assert spec.outputs * len(spec.anchors) == node.in_shapes[0].c


CHECKS = (check_forward_backward, check_layout_and_param_count, check_batchnorm_can_be_dropped, check_head_contract)
