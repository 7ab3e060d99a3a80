from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Copies of the reference files the tests need (from ../shared, laid out the same way), so that a
# fresh clone runs every test; ../shared is read only for what is not copied.
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"
ZOO = ROOT / "cfg"
TINY_CFG = str(ZOO / "yolor_tiny.cfg")
# yolor_tiny trained 4 epochs on the synthetic set (mAP@0.5 0.92; made by tools/train_synth.py and saved with
# model.save_weights); tests take it through the trained_weights fixture (conftest.py)
TRAINED = FIXTURES / "trained" / "yolor_tiny_synth.pt"
# the demo's model as a CPU without native bf16 trains it (fp32): see tests/fixtures/trained/README.md
TRAINED_FP32 = FIXTURES / "trained" / "yolor_tiny_synth_fp32.pt"


def shared_path(*parts: str) -> Path:
    """A reference file: the repository's copy under tests/fixtures, else ../shared's, else skip."""
    for base in (FIXTURES, SHARED):
        path = base.joinpath(*parts)
        if path.exists():
            return path
    pytest.skip(f"{'/'.join(parts)} is neither in tests/fixtures nor in ../shared")


def header(width: int = 64, height: int = 64, channels: int = 3, **extra) -> str:
    """A ``[net]`` section: width, height, channels, then ``extra``'s keys in order, one line each."""
    options = {"width": width, "height": height, "channels": channels} | extra
    return "[net]\n" + "".join(f"{key}={value}\n" for key, value in options.items())


HEADER = header()


def errors_of(write_cfg, body: str, **kw) -> list[tuple[int, int, str]]:
    """(line, column, message) of every error that ``HEADER + body`` raises when its graph is built;
    ``body`` starts at line 5."""
    from yolor_cfg.compiler.graph import load_graph
    from yolor_cfg.core.errors import CfgError

    path = write_cfg(HEADER + body)
    with pytest.raises(CfgError) as info:
        load_graph(path, **kw)
    return [(d.loc.line, d.loc.col, d.message) for d in info.value.diagnostics]


def assert_close(ours, ref, name: str) -> None:
    """max abs error <= 1e-4 where values are small, relative error <= 1e-5 where they are large."""
    assert ours.shape == ref.shape, name
    err = (ours - ref).abs()
    small = ref.abs() <= 10
    assert float(err[small].max()) <= 1e-4, (name, float(err[small].max()))
    if (~small).any():
        assert float((err[~small] / ref[~small].abs()).max()) <= 1e-5, (name, "relative")


def assert_reproduces(model, fixture, atol: float = 1e-4) -> None:
    """``model`` (eval mode) gives a golden fixture's ``eval_x2`` and ``eval_raw_x2`` for its ``x2``."""
    import torch

    assert model.num_params() == fixture["n_params"]
    with torch.no_grad():
        dets, raw = model.eval()(fixture["x2"])
    torch.testing.assert_close(dets, fixture["eval_x2"], atol=atol, rtol=1e-5)
    for ours, ref in zip(raw, fixture["eval_raw_x2"]):
        torch.testing.assert_close(ours, ref, atol=atol, rtol=1e-5)


def cli_subparser(command: str):
    """The argparse parser of a command as typed after ``yolor-cfg`` (``"train"``, ``"data synth"``)."""
    import argparse

    from yolor_cfg.cli import build_parser

    parser = build_parser()[0]
    for word in command.split():
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[word]
    return parser


def run_cli(capsys, *argv) -> tuple[int, str]:
    """(exit code, stdout + stderr) of one command; argparse's usage errors are exit 2 like cfg errors."""
    from yolor_cfg.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out + out.err


def hard_to_quantize(weights: Path, out: Path, channel: int = 5, value: float = 1e4) -> Path:
    """The trained tiny model ``weights`` with one activation made hostile to per-tensor INT8, saved to ``out``:
    channel ``channel`` of layer 3 (a 1x1 [convolutional] read only by layer 4) becomes the constant ``value``
    and layer 4 ignores it. The float model barely changes; quantized, that tensor's step is ``value`` / 255,
    so its other channels round to a level or two."""
    import torch

    from yolor_cfg import api

    model = api.load(weights)
    with torch.no_grad():
        bn = model.module_list[3].BatchNorm2d
        bn.weight[channel], bn.bias[channel] = 0.0, value
        model.module_list[4].Conv2d.weight[:, channel] = 0.0
    model.save_weights(out)
    return out


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def confident_box_errors(runtime, float_weights, data_yaml: Path, conf: float = 0.7) -> list[float]:
    """Every detection of the float model with score >= ``conf`` on the val images of ``data_yaml`` must be
    found by ``runtime`` (same class, IoU >= 0.7, at conf 0.25; asserted); returns each match's largest
    box-coordinate difference in pixels."""
    import numpy as np

    from yolor_cfg import api
    from yolor_cfg.workflows.detect import Predictor

    float_predict, other_predict = Predictor(api.load(float_weights)), Predictor(runtime)
    errors = []
    for path in sorted((Path(data_yaml).parent / "images" / "val").glob("*.png")):
        got = other_predict(str(path), conf=0.25)
        for d in float_predict(str(path), conf=conf):
            best = max((g for g in got if g.cls == d.cls), key=lambda g: _iou(g.box, d.box), default=None)
            assert best is not None and _iou(best.box, d.box) >= 0.7, (path.name, d, best)
            errors.append(float(np.abs(np.array(best.box) - np.array(d.box)).max()))
    return errors


def assert_commands_take(artifact: Path, data_yaml: Path, tmp_path: Path, capsys, backend: str) -> None:
    """``detect``, ``val`` and ``benchmark --weights`` each run the exported ``artifact`` (the benchmark's row
    named after ``backend``)."""
    import json

    from yolor_cfg.cli import main

    image = next((Path(data_yaml).parent / "images" / "val").glob("*.png"))
    assert main(["detect", "--weights", str(artifact), "--source", str(image), "--out", str(tmp_path / "det")]) == 0
    assert json.loads((tmp_path / "det" / "detections.json").read_text())["detections"]
    assert main(["val", "--weights", str(artifact), "--data", str(data_yaml), "--img", "256"]) == 0
    assert "mAP@0.5" in capsys.readouterr().out
    assert main(["benchmark", "--weights", str(artifact), "--repeat", "1", "--warmup", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["backend"].startswith(backend)
