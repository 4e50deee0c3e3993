"""``Linear``: the fully connected layer ``y = x W^T + b``."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from . import init
from .module import Module
from .parameter import Parameter


def _check_features(value, name: str, layer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{layer}: {name} must be a non-negative integer, got {value!r}")
    return int(value)


class Linear(Module):
    """``y = x W^T + b`` on the last dimension: input (*, in_features) -> output (*, out_features).

    ``weight`` has shape (out_features, in_features) and ``bias`` (out_features,), both initialised as
    PyTorch does: ``kaiming_uniform_(weight, a=sqrt(5))``, i.e. U(-1/sqrt(in_features), 1/sqrt(in_features)),
    and the bias from the same distribution.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        if device is not None and not str(device).startswith("cpu"):
            raise ValueError(f"Linear: only device='cpu' is supported, got {device!r}")
        self.in_features = _check_features(in_features, "in_features", "Linear")
        self.out_features = _check_features(out_features, "out_features", "Linear")
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        self.bias = Parameter(np.empty((self.out_features,), dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): expected input "
                f"with last dimension {self.in_features}, got shape {tuple(input.shape)}"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
