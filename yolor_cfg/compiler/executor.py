"""PyTorch backend: the executor that runs a graph's layers in order.

A layer's output is kept only while a later layer still needs it (the schedule is computed
once from the graph), so peak memory is that of the live tensors, not of every layer.
"""
from __future__ import annotations


import torch
import torch.nn as nn

from .graph import Graph


def release_schedule(graph: Graph) -> list[tuple[int, ...]]:
    """For each step i, the layer outputs that no layer after i reads (freed after step i)."""
    n = len(graph.nodes)
    last_use = list(range(n))
    for node in graph.nodes:
        for j in node.inputs:
            if j >= 0:
                last_use[j] = max(last_use[j], node.index)
    last_use[n - 1] = n  # the final output is returned
    schedule: list[list[int]] = [[] for _ in range(n)]
    for j, step in enumerate(last_use):
        if step < n:
            schedule[step].append(j)
    return [tuple(s) for s in schedule]


class CompiledModel(nn.Module):
    """A network compiled from a cfg.

    eval:  ``model(x) -> (detections, raw)`` for detectors (detections: batch x N x (5+nc),
           boxes as centre x, centre y, width, height in input pixels; raw: one tensor per head,
           batch x anchors x H x W x (5+nc)); the last layer's output for classifiers.
    train: ``model(x) -> raw`` (list per head) for detectors.
    """

    def __init__(self, graph: Graph):
        super().__init__()
        self.graph = graph
        ctx = graph.context()
        self.module_list = nn.ModuleList([node.spec.build(node, ctx) for node in graph.nodes])
        self._index_graph(graph)

    def replace_graph(self, graph: Graph, module_list: nn.ModuleList | None = None) -> tuple[Graph, nn.ModuleList]:
        """Swap in ``graph`` (same layers, e.g. another dialect) with new modules, or with ``module_list``
        (to restore an earlier pair); keeps device, dtype and train/eval. Returns the previous pair."""
        previous = (self.graph, self.module_list)
        if module_list is None:
            ref = next(iter(self.parameters()), None)
            ctx = graph.context()
            module_list = nn.ModuleList([node.spec.build(node, ctx) for node in graph.nodes])
            if ref is not None:
                module_list.to(device=ref.device, dtype=ref.dtype)
            module_list.train(self.training)
        self.graph, self.module_list = graph, module_list
        self._index_graph(graph)
        return previous

    def _index_graph(self, graph: Graph) -> None:
        self._inputs = [tuple(node.inputs) for node in graph.nodes]
        self._is_head = [node.spec.is_head for node in graph.nodes]
        # training-only heads (yolov7's auxiliary heads): skipped at inference
        self._train_only = [node.spec.is_head and not node.spec.inference_output(node) for node in graph.nodes]
        self._aux = [node.spec if node.spec.aux_output is not None else None for node in graph.nodes]
        self._release = release_schedule(graph)
        self.head_specs = graph.head_specs()  # every head's contract, training-only heads included

    # ---- running ----
    def run_layers(self, x: torch.Tensor, keep_all: bool = False):
        """(every layer's output (None once freed unless keep_all), decoded head outputs, raw head outputs,
        {aux output name: value} of the layers with an ``aux_output``): what forward, trace and the
        exporter build on."""
        outs: list = [None] * len(self.module_list)
        decoded, raw = [], []
        aux = {}
        for i, module in enumerate(self.module_list):
            if self._train_only[i] and not self.training:
                continue
            y = module(*[x if j < 0 else outs[j] for j in self._inputs[i]])
            if self._is_head[i]:
                if isinstance(y, tuple):
                    decoded.append(y[0])
                    y = y[1]
                raw.append(y)
            if self._aux[i] is not None:
                aux[self._aux[i].aux_output] = y
            outs[i] = y
            if not keep_all:
                for j in self._release[i]:
                    outs[j] = None
        return outs, decoded, raw, aux

    def inference_aux(self, aux: dict, raw: list) -> dict:
        """The aux outputs as inference returns them: {'class_scores': probabilities, 'embeddings': one per
        detection, ...}, each computed by its layer's kind."""
        kinds = {spec.aux_output: spec for spec in self._aux if spec is not None}
        return dict(kinds[name].inference_aux(value, raw) for name, value in aux.items())

    def forward(self, x: torch.Tensor):
        """See the class docstring; a graph with aux outputs ([multilabel], [embedding]) also returns them:
        train ``(raw, {name: value})``, eval ``(detections, raw, {name: value})`` (``inference_aux``)."""
        outs, decoded, raw, aux = self.run_layers(x, keep_all=False)
        if not raw:
            return outs[-1]
        if self.training:
            return (raw, aux) if aux else raw
        if not aux:
            return torch.cat(decoded, 1), raw
        return torch.cat(decoded, 1), raw, self.inference_aux(aux, raw)

    @torch.no_grad()
    def live_bytes(self, x: torch.Tensor, keep_all: bool = False) -> int:
        """Peak bytes of layer outputs alive at once while running ``x`` (weights excluded):
        this executor frees each output after its last reader; keep_all=True measures an executor
        that keeps every output (as the YOLOR reference code keeps its routed layers and more)."""
        outs: list = [None] * len(self.module_list)
        params = {p.data_ptr() for p in self.parameters()}
        peak = 0
        for i, module in enumerate(self.module_list):
            y = module(*[x if j < 0 else outs[j] for j in self._inputs[i]])
            outs[i] = y[1] if isinstance(y, tuple) else y
            storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in outs
                        if isinstance(t, torch.Tensor) and t.data_ptr() not in params}
            peak = max(peak, sum(storages.values()))
            if not keep_all:
                for j in self._release[i]:
                    outs[j] = None
        return peak

    def trace(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output, indexed like the cfg's layers (heads: their raw tensor)."""
        return self.run_layers(x, keep_all=True)[0]

    # ---- facts ----
    @property
    def heads(self):
        """Every head module, in the order of the training outputs (training-only heads included)."""
        return [m for m, h in zip(self.module_list, self._is_head) if h]

    @property
    def head_is_train_only(self) -> list[bool]:
        return [h.train_only for h in self.head_specs]

    @property
    def inference_heads(self):
        return [m for m, h, t in zip(self.module_list, self._is_head, self._train_only) if h and not t]

    @property
    def inference_head_inputs(self) -> list[int]:
        """The layers whose outputs the inference heads read, in head order."""
        return [self._inputs[i][0] for i, (h, t) in enumerate(zip(self._is_head, self._train_only)) if h and not t]

    @property
    def aux_outputs(self) -> list[str]:
        """Names of the aux outputs at inference ('class_scores', 'embeddings'), in layer order."""
        return [spec.aux_inference or spec.aux_output for spec in self._aux if spec is not None]

    @property
    def inference_head_specs(self):
        return [h for h in self.head_specs if not h.train_only]

    @property
    def strides(self) -> list[float]:
        return [h.stride[0] for h in self.inference_head_specs]

    @property
    def num_classes(self) -> int:
        return self.head_specs[0].classes if self.head_specs else self.graph.nodes[-1].shape.c

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def head_decoder(graph: Graph):
    """The inference heads of ``graph`` as a function: the maps they read (NCHW arrays or tensors, in head
    order) -> decoded detections, batch x N x (5 + classes), exactly as the model returns them in eval
    mode. For artifacts that run the network without its heads (an all-integer LiteRT model), whose
    runtime then decodes in float."""
    ctx = graph.context()
    heads = [node.spec.build(node, ctx).eval() for node in graph.nodes
             if node.spec.is_head and node.spec.inference_output(node)]

    def decode(maps) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([head(torch.as_tensor(m, dtype=torch.float32))[0] for head, m in zip(heads, maps)], 1)

    return decode
