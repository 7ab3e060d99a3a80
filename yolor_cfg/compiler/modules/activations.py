"""Darknet's activation functions as modules (exact formulas, ONNX-exportable ops)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class _Fn(nn.Module):
    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def extra_repr(self) -> str:
        return self.name


class Linear(_Fn):
    def forward(self, x):
        return x


class Leaky(_Fn):
    def forward(self, x):
        return F.leaky_relu(x, 0.1, inplace=not torch.is_grad_enabled() and not torch.jit.is_tracing())


class ReLU(_Fn):
    def forward(self, x):
        return F.relu(x)


class ReLU6(_Fn):
    def forward(self, x):
        return x.clamp(0.0, 6.0)


class Logistic(_Fn):
    def forward(self, x):
        return torch.sigmoid(x)


class Tanh(_Fn):
    def forward(self, x):
        return torch.tanh(x)


class SiLU(_Fn):  # Darknet's swish and YOLOR's silu are the same function
    def forward(self, x):
        return F.silu(x, inplace=not torch.is_grad_enabled() and not torch.jit.is_tracing())


class Mish(_Fn):
    def forward(self, x):
        return x * torch.tanh(F.softplus(x))


class HardMish(_Fn):
    def forward(self, x):
        return torch.where(x > 0, x, torch.where(x > -2, x * x / 2 + x, torch.zeros_like(x)))


class GELU(_Fn):  # Darknet uses the tanh approximation
    def forward(self, x):
        return F.gelu(x, approximate="tanh")


class HardSwish(_Fn):
    def forward(self, x):
        return x * (x + 3).clamp(0.0, 6.0) / 6


class ELU(_Fn):
    def forward(self, x):
        return F.elu(x)


class SELU(_Fn):
    """Darknet's SELU: its constants are rounded to 1.0507 and 1.6732 (torch's selu uses the exact
    ones, 4e-5 apart)."""

    def forward(self, x):
        return 1.0507 * torch.where(x >= 0, x, 1.6732 * (torch.exp(x) - 1))


class HardTan(_Fn):
    def forward(self, x):
        return x.clamp(-1.0, 1.0)


class Loggy(_Fn):
    def forward(self, x):
        return 2 * torch.sigmoid(x) - 1


class Relie(_Fn):
    def forward(self, x):
        return torch.where(x > 0, x, 0.01 * x)


class Ramp(_Fn):
    def forward(self, x):
        return F.relu(x) + 0.1 * x


class LHTan(_Fn):
    def forward(self, x):
        return torch.where(x < 0, 0.001 * x, torch.where(x > 1, 0.001 * (x - 1) + 1, x))


ACTIVATIONS: dict[str, type[_Fn]] = {
    "linear": Linear, "leaky": Leaky, "relu": ReLU, "relu6": ReLU6, "logistic": Logistic, "tanh": Tanh,
    "swish": SiLU, "silu": SiLU, "mish": Mish, "hard_mish": HardMish, "gelu": GELU, "hardswish": HardSwish,
    "elu": ELU, "selu": SELU, "hardtan": HardTan, "loggy": Loggy, "relie": Relie, "ramp": Ramp, "lhtan": LHTan,
}


def make_activation(name: str) -> nn.Module:
    return ACTIVATIONS[name](name)
