"""[convolutional] (layers/conv.py): Darknet's geometry rules and its activations, against plain
torch convolutions and NumPy transcriptions of Darknet's activations.h."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import yolor_cfg
from yolor_cfg.compiler.layers.conv import ACTIVATION_NAMES
from yolor_cfg.compiler.modules.activations import ACTIVATIONS, make_activation

from tests.helpers import header

NET = header(15, 13, channels=4)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):  # Darknet's softplus with its threshold of 20
    return np.where(x > 20, x, np.where(x < -20, np.exp(x), np.log1p(np.exp(x))))


DARKNET = {  # activations.h, one line each
    "linear": lambda x: x,
    "leaky": lambda x: np.where(x > 0, x, 0.1 * x),
    "relu": lambda x: x * (x > 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "logistic": _sigmoid,
    "tanh": lambda x: (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1),
    "swish": lambda x: x * _sigmoid(x),
    "silu": lambda x: x * _sigmoid(x),
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "hard_mish": lambda x: np.where(x > 0, x, np.where(x > -2, x * x / 2 + x, 0)),
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(0.797885 * x + 0.035677 * x ** 3)),
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "elu": lambda x: np.where(x >= 0, x, np.exp(x) - 1),
    "selu": lambda x: np.where(x >= 0, 1.0507 * x, 1.0507 * 1.6732 * (np.exp(x) - 1)),
    "hardtan": lambda x: np.clip(x, -1, 1),
    "loggy": lambda x: 2 * _sigmoid(x) - 1,
    "relie": lambda x: np.where(x > 0, x, 0.01 * x),
    "ramp": lambda x: x * (x > 0) + 0.1 * x,
    "lhtan": lambda x: np.where(x < 0, 0.001 * x, np.where(x > 1, 0.001 * (x - 1) + 1, x)),
}


def test_every_activation_the_cfg_accepts_has_a_module():
    assert set(ACTIVATIONS) == set(ACTIVATION_NAMES)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_darknet(name):
    assert name in DARKNET, f"activation {name} has no Darknet formula in this test"
    x = np.linspace(-25, 25, 2001, dtype=np.float64)
    with torch.no_grad():
        ours = make_activation(name)(torch.from_numpy(x).clone()).numpy()
    np.testing.assert_allclose(ours, DARKNET[name](x), rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("options, stride, padding, dilation", [
    ("size=3\npad=1\n", (1, 1), 1, 1),  # pad=1 means size/2, whatever padding= says
    ("size=3\npad=1\npadding=7\n", (1, 1), 1, 1),
    ("size=3\npadding=2\n", (1, 1), 2, 1),
    ("size=5\npad=1\nstride=2\n", (2, 2), 2, 1),
    ("size=3\npad=1\nstride_x=2\nstride_y=1\n", (1, 2), 1, 1),
    ("size=3\npad=1\ndilation=2\npadding=2\n", (1, 1), 1, 2),
    ("size=1\ndilation=3\n", (1, 1), 0, 1),  # dilation means nothing for 1x1
    ("size=3\npad=1\ngroups=2\n", (1, 1), 1, 1),
])
def test_convolution_geometry_is_darknets(write_cfg, options, stride, padding, dilation):
    groups = 2 if "groups=2" in options else 1
    model = yolor_cfg.compile(write_cfg(NET + f"[convolutional]\nfilters=6\n{options}activation=linear\n"),
                              dialect="darknet").eval()
    conv = model.module_list[0].Conv2d
    x = torch.randn(2, 4, 13, 15)
    ref = F.conv2d(x, conv.weight, conv.bias, stride, padding, dilation, groups)
    with torch.no_grad():
        ours = model(x)
    assert ours.shape == ref.shape and list(ours.shape[1:]) == model.graph.nodes[0].shape.as_list()
    torch.testing.assert_close(ours, ref)


def test_batchnorm_at_inference_uses_the_running_statistics(write_cfg):
    model = yolor_cfg.compile(write_cfg(NET + "[convolutional]\nbatch_normalize=1\nfilters=3\nsize=1\n"
                                              "activation=leaky\n"), dialect="darknet").eval()
    block = model.module_list[0]
    bn = block.BatchNorm2d
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2), bn.weight.uniform_(0.5, 2), bn.bias.uniform_(-1, 1)
        x = torch.randn(1, 4, 13, 15)
        z = F.conv2d(x, block.Conv2d.weight)
        z = (z - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
        ref = F.leaky_relu(z * bn.weight[:, None, None] + bn.bias[:, None, None], 0.1)
        torch.testing.assert_close(model(x), ref)
    assert block.Conv2d.bias is None  # Darknet stores the BN shift as the layer's bias: one vector, not two
