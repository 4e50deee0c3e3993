"""Copies and dtype conversions that stay in the graph: ``clone`` and ``cast`` (PyTorch's ``to(dtype)``)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor


class Clone(Function):
    """A copy that stays in the graph (gradient passes unchanged)."""

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


class Cast(Function):
    """Change the dtype; the gradient is cast back to the input's dtype."""

    def forward(self, a, dtype=None):
        self.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g):
        return g.astype(self.in_dtype)


def clone(a: Tensor) -> Tensor:
    return Clone.apply(a)


def cast(a: Tensor, dtype) -> Tensor:
    """``a`` as ``dtype`` (PyTorch's ``to(dtype)``); differentiable between floating dtypes."""
    dtype = np.dtype(dtype)
    if a.dtype == dtype:
        return a
    if not np.issubdtype(dtype, np.floating):
        return Tensor._wrap(a.data.astype(dtype))
    return Cast.apply(a, dtype=dtype)
