"""The model zoo: exact parameter counts, the YAML converter, and every cfg through the pipeline."""
from pathlib import Path

import pytest
import torch

import yolor_cfg
from yolor_cfg.cli import main
from yolor_cfg.deploy.formats import ExportOptions, export_onnx
from yolor_cfg.compiler.frontend import parse_text
from yolor_cfg.compiler.graph import build_graph, load_graph
from yolor_cfg.compiler.yaml2cfg import yaml_to_cfg

from tests.helpers import assert_reproduces, shared_path

CFG = Path(__file__).resolve().parents[1] / "cfg"
PARAMS = {"yolor_p6": 37_265_016, "yolor_w6": 79_873_400, "yolor_e6": 115_909_400, "yolor_d6": 151_782_680,
          "yolor_ssss_dwt": 9_216_634, "yolor_ssss_s2d": 9_216_634, "yolor_csp": 52_923_994,
          "yolor_csp_x": 99_754_058, "yolov4_csp": 52_921_437, "yolov4_p6": 127_585_200, "yolor_tiny": 319_200,
          # yolov7's training models, as its code counts them (auxiliary heads of the P6 models included)
          "yolov7_tiny": 6_228_762, "yolov7": 37_622_682, "yolov7x": 71_347_394, "yolov7_w6": 82_312_436,
          "yolov7_e6": 111_898_292, "yolov7_d6": 154_709_364, "yolov7_e6e": 166_408_884}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_shipped_parameter_counts_and_headers(name):
    graph = load_graph(CFG / f"{name}.cfg")
    from yolor_cfg.compiler.summary import summarize

    assert summarize(graph)["params"] == PARAMS[name]
    text = (CFG / f"{name}.cfg").read_text()
    assert text.startswith(f"# {name}.cfg: ") and f"{PARAMS[name]:,} parameters" in text.splitlines()[1] + text.splitlines()[3]


def test_every_shipped_cfg_is_in_the_table():
    assert {p.stem for p in CFG.glob("*.cfg")} == set(PARAMS)


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
    model = yolor_cfg.compile(CFG / "yolor_tiny.cfg")
    from yolor_cfg.core.errors import WeightsError
    from yolor_cfg.compiler.io import load_state_dict

    with pytest.raises(WeightsError, match="no yaml2cfg key map"):
        load_state_dict(model, fixture["state_dict"], "paper.pt")


@pytest.mark.parametrize("name, yaml", [("yolor_e6", "yolor-e6.yaml"), ("yolor_d6", "yolor-d6.yaml"),
                                        ("yolor_ssss_dwt", "yolor-ssss-dwt.yaml"), ("yolor_ssss_s2d", "yolor-ssss-s2d.yaml")])
def test_yaml2cfg_gives_the_shipped_graphs(name, yaml):
    converted = build_graph(parse_text(yaml_to_cfg(shared_path("reference-arch", yaml)), "converted.cfg"))
    shipped = load_graph(CFG / f"{name}.cfg")
    assert len(converted.nodes) == len(shipped.nodes)
    for a, b in zip(converted.nodes, shipped.nodes):
        assert (a.kind, a.options, a.inputs, a.shape) == (b.kind, b.options, b.inputs, b.shape)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PARAMS))
def test_every_shipped_cfg_runs_fuses_and_exports(tmp_path, name):
    size = 64
    model = yolor_cfg.compile(CFG / f"{name}.cfg", img_size=size).eval()
    x = torch.rand(1, 3, size, size)
    with torch.no_grad():
        dets, raw = model(x)
        fused = model.fuse()
        fdets, _ = fused(x)
    assert torch.isfinite(dets).all()
    assert float(((fdets - dets).abs() / dets.abs().clamp(min=1)).max()) <= 1e-4
    report = export_onnx(model, tmp_path / f"{name}.onnx", ExportOptions())
    assert report.parity[0][1] <= 1e-4


def test_set_classes_rewrites_every_dependent_filters(tmp_path, capsys):
    changed = tmp_path / "p6_3.cfg"
    changed.write_text((CFG / "yolor_p6.cfg").read_text().replace("classes=80", "classes=3"))
    assert main(["check", str(changed)]) == 2
    errors = [line for line in capsys.readouterr().out.splitlines() if ": error: " in line]
    assert len(errors) == 12  # per head: the [yolo], its [convolutional] filters= and its [implicit_mul] filters=
    assert sum("[implicit_mul] filters=255 does not fit" in e for e in errors) == 4
    assert sum("[convolutional] filters=255 does not fit" in e for e in errors) == 4
    out = tmp_path / "p6_fixed.cfg"
    assert main(["set-classes", str(CFG / "yolor_p6.cfg"), "3", "--out", str(out)]) == 0
    graph = load_graph(out)
    assert all(h.options["classes"] == 3 and h.in_shapes[0].c == 24 for h in graph.heads)
    original, new = (CFG / "yolor_p6.cfg").read_text().splitlines(), out.read_text().splitlines()
    assert len(original) == len(new) and sum(a != b for a, b in zip(original, new)) == 12  # 4 classes, 8 filters


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
