"""Rewriting cfg text (compiler/cfgtext.py): set-classes changes classes= and every filters= that depends on it."""
from yolor_cfg.cli import main
from yolor_cfg.compiler.graph import load_graph

from tests.helpers import ZOO


def test_set_classes_rewrites_every_dependent_filters(tmp_path, capsys):
    changed = tmp_path / "p6_3.cfg"
    changed.write_text((ZOO / "yolor_p6.cfg").read_text().replace("classes=80", "classes=3"))
    assert main(["check", str(changed)]) == 2
    errors = [line for line in capsys.readouterr().out.splitlines() if ": error: " in line]
    assert len(errors) == 12  # per head: the [yolo], its [convolutional] filters= and its [implicit_mul] filters=
    assert sum("[implicit_mul] filters=255 does not fit" in e for e in errors) == 4
    assert sum("[convolutional] filters=255 does not fit" in e for e in errors) == 4
    out = tmp_path / "p6_fixed.cfg"
    assert main(["set-classes", str(ZOO / "yolor_p6.cfg"), "3", "--out", str(out)]) == 0
    graph = load_graph(out)
    assert all(h.options["classes"] == 3 and h.in_shapes[0].c == 24 for h in graph.heads)
    original, new = (ZOO / "yolor_p6.cfg").read_text().splitlines(), out.read_text().splitlines()
    assert len(original) == len(new) and sum(a != b for a, b in zip(original, new)) == 12  # 4 classes, 8 filters
