"""What passes work on: a graph plus its tensors, and what they report."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from ..graph import Graph
from ..layers.base import STATE_KEY, Node



@dataclass
class WeightedGraph:
    """A graph and its tensors, keyed by layer index then attribute ('Conv2d.weight', ...)."""

    graph: Graph
    params: dict[int, dict[str, torch.Tensor]]

    @classmethod
    def from_model(cls, model) -> WeightedGraph:
        params: dict[int, dict[str, torch.Tensor]] = {n.index: {} for n in model.graph.nodes}
        for key, value in model.state_dict().items():
            m = STATE_KEY.match(key)
            params[int(m.group(1))][m.group(2)] = value.detach().clone()
        return cls(model.graph, params)

    def copy(self) -> WeightedGraph:
        graph = copy.copy(self.graph)
        graph.nodes = [copy.copy(n) for n in self.graph.nodes]
        for n in graph.nodes:
            n.options = dict(n.options)
            n.derived = dict(n.derived)
            n.inputs = list(n.inputs)
            n.in_shapes = list(n.in_shapes)
        return WeightedGraph(graph, {i: dict(p) for i, p in self.params.items()})

    @property
    def nodes(self) -> list[Node]:
        return self.graph.nodes

    def consumers(self, index: int) -> list[int]:
        return [n.index for n in self.nodes if index in n.inputs]

    def replace_uses(self, old: int, new: int) -> None:
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]

    def remove(self, doomed: set[int]) -> None:
        """Drop nodes (nothing may still read them) and renumber the rest in order."""
        keep = [n for n in self.nodes if n.index not in doomed]
        renumber = {n.index: i for i, n in enumerate(keep)}
        renumber[-1] = -1
        params = {}
        for n in keep:
            params[renumber[n.index]] = self.params[n.index]
            n.inputs = [renumber[i] for i in n.inputs]
            n.index = renumber[n.index]
        self.graph.nodes = keep
        self.params = params

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"module_list.{i}.{k}": v for i, p in self.params.items() for k, v in p.items()}


@dataclass
class PassResult:
    wg: WeightedGraph
    rewrites: list[str] = field(default_factory=list)
    declined: list[tuple[int, str]] = field(default_factory=list)  # (cfg layer index, why)

    @property
    def changed(self) -> bool:
        return bool(self.rewrites)


def conv_weight_bias(p: dict, conv) -> tuple[torch.Tensor, torch.Tensor]:
    """W and b of a layer with the affine_conv capability (b is zero when the layer has none)."""
    w = p[conv.weight]
    return w, p.get(conv.bias, torch.zeros(w.shape[0], dtype=w.dtype))


def set_conv(wg, node, conv, weight: torch.Tensor, bias: torch.Tensor) -> None:
    """Give ``node`` new W and b (and no BatchNorm: whatever it had is in W and b now)."""
    wg.params[node.index] = {conv.weight: weight, conv.bias: bias}
    if conv.batchnorm:
        node.spec.drop_batchnorm(node)


def has_batchnorm_tensors(p: dict) -> bool:
    return any(k.endswith("running_var") for k in p)


def describe(node: Node) -> str:
    return node.describe()


def only_consumer(wg: WeightedGraph, index: int) -> int | None:
    users = wg.consumers(index)
    return users[0] if len(users) == 1 else None
