"""The validation loop refuses data that cannot produce a metric, and a model of other classes."""
import re
import shutil

import pytest
import yaml

from yolor_cfg import api
from yolor_cfg.cli import main
from yolor_cfg.workflows.train.synth import build_synth

from tests.deploy_support import TRAINED


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return build_synth(tmp_path_factory.mktemp("val"), n_train=4, n_val=4, img=64, seed=1)


def _variant(tmp_path, synth, **changes):
    data = yaml.safe_load(synth.read_text()) | changes
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_val_split_without_labels_prints_no_metric(tmp_path, synth, capsys):
    images = tmp_path / "unlabelled" / "images"
    shutil.copytree(synth.parent / "images" / "val", images)
    data = _variant(tmp_path, synth, val=str(images))
    assert main(["val", "--weights", str(TRAINED), "--data", str(data), "--img", "256", "--workers", "0"]) == 1
    text = capsys.readouterr()
    assert "have no labelled boxes" in text.err and not re.search(r"mAP@0\.5\S*\s+-?\d", text.out)


def test_no_usable_val_image_prints_no_metric(tmp_path, synth, capsys):
    broken = tmp_path / "broken" / "images"
    broken.mkdir(parents=True)
    (broken / "a.png").write_bytes(b"not a png")
    data = _variant(tmp_path, synth, val=str(broken))
    assert main(["val", "--weights", str(TRAINED), "--data", str(data), "--img", "256", "--workers", "0"]) == 1
    assert "no usable images" in capsys.readouterr().err


def test_a_model_of_other_classes_is_refused(tmp_path, synth):
    from yolor_cfg.core.checks import UsageError

    data = _variant(tmp_path, synth, nc=5, names=["a", "b", "c", "d", "e"])
    with pytest.raises(UsageError, match="the model predicts 3 classes but the data has 5"):
        api.val(weights=TRAINED, data=str(data), img=256, workers=0)


def test_training_refuses_an_unlabelled_val_split(tmp_path, synth):
    from yolor_cfg.core.checks import UsageError

    images = tmp_path / "unlabelled" / "images"
    shutil.copytree(synth.parent / "images" / "val", images)
    data = _variant(tmp_path, synth, val=str(images))
    with pytest.raises(UsageError, match="no labelled boxes"):
        api.train("cfg/yolor_tiny.cfg", str(data), epochs=1, batch=2, img=64, workers=0, project=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
