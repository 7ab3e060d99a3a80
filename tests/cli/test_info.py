import json

import pytest

from yolor_cfg.cli import main

from tests.helpers import shared_path

PARAMS = {"yolor_csp": 52_923_994, "yolor_csp_x": 99_754_058, "yolor_p6": 37_265_016, "yolor_w6": 79_873_400,
          "yolov4_csp": 52_921_437, "yolov4_csp_x": 99_751_053, "yolov4_p6": 127_585_200, "yolov4_p7": 287_566_300}


def info_json(capsys, *args):
    assert main(["info", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_reference_parameter_counts(capsys, name):
    info = info_json(capsys, str(shared_path("reference-cfg", "yolor", f"{name}.cfg")))
    assert info["params"] == PARAMS[name]
    assert sum(layer["params"] for layer in info["layers"]) == PARAMS[name]


@pytest.mark.parametrize("name, size, gflops", [("yolor_p6", 1280, 325.117), ("yolor_csp", 640, 120.240),
                                                ("yolov4_p7", 1536, 1636.704)])
def test_reference_gflops(capsys, name, size, gflops):
    info = info_json(capsys, str(shared_path("reference-cfg", "yolor", f"{name}.cfg")), "--img", str(size))
    assert info["gflops"] == pytest.approx(gflops, abs=0.01)


def test_json_layout(capsys):
    info = info_json(capsys, str(shared_path("conformance", "all_layers.cfg")))
    assert info["dialect"] == "yolor" and info["params"] == 79492
    first = info["layers"][1]
    assert set(first) >= {"index", "type", "line", "inputs", "out_shape", "params", "gflops"}
    assert first == {"index": 1, "type": "convolutional", "line": 12, "inputs": [0], "out_shape": [16, 64, 64],
                     "params": 16 * 12 * 9 + 32, "gflops": 2 * 16 * 12 * 9 * 64 * 64 / 1e9}


def test_table_output(capsys):
    assert main(["info", str(shared_path("conformance", "all_layers.cfg"))]) == 0
    out = capsys.readouterr().out
    assert "79,492 parameters" in out and "dialect: yolor" in out and "head: layer 29 stride 8" in out


def test_info_on_bad_cfg_reports_and_exits_2(capsys, write_cfg):
    assert main(["info", str(write_cfg("[net]\nwidth=64\nheight=64\n[conv]\nfilters=x\n"))]) == 2
    assert "net.cfg:5:9: error: [conv] filters: expected an integer" in capsys.readouterr().err
