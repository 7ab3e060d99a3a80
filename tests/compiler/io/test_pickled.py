"""Whole-model checkpoints (YOLOR paper branch, yolov7) read safely, without their code."""
import builtins
import os
import sys
import types

import pytest
import torch

import yolor_cfg
from yolor_cfg.cli import main
from yolor_cfg.core.errors import WeightsError
from yolor_cfg.compiler.io.pickled import read_pickled_model

from tests.helpers import assert_reproduces, shared_path


@pytest.fixture(scope="module")
def paper():
    return torch.load(shared_path("reference-arch", "paper_modules_mini.pt"), weights_only=True)


@pytest.mark.parametrize("name", ["paper_mini_ckpt.pt", "paper_mini_ckpt_legacy.pt"])
def test_paper_checkpoint_imports_and_reproduces_the_fixture(tmp_path, paper, capsys, name):
    assert "models" not in {m.split(".")[0] for m in list(__import__("sys").modules)}  # no YOLOR code anywhere
    ckpt = shared_path("checkpoints", name)
    assert main(["import", str(ckpt), "--out", str(tmp_path / "out"), "--img", "128"]) == 0
    out = capsys.readouterr().out
    assert "took models.yolo.Model from 'model': 326 tensors, all placed" in out and "113,296 parameters" in out
    assert_reproduces(yolor_cfg.load(tmp_path / "out" / f"{ckpt.stem}.pt"), paper)
    # load_weights takes the pickled checkpoint as it is, into the imported cfg
    again = yolor_cfg.compile(tmp_path / "out" / f"{ckpt.stem}.cfg")
    again.load_weights(ckpt)
    assert_reproduces(again, paper)


def test_fp16_checkpoint_prefers_ema_and_says_it_converted():
    model = read_pickled_model(shared_path("reference-arch", "yolov7", "yolov7_mini_ckpt.pt"))
    assert model.source_key == "ema" and model.converted_fp16 > 0
    assert all(t.dtype == torch.float32 for t in model.state_dict.values() if t.is_floating_point())
    assert "float16 tensors converted to float32" in model.describe() and model.yaml["nc"] == 3


def test_unsupported_architecture_is_refused_before_writing(tmp_path, capsys, monkeypatch):
    """A checkpoint whose model YAML uses a module yaml2cfg does not convert: a message, nothing written."""
    project = types.ModuleType("models.yolo")

    class Model(torch.nn.Module):
        pass

    Model.__module__, Model.__qualname__, project.Model = "models.yolo", "Model", Model
    monkeypatch.setitem(sys.modules, "models", types.ModuleType("models"))
    monkeypatch.setitem(sys.modules, "models.yolo", project)
    model = Model()
    model.yaml = {"nc": 1, "anchors": [[10, 13, 16, 30, 33, 23]], "backbone": [[-1, 1, "C3", [16]]], "head": []}
    model.add_module("conv", torch.nn.Conv2d(3, 16, 1))
    path = tmp_path / "c3.pt"
    torch.save({"epoch": 0, "model": model}, path)
    monkeypatch.undo()  # the project's code is gone again when the file is read
    code = main(["import", str(path), "--out", str(tmp_path / "out")])
    assert code == 1 and "module 'C3' is not one yolor-cfg converts" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class _Shell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Exec:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",)


class NotAModel:  # a class from outside the allow-list (this test module)
    pass


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("payload, named", [(_Shell, r"(posix|nt|os)\.system"), (_Exec, r"builtins\.exec"),
                                            (None, r"tests\.compiler\.io\.test_pickled\.NotAModel")])
def test_malicious_globals_are_refused_and_nothing_runs(tmp_path, legacy, payload, named):
    marker = tmp_path / "marker"
    evil = payload(marker) if payload else NotAModel()
    path = tmp_path / "evil.pt"
    torch.save({"epoch": 1, "model": evil, "optimizer": None}, path, _use_new_zipfile_serialization=not legacy)
    for load in (lambda: read_pickled_model(path), lambda: yolor_cfg.compile(
            shared_path("conformance", "all_layers.cfg")).load_weights(path)):
        with pytest.raises(WeightsError, match=r"refused: the pickle names " + named + ".*nothing in the file was run"):
            load()
    assert not marker.exists()
