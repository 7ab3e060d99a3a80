"""The argument checks (core/checks.py): the command line and the Python functions refuse the same values."""
import pytest
import torch

import yolor_cfg
from yolor_cfg.core.checks import UsageError
from yolor_cfg.deploy.formats import ExportOptions, export_onnx
from yolor_cfg.workflows.detect import Predictor, run_detect
from yolor_cfg.workflows.train.trainer import TrainOptions, Trainer

from tests.helpers import TINY_CFG, run_cli


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_device_zero_without_cuda_says_so(capsys):
    code, out = run_cli(capsys, "train", "--cfg", TINY_CFG, "--device", "0")
    assert code == 2 and "no CUDA device is available on this machine" in out


def test_the_python_api_checks_the_same_way(tmp_path):
    model = yolor_cfg.compile(TINY_CFG, img_size=64)
    with pytest.raises(UsageError, match="NMS IoU threshold"):
        export_onnx(model, tmp_path / "x.onnx", ExportOptions(nms=True, iou=-1))
    with pytest.raises(UsageError, match="opset 5"):
        export_onnx(model, tmp_path / "x.onnx", ExportOptions(opset=5))
    with pytest.raises(UsageError, match="epochs must be"):
        Trainer(TrainOptions(cfg=TINY_CFG, epochs=-1, project=str(tmp_path)))
    with pytest.raises(UsageError, match="confidence threshold"):
        run_detect(Predictor(model), str(tmp_path), tmp_path / "out", conf=2)
    assert list(tmp_path.iterdir()) == []
