"""OpenCV 4.x's Darknet importer as an independent oracle for the darknet dialect (test-only).

See ../shared/reference-cfg/darknet/ORACLE-NOTES.md for its known deviations."""
from __future__ import annotations

import numpy as np
import torch

from yolor_cfg.compiler.modules.conv import ConnectedBlock, ConvBlock


def randomize_unit_spread(model, x: torch.Tensor, seed: int = 0) -> None:
    """Random weights scaled layer by layer so every convolution's output has unit spread on x."""
    gen = torch.Generator().manual_seed(seed)

    def uniform(t, lo, hi):
        t.copy_(torch.rand(t.shape, generator=gen, dtype=t.dtype) * (hi - lo) + lo)

    def rescale(module, inputs):
        with torch.no_grad():
            inp = inputs[0]
            if isinstance(module, ConvBlock):
                conv = module.Conv2d
                w = torch.randn(conv.weight.shape, generator=gen, dtype=conv.weight.dtype)
                # zero-sum filters keep each output's mean near 0, so BN does not subtract two large,
                # nearly equal numbers (which would amplify OpenCV's float32 rounding)
                conv.weight.copy_(w - w.mean((1, 2, 3), keepdim=True))
                y = torch.nn.functional.conv2d(inp, conv.weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)
                bn = module.BatchNorm2d
            else:
                lin = module.Linear
                w = torch.randn(lin.weight.shape, generator=gen, dtype=lin.weight.dtype)
                lin.weight.copy_(w - w.mean(1, keepdim=True))
                y = inp.flatten(1) @ lin.weight.t()
                bn = module.BatchNorm1d
            weight = conv.weight if isinstance(module, ConvBlock) else lin.weight
            spread = y.std().clamp(min=1e-6)
            weight /= spread
            y = y / spread
            dims = (0, 2, 3) if y.dim() == 4 else (0,)
            if bn is not None:
                uniform(bn.weight, 0.75, 1.25)
                # a positive shift keeps most pre-activations on the linear side, so the random
                # network stays well-conditioned and float32 rounding does not grow with depth
                uniform(bn.bias, 0.5, 1.0)
                uniform(bn.running_var, 0.5, 1.0)
                bn.running_mean.copy_(y.mean(dims) + 0.05 * torch.randn(bn.running_mean.shape, generator=gen, dtype=y.dtype))
            else:
                bias = conv.bias if isinstance(module, ConvBlock) else lin.bias
                uniform(bias, -0.2, 0.2)

    hooks = [m.register_forward_pre_hook(rescale) for m in model.modules() if isinstance(m, (ConvBlock, ConnectedBlock))]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in hooks:
            h.remove()


def opencv_outputs(cfg_path, weights_path, image: np.ndarray, layer_names: list[str]) -> list[np.ndarray]:
    import cv2

    net = cv2.dnn.readNetFromDarknet(str(cfg_path), str(weights_path))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.enableFusion(False)
    net.setInput(image)
    return [np.asarray(o) for o in net.forward(layer_names)]


_ACTIVATION_PREFIXES = {"leaky", "mish", "swish", "logistic", "relu", "tanh", "elu", "hardswish", "sigmoid", "gelu"}


def opencv_output_names(net_names: list[str]) -> dict[int, str]:
    """Darknet layer index -> name of OpenCV's last sub-layer for it.

    OpenCV names a layer's sub-layers conv_i, bn_i, but its activation after the next index
    (leaky_{i+1}); activations therefore belong to the layer before them."""
    owner: dict[int, str] = {}
    current = -1
    for name in net_names:
        prefix, _, number = name.rpartition("_")
        if not number.isdigit():
            continue
        if prefix not in _ACTIVATION_PREFIXES:
            current = int(number)
        owner[current] = name
    return owner
