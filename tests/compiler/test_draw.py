"""``draw``: one node per layer, one edge per input, implicit layers marked, valid SVG/PNG."""
import shutil
import xml.etree.ElementTree as ET

import pytest

from yolor_cfg.cli import main
from yolor_cfg.compiler.draw import render, to_dot
from yolor_cfg.compiler.graph import load_graph

from tests.helpers import shared_path


def count(dot_source: str):
    nodes = [line for line in dot_source.splitlines() if line.strip() and "->" not in line and "[label=" in line]
    edges = [line for line in dot_source.splitlines() if "->" in line]
    return nodes, edges


def test_dot_has_a_node_per_layer_and_an_edge_per_input():
    graph = load_graph(shared_path("conformance", "all_layers.cfg"))
    source = to_dot(graph).source
    nodes, edges = count(source)
    assert len(nodes) == len(graph.nodes) + 1  # + the input
    assert len(edges) == sum(len(n.inputs) for n in graph.nodes)
    implicit_nodes = [line for line in nodes if "implicit_" in line]
    assert len(implicit_nodes) == 6 and all("#fde0dd" in line for line in implicit_nodes)
    assert sum("dotted" in e for e in edges) == 5  # layers 19-23 feed one layer each; 24 is unused
    assert "stride 8, 2 classes" in source and "anchors 8,10 14,20 30,24" in source


def test_fused_graph_has_fewer_nodes(tmp_path, capsys):
    cfg = str(shared_path("conformance", "all_layers.cfg"))
    assert main(["draw", cfg, "--out", str(tmp_path / "a.dot")]) == 0
    assert main(["draw", cfg, "--fused", "--out", str(tmp_path / "b.dot")]) == 0
    plain, _ = count((tmp_path / "a.dot").read_text())
    fused, _ = count((tmp_path / "b.dot").read_text())
    assert len(fused) < len(plain) and "fused: fold_bn" in (tmp_path / "b.dot").read_text()


def test_collapse_groups_repeated_residual_blocks():
    graph = load_graph(shared_path("reference-cfg", "yolor", "yolor_csp.cfg"))
    full, _ = count(to_dot(graph).source)
    short, _ = count(to_dot(graph, collapse=True).source)
    assert len(short) < len(full) - 40
    assert " x8\\n" in to_dot(graph, collapse=True).source  # the 8 residual blocks of a stage in one box


def test_cfg_errors_are_reported_like_check(tmp_path, capsys):
    bad = tmp_path / "bad.cfg"
    bad.write_text("[net]\nwidth=64\nheight=64\n[convolutional]\nfilters=8\nsiez=3\n")
    assert main(["draw", str(bad), "--out", str(tmp_path / "x.svg")]) == 2
    assert f"{bad}:6:1: error: unknown key 'siez'" in capsys.readouterr().err
    assert not (tmp_path / "x.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_svg_and_png_are_valid(tmp_path):
    graph = load_graph(shared_path("conformance", "all_layers.cfg"))
    svg, _ = render(graph, tmp_path / "net.svg")
    assert ET.parse(svg).getroot().tag.endswith("svg")
    png, _ = render(graph, tmp_path / "net.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_dot_writes_dot_and_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path, message = render(load_graph(shared_path("conformance", "all_layers.cfg")), tmp_path / "net.png")
    assert path.suffix == ".dot" and path.exists() and "apt-get install graphviz" in message
