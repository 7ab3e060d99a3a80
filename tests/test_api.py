"""The Python API does what the command line does: one workflow function per command, each
returning its result object (the README's examples, run)."""
import numpy as np
import pytest

import yolor_cfg
from yolor_cfg import api
from yolor_cfg.core.checks import UsageError
from yolor_cfg.workflows.train.synth import build_synth

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


@pytest.mark.parametrize("size, message", [
    ("640", "img_size must be a whole number, got '640'"),
    (640.0, "img_size must be a whole number, got 640.0"),
    (-64, "img_size must be from 32 to 8192, got -64$"),
    ((64, 64, 3), r"img_size is one side or \(height, width\)"),
])
def test_compile_checks_the_input_size(size, message):
    from yolor_cfg.core.checks import UsageError

    with pytest.raises(UsageError, match=message):
        yolor_cfg.compile("cfg/yolor_tiny.cfg", img_size=size)


def test_paths_of_the_wrong_type_are_named():
    from yolor_cfg.core.checks import UsageError

    with pytest.raises(UsageError, match="weights must be a path .*got int 123"):
        api.val("cfg/yolor_tiny.cfg", weights=123)


def test_predict_takes_grey_and_bgra_and_refuses_floats():
    from yolor_cfg.core.checks import UsageError

    model = yolor_cfg.compile("cfg/yolor_tiny.cfg", img_size=64)
    bgr = np.full((64, 64, 3), 90, np.uint8)
    same = [model.predict(x) for x in (bgr, bgr[:, :, 0], bgr[:, :, :1], np.dstack([bgr, np.full((64, 64), 255, np.uint8)]))]
    assert all(len(d) == len(same[0]) for d in same)
    with pytest.raises(UsageError, match="got float32; convert it"):
        model.predict(bgr.astype(np.float32) / 255)  # used to be divided by 255 a second time
    with pytest.raises(UsageError, match="got shape"):
        model.predict(np.zeros((64, 64, 2), np.uint8))
