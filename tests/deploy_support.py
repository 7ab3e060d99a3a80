"""Shared by the deployment tests: the trained tiny model (yolor_tiny, 4 epochs on the synthetic set:
mAP@0.5 0.92; made by tools/train_synth.py and saved with model.save_weights) and a small synthetic
dataset to calibrate and validate on."""
from pathlib import Path

from yolor_cfg.compiler.model import shipped_cfg
from yolor_cfg.workflows.train.synth import build_synth

TRAINED = Path(__file__).parent / "fixtures" / "trained" / "yolor_tiny_synth.pt"
# the demo's model as a CPU without native bf16 trains it (fp32): see tests/fixtures/trained/README.md
TRAINED_FP32 = Path(__file__).parent / "fixtures" / "trained" / "yolor_tiny_synth_fp32.pt"
CFG = str(shipped_cfg("yolor_tiny"))


def small_synth(root: Path) -> Path:
    """A data yaml: 48 train and 48 val images of the synthetic set at 256 px (a seed the model was
    not trained on)."""
    return build_synth(root, n_train=48, n_val=48, img=256, seed=7)


def hard_to_quantize(out: Path, channel: int = 5, value: float = 1e4) -> Path:
    """The trained tiny model with one activation made hostile to per-tensor INT8: channel ``channel`` of
    layer 3 (a 1x1 [convolutional] read only by layer 4) becomes the constant ``value`` and layer 4
    ignores it. The float model barely changes; quantized, that tensor's step is ``value`` / 255, so
    its other channels round to a level or two."""
    import torch

    from yolor_cfg import api

    model = api.load(TRAINED)
    with torch.no_grad():
        bn = model.module_list[3].BatchNorm2d
        bn.weight[channel], bn.bias[channel] = 0.0, value
        model.module_list[4].Conv2d.weight[:, channel] = 0.0
    model.save_weights(out)
    return out
