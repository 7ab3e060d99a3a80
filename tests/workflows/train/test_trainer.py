"""The trainer end to end: a short run, exact resume, DDP on CPU, NaN handling."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import yolor_cfg
from yolor_cfg.api import shipped_cfg
from yolor_cfg.cli import main
from yolor_cfg.compiler.io.checkpoint import read_torch_file
from yolor_cfg.workflows.train.synth import build_synth
from yolor_cfg.workflows.train.trainer import TrainingError, TrainOptions, Trainer

from tests.helpers import run_cli

FAST = {"warmup_epochs": 0.5, "mosaic": 0.5}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return build_synth(tmp_path_factory.mktemp("data"), n_train=24, n_val=6, img=64, seed=0)


def options(data, project, **kw):
    base = dict(cfg=str(shipped_cfg("yolor_tiny")), data=str(data), epochs=2, batch=8, img=64, workers=0,
                project=str(project), name="run", progress=False, deterministic=True, nominal_batch=8,
                hyp_overrides=FAST)
    return TrainOptions(**(base | kw))


def test_short_run_writes_checkpoints_results_and_plots(data, tmp_path, capsys):
    code = main(["train", "--cfg", str(shipped_cfg("yolor_tiny")), "--data", str(data), "--epochs", "1", "--batch", "8",
                 "--img", "64", "--workers", "0", "--project", str(tmp_path), "--name", "exp"])
    assert code == 0
    run = tmp_path / "exp"
    for name in ("weights/last.pt", "weights/best.pt", "results.csv", "results.png"):
        assert (run / name).exists(), name
    rows = list(csv.DictReader(open(run / "results.csv")))
    assert len(rows) == 1 and {"box_loss", "obj_loss", "cls_loss", "mAP50", "mAP50_95"} <= set(rows[0])
    ckpt = read_torch_file(run / "weights" / "last.pt")
    assert ckpt["epoch"] == 0 and not any(k.startswith("module.") for k in ckpt["model"])
    model = yolor_cfg.load(run / "weights" / "best.pt")
    assert model.names == ["circle", "square", "triangle"]
    assert "training" in capsys.readouterr().out


def test_resume_after_kill_gives_the_same_weights(data, tmp_path):
    straight = Trainer(options(data, tmp_path / "a")).train()
    killed = Trainer(options(data, tmp_path / "b", max_steps=4)).train()  # 3 steps per epoch: dies in epoch 2
    assert killed["stopped_at_step"] == 4
    last = Path(killed["save_dir"]) / "weights" / "last.pt"
    assert read_torch_file(last)["epoch"] == 0
    resumed = Trainer(TrainOptions(resume=str(last), workers=0, progress=False)).train()
    a = read_torch_file(straight["last"])
    b = read_torch_file(resumed["last"])
    assert a["epoch"] == b["epoch"] == 1
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
        assert torch.equal(a["model_train"][key], b["model_train"][key]), key


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def killed_run(data, tmp_path_factory):
    """A run stopped in its second epoch: its folder, with weights/last.pt from epoch 0."""
    project = tmp_path_factory.mktemp("killed")
    return Path(Trainer(options(data, project, epochs=2, max_steps=4)).train()["save_dir"])


def test_resume_a_moved_run_writes_where_the_checkpoint_is(killed_run, tmp_path):
    """The run folder was renamed and another run took its old name: resuming the moved checkpoint
    continues in the moved folder and leaves the other run byte for byte as it was."""
    import shutil

    moved = tmp_path / "moved"
    shutil.copytree(killed_run, moved)
    squatter = tmp_path / "squatter"
    shutil.copytree(killed_run, squatter)
    ckpt = read_torch_file(moved / "weights" / "last.pt")
    ckpt["save_dir"] = str(squatter)  # as if the run had been recorded there and then renamed
    torch.save(ckpt, moved / "weights" / "last.pt")
    before = _snapshot(squatter)
    result = Trainer(TrainOptions(resume=str(moved / "weights" / "last.pt"), workers=0, progress=False)).train()
    assert Path(result["save_dir"]) == moved.resolve() and read_torch_file(moved / "weights" / "last.pt")["epoch"] == 1
    assert _snapshot(squatter) == before


def test_resume_a_copied_checkpoint_claims_a_new_folder(killed_run, tmp_path, capsys):
    copy = tmp_path / "elsewhere" / "last.pt"
    copy.parent.mkdir()
    copy.write_bytes((killed_run / "weights" / "last.pt").read_bytes())
    before = _snapshot(killed_run)
    result = api_train_resume(copy)
    assert Path(result.save_dir) != killed_run and Path(result.save_dir).parent == killed_run.parent
    assert _snapshot(killed_run) == before and "not inside a run's weights/ folder" in capsys.readouterr().out


def test_resume_refuses_options_that_differ(killed_run, capsys):
    before = _snapshot(killed_run)
    code, out = run_cli(capsys, "train", "--resume", killed_run / "weights" / "last.pt", "--epochs", "4", "--batch", "2")
    assert code == 1 and "these differ: epochs 4 (run: 2), batch 2 (run: 8)" in out and "--weights" in out
    assert _snapshot(killed_run) == before


def api_train_resume(path):
    from yolor_cfg import api

    return api.train(resume=str(path), workers=0, progress=False)


def test_bare_resume_takes_the_newest_run(killed_run, tmp_path, monkeypatch, capsys):
    """``train --resume`` with no path (argparse runs the type check on the const value too)."""
    import shutil

    shutil.copytree(killed_run, tmp_path / "runs" / "train" / "run")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--resume", "--workers", "0"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert read_torch_file(tmp_path / "runs" / "train" / "run" / "weights" / "last.pt")["epoch"] == 1


def test_nan_loss_stops_with_the_step_and_keeps_last_good_checkpoint(data, tmp_path, monkeypatch):
    first = Trainer(options(data, tmp_path, max_steps=4)).train()  # killed in epoch 2
    last = Path(first["save_dir"]) / "weights" / "last.pt"
    before = last.read_bytes()
    from yolor_cfg.workflows.train import loss as loss_module

    real = loss_module.YoloLoss.__call__
    calls = {"n": 0}

    def poisoned(self, raw, targets):
        calls["n"] += 1
        value, items = real(self, raw, targets)
        return (value * float("nan"), items) if calls["n"] == 2 else (value, items)

    monkeypatch.setattr(loss_module.YoloLoss, "__call__", poisoned)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2, step 2 .*last good checkpoint is .*last.pt"):
        Trainer(TrainOptions(resume=str(last), workers=0, progress=False)).train()
    assert last.read_bytes() == before


def test_class_count_mismatch_is_explained(data, tmp_path):
    cfg = tmp_path / "four.cfg"
    cfg.write_text(shipped_cfg("yolor_tiny").read_text().replace("classes=3", "classes=4").replace("filters=24", "filters=27"))
    with pytest.raises(TrainingError, match="classes=4 in its \\[yolo\\] layers but the data has nc=3"):
        Trainer(options(data, tmp_path, cfg=str(cfg))).train()


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(data, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "yolor_cfg", "train", "--cfg", str(shipped_cfg("yolor_tiny")), "--data", str(data), "--epochs", "1",
           "--batch", "8", "--img", "64", "--workers", "0", "--project", str(tmp_path), "--name", "ddp"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    weights = sorted(p.name for p in (tmp_path / "ddp" / "weights").iterdir())
    assert weights == ["best.pt", "last.pt"]
    assert "x2" in result.stdout  # rank 0 reports the world size
    ckpt = read_torch_file(tmp_path / "ddp" / "weights" / "last.pt")
    assert not any(k.startswith("module.") for k in list(ckpt["model"]) + list(ckpt["model_train"]))
    yolor_cfg.load(tmp_path / "ddp" / "weights" / "last.pt")


def test_fine_tuning_to_another_class_count(data, tmp_path, trained_weights, capsys):
    """YOLOR issues #141 and #253: a 3-class checkpoint trained on for 4 classes loads every tensor that
    fits and starts the prediction convolutions (and their implicit layers) fresh, saying which."""
    cfg4 = tmp_path / "tiny4.cfg"
    assert main(["set-classes", str(shipped_cfg("yolor_tiny")), "4", "--out", str(cfg4)]) == 0
    data4 = tmp_path / "data4.yaml"
    data4.write_text(data.read_text().replace("nc: 3", "nc: 4").replace("- triangle", "- triangle\n- star"))
    capsys.readouterr()
    result = yolor_cfg.api.train(str(cfg4), str(data4), epochs=1, batch=8, img=64, workers=0, weights=str(trained_weights),
                                 project=str(tmp_path / "runs"), progress=False, max_steps=1)
    text = capsys.readouterr().out
    assert "fine-tuning" in text and "to classes=4" in text and "class-dependent ones start fresh" in text
    fresh = [line for line in text.splitlines() if "in the weights" in line]
    assert fresh and all("(24, " in line and "(27, " in line for line in fresh if "Conv2d.weight" in line)
    model = yolor_cfg.compile(cfg4, img_size=64)
    assert model.load_weights(trained_weights, fit_classes=True)  # the Python API twin
    reference = yolor_cfg.load(trained_weights)
    assert torch.equal(model.state_dict()["module_list.1.Conv2d.weight"],
                       reference.state_dict()["module_list.1.Conv2d.weight"])
    with pytest.raises(yolor_cfg.core.errors.WeightsError, match="expected shape"):
        yolor_cfg.compile(cfg4, img_size=64).load_weights(trained_weights)  # without fit_classes: exact, as before
    assert result.save_dir.exists()


def test_a_darknet_dialect_cfg_is_not_trained_with_yolors_boxes(data, tmp_path):
    """Training uses YOLOR's box parameterisation; a Darknet-dialect head decodes another way, so the
    run is refused before anything is written instead of producing a model scored with another decoder."""
    cfg = tmp_path / "dark.cfg"
    cfg.write_text(shipped_cfg("yolor_tiny").read_text().replace("[net]\n", "[net]\ndialect=darknet\n", 1))
    with pytest.raises(TrainingError, match="darknet dialect .*a decoder its loss never saw"):
        Trainer(options(data, tmp_path / "runs", cfg=str(cfg))).train()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert main(["train", "--cfg", str(cfg), "--dialect", "yolor", "--data", str(data), "--epochs", "1", "--batch", "8",
                 "--img", "64", "--workers", "0", "--project", str(tmp_path / "runs"), "--max-steps", "1"]) == 0


def test_ema_matches_yolors_formula():
    """ModelEMA (on torch's AveragedModel) gives what YOLOR's hand-written EMA gives, buffers included."""
    import math

    from yolor_cfg.workflows.train.trainer import ModelEMA

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    ema = ModelEMA(model, updates=5)
    for updates in range(6, 9):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
            model[1].running_mean.add_(1.0)
            model[1].num_batches_tracked.add_(1)
        ema.update(model)
        d = 0.9999 * (1 - math.exp(-updates / 2000))
        for k, v in model.state_dict().items():
            expected[k] = expected[k] * d + (1 - d) * v if v.dtype.is_floating_point else v.clone()
    assert ema.updates == 8
    for k, v in ema.ema.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=1e-6, atol=1e-7)
