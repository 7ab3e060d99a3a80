"""The validation loop refuses data that cannot produce a metric, and a model of other classes."""
import re
import shutil

import pytest
import yaml

from yolor_cfg import api
from yolor_cfg.cli import main


def _variant(tmp_path, synth_data, **changes):
    """A data yaml in ``tmp_path``: the shared set's with ``changes``."""
    data = yaml.safe_load(synth_data.read_text()) | changes
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_val_split_without_labels_prints_no_metric(tmp_path, synth_data, trained_weights, capsys):
    images = tmp_path / "unlabelled" / "images"
    shutil.copytree(synth_data.parent / "images" / "val", images)
    data = _variant(tmp_path, synth_data, val=str(images))
    assert main(["val", "--weights", str(trained_weights), "--data", str(data), "--img", "256", "--workers", "0"]) == 1
    text = capsys.readouterr()
    assert "have no labelled boxes" in text.err and not re.search(r"mAP@0\.5\S*\s+-?\d", text.out)


def test_no_usable_val_image_prints_no_metric(tmp_path, synth_data, trained_weights, capsys):
    broken = tmp_path / "broken" / "images"
    broken.mkdir(parents=True)
    (broken / "a.png").write_bytes(b"not a png")
    data = _variant(tmp_path, synth_data, val=str(broken))
    assert main(["val", "--weights", str(trained_weights), "--data", str(data), "--img", "256", "--workers", "0"]) == 1
    assert "no usable images" in capsys.readouterr().err


def test_a_model_of_other_classes_is_refused(tmp_path, synth_data, trained_weights):
    from yolor_cfg.core.checks import UsageError

    for kind in ("images", "labels"):  # a copy: indexing it for 5 classes writes a label cache beside it
        shutil.copytree(synth_data.parent / kind / "val", tmp_path / kind / "val")
    data = _variant(tmp_path, synth_data, val=str(tmp_path / "images" / "val"), nc=5, names=["a", "b", "c", "d", "e"])
    with pytest.raises(UsageError, match="the model predicts 3 classes but the data has 5"):
        api.val(weights=trained_weights, data=str(data), img=256, workers=0)


def test_training_refuses_an_unlabelled_val_split(tmp_path, synth_data):
    from yolor_cfg.core.checks import UsageError

    images = tmp_path / "unlabelled" / "images"
    shutil.copytree(synth_data.parent / "images" / "val", images)
    data = _variant(tmp_path, synth_data, val=str(images))
    with pytest.raises(UsageError, match="no labelled boxes"):
        api.train("cfg/yolor_tiny.cfg", str(data), epochs=1, batch=2, img=64, workers=0, project=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
