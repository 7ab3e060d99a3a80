"""The model zoo as a whole: every shipped cfg in the table with its exact parameter count and header, and
every one through the pipeline (build, fuse, export)."""
import pytest
import torch

import yolor_cfg
from yolor_cfg.compiler.graph import load_graph
from yolor_cfg.deploy.formats import ExportOptions, export_onnx

from tests.helpers import ZOO

PARAMS = {"yolor_p6": 37_265_016, "yolor_w6": 79_873_400, "yolor_e6": 115_909_400, "yolor_d6": 151_782_680,
          "yolor_ssss_dwt": 9_216_634, "yolor_ssss_s2d": 9_216_634, "yolor_csp": 52_923_994,
          "yolor_csp_x": 99_754_058, "yolov4_csp": 52_921_437, "yolov4_p6": 127_585_200, "yolor_tiny": 319_200,
          "yolor_tiny_jde": 359_176, "yolor_tiny_ijde": 359_304,
          # yolov7's training models, as its code counts them (auxiliary heads of the P6 models included)
          "yolov7_tiny": 6_228_762, "yolov7": 37_622_682, "yolov7x": 71_347_394, "yolov7_w6": 82_312_436,
          "yolov7_e6": 111_898_292, "yolov7_d6": 154_709_364, "yolov7_e6e": 166_408_884}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_shipped_parameter_counts_and_headers(name):
    graph = load_graph(ZOO / f"{name}.cfg")
    from yolor_cfg.compiler.summary import summarize

    assert summarize(graph)["params"] == PARAMS[name]
    text = (ZOO / f"{name}.cfg").read_text()
    assert text.startswith(f"# {name}.cfg: ") and f"{PARAMS[name]:,} parameters" in text.splitlines()[1] + text.splitlines()[3]


def test_every_shipped_cfg_is_in_the_table():
    assert {p.stem for p in ZOO.glob("*.cfg")} == set(PARAMS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PARAMS))
def test_every_shipped_cfg_runs_fuses_and_exports(tmp_path, name):
    size = 64
    model = yolor_cfg.compile(ZOO / f"{name}.cfg", img_size=size).eval()
    x = torch.rand(1, 3, size, size)
    with torch.no_grad():
        dets, raw = model(x)[:2]
        fused = model.fuse()
        fdets = fused(x)[0]
    assert torch.isfinite(dets).all()
    assert float(((fdets - dets).abs() / dets.abs().clamp(min=1)).max()) <= 1e-4
    report = export_onnx(model, tmp_path / f"{name}.onnx", ExportOptions())
    assert report.parity[0][1] <= 1e-4
