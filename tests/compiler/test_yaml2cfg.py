"""The YAML converter (compiler/yaml2cfg.py): paper-branch models and their weights through the key map, the
shipped graphs from their YAMLs, anchors it cannot use named."""
import pytest
import torch

import yolor_cfg
from yolor_cfg.cli import main
from yolor_cfg.compiler.frontend import parse_text
from yolor_cfg.compiler.graph import build_graph, load_graph
from yolor_cfg.compiler.yaml2cfg import yaml_to_cfg

from tests.helpers import TINY_CFG, ZOO, assert_reproduces, shared_path


def test_yaml2cfg_reproduces_paper_outputs(tmp_path, capsys):
    out = tmp_path / "mini.cfg"
    assert main(["yaml2cfg", str(shared_path("reference-arch", "paper_modules_mini.yaml")), str(out), "--img", "128"]) == 0
    assert "113,296 parameters" in capsys.readouterr().out
    fixture = torch.load(shared_path("reference-arch", "paper_modules_mini.pt"), weights_only=True)
    weights = tmp_path / "paper.pt"
    torch.save({"model": fixture["state_dict"], "epoch": 1}, weights)
    model = yolor_cfg.compile(out).eval()
    model.load_weights(weights)  # paper-branch keys, through the cfg's key map
    assert_reproduces(model, fixture)
    assert model.strides == fixture["stride"].tolist()


def test_paper_state_dict_without_keymap_is_explained(tmp_path):
    fixture = torch.load(shared_path("reference-arch", "paper_modules_mini.pt"), weights_only=True)
    model = yolor_cfg.compile(TINY_CFG)
    from yolor_cfg.core.errors import WeightsError
    from yolor_cfg.compiler.io import load_state_dict

    with pytest.raises(WeightsError, match="no yaml2cfg key map"):
        load_state_dict(model, fixture["state_dict"], "paper.pt")


@pytest.mark.parametrize("name, yaml", [("yolor_e6", "yolor-e6.yaml"), ("yolor_d6", "yolor-d6.yaml"),
                                        ("yolor_ssss_dwt", "yolor-ssss-dwt.yaml"), ("yolor_ssss_s2d", "yolor-ssss-s2d.yaml")])
def test_yaml2cfg_gives_the_shipped_graphs(name, yaml):
    converted = build_graph(parse_text(yaml_to_cfg(shared_path("reference-arch", yaml)), "converted.cfg"))
    shipped = load_graph(ZOO / f"{name}.cfg")
    assert len(converted.nodes) == len(shipped.nodes)
    for a, b in zip(converted.nodes, shipped.nodes):
        assert (a.kind, a.options, a.inputs, a.shape) == (b.kind, b.options, b.inputs, b.shape)


@pytest.mark.parametrize("anchors, message", [
    ("3", "anchors: 3 is an anchor count"),
    ("[[10, 13, 16]]", "anchors must be one list of w,h pairs per detection level"),
    ("[]", "anchors must be one list of w,h pairs"),
])
def test_yaml2cfg_names_anchors_it_cannot_use(tmp_path, capsys, anchors, message):
    yaml_file = tmp_path / "m.yaml"
    yaml_file.write_text(f"nc: 3\nanchors: {anchors}\nbackbone: [[-1, 1, Conv, [16, 3, 2]]]\n"
                         "head: [[[0], 1, Detect, [nc, anchors]]]\n")
    assert main(["yaml2cfg", str(yaml_file), str(tmp_path / "m.cfg")]) == 1
    assert message in capsys.readouterr().err and not (tmp_path / "m.cfg").exists()
