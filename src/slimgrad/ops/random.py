"""Random ops: inverted dropout (elementwise and channel-wise), drawing from the global generator
(``slimgrad.manual_seed``)."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor


class MaskMul(Function):
    """``x * mask`` for a fixed (pre-scaled) mask; the gradient is ``g * mask``."""

    def forward(self, x, mask=None):
        self.mask = mask
        return x * mask

    def backward(self, g):
        return g * self.mask


def _check(input, p, op: str) -> None:
    if not isinstance(p, (int, float, np.floating, np.integer)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability p has to be between 0 and 1, but got {p!r}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {input.dtype}")


def _keep_mask(shape, p: float, dtype) -> np.ndarray:
    """Bernoulli(1 - p) mask scaled by 1 / (1 - p), so the expected output equals the input."""
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    keep = backend.default_rng().random(shape, dtype=np.float32) >= p
    return keep.astype(dtype) * (1.0 / (1.0 - p))


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)`` (identity when not
    ``training`` or ``p == 0``)."""
    _check(input, p, "dropout")
    if not training or p == 0:
        return input
    return MaskMul.apply(input, mask=_keep_mask(input.shape, float(p), input.dtype))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, H, W) or (C, H, W) input with probability ``p``, scaling the kept
    ones by ``1 / (1 - p)``."""
    _check(input, p, "dropout2d")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {input.shape}")
    if not training or p == 0:
        return input
    mask_shape = input.shape[:-2] + (1, 1)
    return MaskMul.apply(input, mask=_keep_mask(mask_shape, float(p), input.dtype))
