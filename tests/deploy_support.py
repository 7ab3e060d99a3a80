"""Shared by the deployment tests: the trained tiny model (yolor_tiny, 4 epochs on the synthetic set:
mAP@0.5 0.92; made by tools/train_synth.py and saved with model.save_weights) and a small synthetic
dataset to calibrate and validate on."""
from pathlib import Path

from yolor_cfg.models import shipped_cfg
from yolor_cfg.train.synth import build_synth

TRAINED = Path(__file__).parent / "fixtures" / "trained" / "yolor_tiny_synth.pt"
CFG = str(shipped_cfg("yolor_tiny"))


def small_synth(root: Path) -> Path:
    """A data yaml: 48 train and 48 val images of the synthetic set at 256 px (a seed the model was
    not trained on)."""
    return build_synth(root, n_train=48, n_val=48, img=256, seed=7)
