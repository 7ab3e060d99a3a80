"""A detection head defined here only, registered for the test: it trains, exports (parity-checked,
anchors in the metadata) and draws without any other file knowing its name. What the workflows
need from a head is its contract (``LayerKind.head`` -> ``HeadSpec``), not its kind."""
import json

import onnx
import pytest
import torch

from yolor_cfg import api
from yolor_cfg.compiler.draw import to_dot
from yolor_cfg.compiler.graph import load_graph
from yolor_cfg.compiler.layers.base import REGISTRY, HeadSpec, LayerKind, NodeError
from yolor_cfg.compiler.modules.head import DetectHead
from yolor_cfg.compiler.options import Float, Int
from yolor_cfg.workflows.train.synth import build_synth

from tests.helpers import header
from .contract import CHECKS, check_weights_round_trip


class GridHead(LayerKind):
    """One square anchor per cell, ``cells=`` cells wide (an anchor-per-stride head)."""

    name = "grid_head"
    is_head = True
    yolor_only = True
    options = {"classes": Int(1, min=1), "cells": Float(2.0, min=0.1)}
    example = "[convolutional]\nfilters=8\nsize=1\nactivation=linear\n[grid_head]\nclasses=3\n"

    def infer(self, node, in_shapes, ctx):
        if in_shapes[0].c != node.options["classes"] + 5:
            raise NodeError(f"needs classes + 5 = {node.options['classes'] + 5} input channels")
        return in_shapes[0]

    def head(self, node, ctx):
        s = node.in_shapes[0]
        sy, sx = ctx.net_height / s.h, ctx.net_width / s.w
        side = node.options["cells"] * sx
        return HeadSpec(((side, side),), (sy, sx), node.options["classes"])

    def build(self, node, ctx):
        spec = self.head(node, ctx)
        return DetectHead(list(spec.anchors), spec.classes, spec.stride, "yolor")


CFG = header() + """
[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=silu

[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=silu

[convolutional]
filters=8
size=1
activation=linear

[grid_head]
classes=3
cells=3
"""


@pytest.fixture
def grid_head(monkeypatch):
    monkeypatch.setitem(REGISTRY, "grid_head", GridHead())
    return "grid_head"


def test_the_new_head_passes_the_registry_contract(grid_head, tmp_path):
    for check in CHECKS:
        check(grid_head)
    check_weights_round_trip(grid_head, tmp_path)


def test_the_new_head_trains_exports_and_draws(grid_head, tmp_path):
    cfg = tmp_path / "grid.cfg"
    cfg.write_text(CFG)
    data = build_synth(tmp_path / "synth", n_train=8, n_val=8, img=64, seed=3)
    run = api.train(cfg, data=str(data), epochs=1, batch=4, img=64, workers=0, project=str(tmp_path / "runs"),
                    progress=False, amp=False)
    assert run.last is not None and run.last.is_file()
    model = api.load(run.last)
    assert model.head_specs == [HeadSpec(((12.0, 12.0),), (4.0, 4.0), 3)]
    assert all(torch.isfinite(p).all() for p in model.parameters())

    report = api.export(cfg, tmp_path / "grid.onnx", weights=run.last, log=lambda *a: None)
    assert max(e for _, e in report.parity) < 1e-4
    meta = {p.key: p.value for p in onnx.load(tmp_path / "grid.onnx").metadata_props}
    assert json.loads(meta["anchors"]) == [[[12.0, 12.0]]] and json.loads(meta["strides"]) == [4.0]

    source = to_dot(load_graph(cfg)).source
    assert "3: grid_head" in source and "anchors 12,12" in source and "stride 4, 3 classes" in source
