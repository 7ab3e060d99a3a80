"""Hyperparameter files (train/hyp.py): a misspelt key is refused with a suggestion, in Python and on the CLI."""
import pytest

from yolor_cfg.core.checks import UsageError
from yolor_cfg.workflows.train.hyp import load_hyp

from tests.helpers import TINY_CFG, run_cli


def test_unknown_hyperparameter_is_a_message(capsys, tmp_path):
    hyp = tmp_path / "hyp.yaml"
    hyp.write_text("lr0: 0.01\nmomentun: 0.9\n")
    with pytest.raises(UsageError, match=r"unknown hyperparameters momentun \(did you mean momentum\?\)"):
        load_hyp(hyp)
    code, out = run_cli(capsys, "train", "--cfg", TINY_CFG, "--hyp", hyp, "--project", tmp_path / "runs")
    assert code == 1 and "error: " in out and "Traceback" not in out
