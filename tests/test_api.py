"""The Python API does what the command line does: one workflow function per command, each
returning its result object (the README's examples, run)."""
import pytest

from yolor_cfg import api
from yolor_cfg.checks import UsageError
from yolor_cfg.train.synth import build_synth

CFG = str(api.shipped_cfg("yolor_tiny"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    data = build_synth(root / "data", n_train=8, n_val=4, img=64, seed=0)
    run = api.train(CFG, data=str(data), epochs=1, batch=4, img=64, workers=0, project=str(root / "runs"),
                    name="exp", progress=False)
    return root, data, run


def test_train_returns_its_run(trained):
    _, _, run = trained
    assert run.best.exists() and run.last.exists() and (run.save_dir / "results.csv").exists()
    assert isinstance(run.metrics, dict)


def test_val_export_detect_benchmark(trained, tmp_path):
    root, data, run = trained
    metrics = api.val(CFG, weights=run.best, data=str(data), img=64, batch=4, workers=0, out=tmp_path / "val",
                      verbose=False)
    assert 0 <= metrics.map50 <= 1 and (tmp_path / "val" / "metrics.json").exists()
    report = api.export(CFG, tmp_path / "tiny.onnx", weights=run.best, img_size=64)
    assert report.parity[0][1] < 1e-4 and (tmp_path / "tiny.onnx").exists()
    images = data.parent / "images" / "val"
    found = api.detect(images, onnx=tmp_path / "tiny.onnx", out=tmp_path / "det", conf=0.01, progress=False)
    assert len(found) == 4 and not found.unreadable
    speed = api.benchmark(CFG, img=64, backends=["eager", "fused"], warmup=0, repeat=1, log=lambda *a: None)
    assert set(speed["speedup_vs_eager"]) == {"eager", "fused"}


def test_api_checks_like_the_command_line(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        api.val(tmp_path / "missing.cfg")
    with pytest.raises(UsageError, match="epochs must be"):
        api.train(CFG, epochs=0, project=str(tmp_path))
    with pytest.raises(UsageError, match="needs a cfg"):
        api.detect(tmp_path)
