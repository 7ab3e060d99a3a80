"""Semantic errors: each at the right line:col with a useful message; all errors collected."""
from pathlib import Path

import pytest

from yolor_cfg.core.errors import CfgError
from yolor_cfg.compiler.graph import load_graph

from tests.helpers import HEADER, errors_of, shared_path


def test_unknown_section_suggests(write_cfg):
    [(line, col, msg)] = errors_of(write_cfg, "[convolutoinal]\nfilters=8\n")
    assert (line, col) == (5, 1) and "did you mean 'convolutional'" in msg


def test_unsupported_darknet_section_is_named(write_cfg):
    [(line, _, msg)] = errors_of(write_cfg, "[convolutional]\nfilters=8\n[lstm]\noutput=4\n")
    assert line == 7 and "[lstm]" in msg and "does not support" in msg


def test_unknown_key_suggests(write_cfg):
    [(line, col, msg)] = errors_of(write_cfg, "[convolutional]\nfilters=8\nsiez=3\n")
    assert (line, col) == (7, 1) and "unknown key 'siez'" in msg and "did you mean 'size'" in msg


def test_missing_required_key(write_cfg):
    [(line, col, msg)] = errors_of(write_cfg, "[implicit_add]\n")
    assert (line, col) == (5, 1) and "needs 'filters='" in msg


def test_wrong_types_are_all_reported(write_cfg):
    errs = errors_of(write_cfg, "[convolutional]\nfilters=-4\nsize=abc\nstride=0\n")
    assert [(l, c) for l, c, _ in errs] == [(6, 9), (7, 6), (8, 8)]
    assert "at least 1" in errs[0][2] and "expected an integer, got 'abc'" in errs[1][2]
    assert "at least 1, got 0" in errs[2][2]


@pytest.mark.parametrize("ref, words", [("3", "points forward"), ("-9", "points before layer 0"),
                                        ("1", "points to this layer itself")])
def test_bad_route_references(write_cfg, ref, words):
    [(line, col, msg)] = errors_of(write_cfg, f"[convolutional]\nfilters=8\n[route]\nlayers={ref}\n")
    assert (line, col) == (8, 8) and words in msg


def test_bad_shortcut_reference(write_cfg):
    [(line, col, msg)] = errors_of(write_cfg, "[convolutional]\nfilters=8\n[shortcut]\nfrom=5\n")
    assert (line, col) == (8, 6) and "points forward" in msg


def test_mismatched_channels(write_cfg):
    body = ("[convolutional]\nfilters=8\n[convolutional]\nfilters=4\n[shortcut]\nfrom=-2\n"  # 0 1 2
            "[implicit_add]\nfilters=5\n[implicit_mul]\nfilters=5\n[implicit_cat]\nfilters=5\n"  # 3 4 5
            "[route]\nlayers=1\n[shift_channels]\nfrom=3\n"  # 6 7
            "[route]\nlayers=1\n[control_channels]\nfrom=4\n"  # 8 9
            "[route]\nlayers=1\n[alternate_channels]\nfrom=5\n")  # 10 11
    errs = errors_of(write_cfg, body)
    assert len(errs) == 4
    assert "needs equal channels" in errs[0][2]
    for (line, _, msg), key_line in zip(errs[1:], (20, 24, 28)):
        assert line == key_line and "has 5 channels" in msg and "set filters=4" in msg


@pytest.mark.parametrize("kind", ["reorg", "dwt"])
def test_input_size_not_divisible(write_cfg, kind):
    path = write_cfg(f"[net]\nwidth=66\nheight=66\n[{kind}]\n[{kind}]\n")
    with pytest.raises(CfgError, match=r"net.cfg:5:1: error: .*needs an (input divisible by 2|even input size)"):
        load_graph(path, dialect="yolor")


def test_input_size_not_a_multiple_of_the_strides():
    cfg = shared_path("reference-cfg", "yolor", "yolor_p6.cfg")
    with pytest.raises(CfgError, match="different sizes.*multiple of every stride"):
        load_graph(cfg, img_size=650)


def test_repeated_key_is_a_warning_and_first_value_wins(write_cfg):
    g = load_graph(write_cfg("[net]\nwidth=64\nwidth=32\nheight=64\n[convolutional]\nfilters=8\n"))
    assert g.net.width == 64
    [w] = g.warnings
    assert (w.loc.line, w.severity) == (3, "warning") and "first value" in w.message


def test_known_darknet_training_keys_are_kept(write_cfg):
    g = load_graph(write_cfg(HEADER + "[convolutional]\nfilters=8\nstopbackward=1\n"
                                      "[yolo]\nmask=0\nanchors=1,2\nclasses=3\nnum=1\njitter=.3\nrandom=1\n"
                                      "ignore_thresh=.7\niou_loss=ciou\nmax_delta=5\n"), dialect="darknet")
    assert g.nodes[1].options["iou_loss"] == "ciou" and g.nodes[0].options["stopbackward"] == "1"


