"""Checkpoints (io/checkpoint.py): YOLOR's and ours, read by content, wrong tensors named."""
import pytest
import torch

import yolor_cfg
from yolor_cfg.core.errors import WeightsError
from yolor_cfg.compiler.model import shipped_cfg

from tests.helpers import assert_close, shared_path


@pytest.fixture(scope="module")
def fixture():
    return torch.load(shared_path("conformance", "all_layers.pt"), weights_only=True)


def test_load_weights_from_checkpoint_file(tmp_path, fixture):
    path = tmp_path / "yolor.pt"
    torch.save({"model": {f"module.{k}": v for k, v in fixture["state_dict"].items()}, "epoch": 3}, path)
    m = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg")).eval()
    m.load_weights(path)
    with torch.no_grad():
        assert_close(m(fixture["x1"])[0], fixture["eval_x1"], "eval_x1 via file")


def test_bad_state_dict_names_layer_line_and_shapes(fixture):
    m = yolor_cfg.compile(shared_path("conformance", "all_layers.cfg"))
    sd = dict(fixture["state_dict"])
    sd["module_list.27.Conv2d.weight"] = torch.zeros(22, 32, 1, 1)
    del sd["module_list.19.implicit"]
    sd["module_list.40.extra"] = torch.zeros(1)
    from yolor_cfg.compiler.io import load_state_dict

    with pytest.raises(WeightsError) as info:
        load_state_dict(m, sd, "bad.pt")
    text = str(info.value)
    assert "layer 27 [convolutional] (line 159) Conv2d.weight: expected shape (21, 32, 1, 1), found (22, 32, 1, 1)" in text
    assert "missing tensor layer 19 [implicit_add]" in text and "unexpected tensor module_list.40.extra" in text


def test_our_checkpoint_carries_names_into_the_model(tmp_path):
    model = yolor_cfg.compile(shipped_cfg("yolor_tiny"))
    model.save_weights(tmp_path / "m.pt", names=["a", "b", "c"])
    again = yolor_cfg.compile(shipped_cfg("yolor_tiny"))
    again.load_weights(tmp_path / "m.pt")
    assert again.names == ["a", "b", "c"] and yolor_cfg.load(tmp_path / "m.pt").names == ["a", "b", "c"]
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


def test_a_full_disk_is_an_error_not_a_traceback(tmp_path, trained_weights):
    """ulimit -f as a stand-in for a full disk: the save fails cleanly and leaves nothing behind."""
    import subprocess
    import sys

    script = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (100000, 100000)); "
              "from yolor_cfg.cli import main; sys.exit(main(['convert', '--cfg', 'cfg/yolor_tiny.cfg', "
              f"'--weights', {str(trained_weights)!r}, '--out', {str(tmp_path / 'big.pt')!r}]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())


def test_zero_byte_checkpoint_says_empty(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(WeightsError, match=r"the file is empty \(0 bytes\)"):
        yolor_cfg.compile(shipped_cfg("yolor_tiny"), img_size=64).load_weights(tmp_path / "empty.pt")
