"""The export-format registry: every format keeps the contract, and a format defined here, in a test
file only, plugs into export, detect and benchmark without touching any other file."""
import json
import shutil
import tempfile
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from yolor_cfg.cli import main
from yolor_cfg.deploy.formats import FORMATS, ExportFormat, ExportOptions, benchmark_rows, register
from yolor_cfg.deploy.runtimes import RUNTIMES, OnnxRuntime, open_onnx_session
from yolor_cfg.deploy.runtimes import register as register_runtime

from tests.helpers import ROOT, TINY_CFG, cli_subparser


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_keeps_the_contract(name):
    form = FORMATS[name]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert form.name == name and form.summary and form.suffix and form.requires
    assert form.extra is None or form.extra in extras, f"{name}: extra {form.extra!r} is not in pyproject.toml"
    assert form.runtime in {r.kind for r in RUNTIMES}, f"{name}: no runtime of kind {form.runtime!r}"
    assert set(form.refuses) <= {f.name for f in fields(ExportOptions)}
    assert form.device in ("cpu", "cuda")
    assert form.scratch_name("model").endswith(form.suffix)
    if form.folder:
        assert form.stem(Path("x") / f"yolor_p6{form.suffix}") == "yolor_p6"
    assert form.runtime in benchmark_rows() and (f"{form.runtime}-int8" in benchmark_rows()) == form.int8
    assert name in cli_subparser("export")._option_string_actions["--format"].choices


def test_a_format_missing_its_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ncnn", None)
    assert "pip install 'yolor-cfg[ncnn]'" in FORMATS["ncnn"].missing()


class _CopiedOnnxRuntime(OnnxRuntime):
    kind = "copied-onnx"
    describes = "a .conx file"

    @classmethod
    def accepts(cls, path):
        return path.suffix == ".conx"

    @classmethod
    def open(cls, path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None):
        return cls(open_onnx_session(path, threads), str(path), img_size, names)


class _CopiedOnnx(ExportFormat):
    """ONNX under another name: the smallest format there is."""
    name = "conx"
    summary = "a .conx file (ONNX by another name)"
    suffix = ".conx"
    runtime = "copied-onnx"
    requires = ("onnx",)

    def export(self, model, out, opts):
        from yolor_cfg.deploy.onnx_export import export_onnx

        with tempfile.TemporaryDirectory() as scratch:
            report = export_onnx(model, Path(scratch) / "m.onnx", opts)
            self.check_output(out)
            shutil.copyfile(Path(scratch) / "m.onnx", out)
        report.path = str(out)
        return report


@pytest.fixture
def conx():
    """The format and its runtime registered as their files would register them, for this test only."""
    register(_CopiedOnnx)
    register_runtime(_CopiedOnnxRuntime)
    yield
    del FORMATS["conx"]
    RUNTIMES.remove(_CopiedOnnxRuntime)


def test_a_format_defined_in_a_test_plugs_into_export_detect_and_benchmark(conx, tmp_path, trained_weights,
                                                                          synth_data, capsys):
    out = tmp_path / "tiny.conx"
    assert main(["export", "--cfg", TINY_CFG, "--weights", str(trained_weights), "--format", "conx", "--out", str(out),
                 "--img", "256"]) == 0
    assert "parity onnxruntime vs PyTorch" in capsys.readouterr().out and out.is_file()
    image = next((synth_data.parent / "images" / "val").glob("*.png"))
    assert main(["detect", "--weights", str(out), "--source", str(image), "--out", str(tmp_path / "det")]) == 0
    assert json.loads((tmp_path / "det" / "detections.json").read_text())["detections"]
    capsys.readouterr()
    assert main(["benchmark", "--cfg", TINY_CFG, "--img", "64", "--backends", "eager,copied-onnx", "--repeat", "1",
                 "--warmup", "0", "--json"]) == 0
    assert [r["backend"] for r in json.loads(capsys.readouterr().out)["results"]] == ["eager", "copied-onnx"]