def test_errors_of_a_file_are_collected(write_cfg):
    errs = errors_of(write_cfg, "[convolutional]\nfilters=x\n[foo]\n[route]\nlayers=9\n")
    assert len(errs) == 3


def test_refused_option_value(write_cfg):
    [(_, _, msg)] = errors_of(write_cfg, "[convolutional]\nfilters=8\nxnor=1\n")
    assert "xnor=1" in msg and "set xnor=0" in msg


def test_dialect_detection_and_override():
    yolor = load_graph(shared_path("reference-cfg", "yolor", "yolor_csp.cfg"))
    assert yolor.dialect.name == "yolor" and "silu" in yolor.dialect_reason
    darknet = load_graph(shared_path("reference-cfg", "darknet", "yolov4-tiny.cfg"))
    assert darknet.dialect.name == "darknet"
    assert load_graph(shared_path("reference-cfg", "darknet", "yolov4-tiny.cfg"), dialect="yolor").dialect.name == "yolor"


def test_inputs_are_absolute_and_shapes_inferred():
    g = load_graph(shared_path("conformance", "all_layers.cfg"))
    assert g.nodes[8].inputs == [7, 3] and g.nodes[26].inputs == [25, 19] and g.nodes[19].inputs == []
    assert g.nodes[9].shape.as_list() == [128, 16, 16] and g.nodes[9].shape.stride == 8
    assert g.nodes[15].shape.c == 24 and g.nodes[33].shape.c == 48


def test_unknown_net_keys_are_warnings_with_a_did_you_mean(write_cfg, capsys):
    from yolor_cfg.cli import main

    path = write_cfg("[net]\nwidth=64\nheight=64\nwidht=64\nmax_epochs=300\nseen=64000\n"
                     "[convolutional]\nfilters=4\nsize=1\nactivation=leaky\n")
    graph = load_graph(path)
    messages = [(d.loc.line, d.message) for d in graph.warnings]
    assert (4, "unknown key 'widht' in [net], ignored as Darknet ignores it; did you mean 'width'?") in messages
    assert any(line == 5 and "'max_epochs'" in m for line, m in messages)
    assert any(line == 6 and "'seen'" in m for line, m in messages)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: unknown key 'widht' in [net]" in out and ": ok (dialect darknet" in out


def test_gaussian_yolo_is_refused_with_its_reason(write_cfg):
    [(_, _, msg)] = errors_of(write_cfg, "[convolutional]\nfilters=8\nsize=1\n[Gaussian_yolo]\nclasses=1\n")
    assert "[Gaussian_yolo] is a Darknet section that yolor-cfg does not support" in msg
    assert "four variances" in msg


def test_shortcut_between_different_sizes_says_why_it_is_refused(write_cfg):
    body = ("[convolutional]\nfilters=8\nsize=1\n[convolutional]\nfilters=8\nsize=3\nstride=2\npad=1\n"
            "[shortcut]\nfrom=-2\nactivation=linear\n")
    [(_, _, msg)] = errors_of(write_cfg, body)
    assert "pjreddie's Darknet adds such maps by strided sampling and AlexeyAB's by flat index" in msg


@pytest.mark.parametrize("cfg", sorted((Path(__file__).parents[1] / "data" / "darknet").glob("*.cfg")), ids=lambda p: p.name)
def test_darknet_corpus_compiles_with_darknet_semantics_and_runs(cfg):
    """Darknet's own cfgs (writing.cfg and strided.cfg carry [crop] and [net] keys Darknet ignores)."""
    import torch

    import yolor_cfg

    model = yolor_cfg.compile(cfg).eval()
    assert model.graph.dialect.name == "darknet" and model.graph.dialect_choice.source == "evidence"
    net = model.graph.net
    with torch.no_grad():
        out = model(torch.rand(1, net.channels, net.height, net.width))
    out = out[0] if isinstance(out, tuple) else out
    assert torch.isfinite(out).all()


def test_a_layer_reading_a_head_is_refused(write_cfg):
    """A section after the last [yolo] that reads it passed check and then broke export: refused here."""
    head = ("[convolutional]\nfilters=21\nsize=1\nactivation=linear\n"
            "[yolo]\nmask=0,1,2\nanchors=10,13,16,30,33,23,30,61,62,45\nclasses=2\nnum=5\n")
    [(line, col, msg)] = errors_of(write_cfg, head + "[maxpool]\nsize=2\nstride=2\n")
    assert (line, col) == (14, 1) and "reads layer 1 [yolo], a detection head" in msg and "layer 0" in msg
    load_graph(write_cfg(HEADER + head + "[route]\nlayers=-2\n"))  # reading around the head is fine
