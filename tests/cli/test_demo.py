"""``yolor-cfg demo`` end to end, small: data, training, val, ONNX and INT8 export, detection."""
import json
import pytest
import re

from yolor_cfg.cli import main


@pytest.mark.slow
def test_demo_runs_every_step(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("YOLOR_CFG_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    # one epoch cannot promise accuracy, so the INT8 guard is given room here (its exit is tested in tests/export)
    assert main(["demo", "--epochs", "1", "--n-train", "32", "--n-val", "16", "--workers", "0", "--calib", "8",
                 "--max-drop", "100", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for step in range(1, 7):
        assert f"[{step}/6]" in text
    assert "accuracy guard (val split)" in text and "demo finished" in text
    assert len(re.findall(r"^      \(\d+\.\d s\)$", text, re.M)) == 6 and "step times     1:" in text and "CPU: " in text
    assert (out / "yolor_tiny.onnx").exists() and (out / "yolor_tiny_int8.onnx").exists()
    assert len(json.loads((out / "detect" / "detections.json").read_text())["detections"]) == 4
