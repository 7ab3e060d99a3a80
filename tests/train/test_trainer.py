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
from yolor_cfg.io.checkpoint import read_torch_file
from yolor_cfg.train.synth import build_synth
from yolor_cfg.train.trainer import TrainingError, TrainOptions, Trainer

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


def test_nan_loss_stops_with_the_step_and_keeps_last_good_checkpoint(data, tmp_path, monkeypatch):
    first = Trainer(options(data, tmp_path, max_steps=4)).train()  # killed in epoch 2
    last = Path(first["save_dir"]) / "weights" / "last.pt"
    before = last.read_bytes()
    from yolor_cfg.train import loss as loss_module

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
