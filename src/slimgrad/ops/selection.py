"""Selections between values: maximum, minimum, clamp, where. The gradient goes to the selected input."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, unbroadcast
from .operands import _apply_binary, _binary_operands


class Maximum(Function):
    """Elementwise max; where the two are equal the gradient is split evenly (as PyTorch does)."""

    _select, _wins = staticmethod(np.maximum), staticmethod(np.greater)

    def forward(self, a, b):
        self.a, self.b = a, b
        return self._select(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        wa = self._wins(a, b) + 0.5 * (a == b)
        wa = wa.astype(g.dtype, copy=False)
        ga = unbroadcast(g * wa, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (1 - wa), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Minimum(Maximum):
    """Elementwise min; ties split the gradient evenly."""

    _select, _wins = staticmethod(np.minimum), staticmethod(np.less)


class Clip(Function):
    """``clamp(a, min, max)``; the gradient passes where ``min <= a <= max`` (PyTorch's rule)."""

    def forward(self, a, min=None, max=None):
        mask = np.ones(a.shape, dtype=bool)
        if min is not None:
            mask &= a >= min
        if max is not None:
            mask &= a <= max
        self.mask = mask
        out = a
        if min is not None:
            out = np.maximum(out, np.asarray(min, dtype=a.dtype))
        if max is not None:
            out = np.minimum(out, np.asarray(max, dtype=a.dtype))
        return out  # a new array: clamp() passes at least one bound

    def backward(self, g):
        return g * self.mask


class Where(Function):
    """``where(condition, a, b)``; condition is a fixed boolean array (no gradient)."""

    def forward(self, a, b, condition=None):
        self.cond, self.shapes = condition, (a.shape, b.shape)
        return np.where(condition, a, b)

    def backward(self, g):
        sa, sb = self.shapes
        zero = np.zeros((), dtype=g.dtype)
        ga = unbroadcast(np.where(self.cond, g, zero), sa) if self.needs_input_grad[0] else None
        gb = unbroadcast(np.where(self.cond, zero, g), sb) if self.needs_input_grad[1] else None
        return ga, gb


def maximum(a, b) -> Tensor:
    return _apply_binary(Maximum, a, b, "maximum")


def minimum(a, b) -> Tensor:
    return _apply_binary(Minimum, a, b, "minimum")


def clamp(a: Tensor, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # tensor bounds get gradients too: max(min(a, ...)) as selections, ties going to ``a`` (PyTorch's rule)
        out = a
        if min is not None:
            out = where((out < min).data, min, out)
        if max is not None:
            out = where((out > max).data, max, out)
        return out
    return Clip.apply(a, min=min, max=max)


clip = clamp


def where(condition, a, b) -> Tensor:
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != bool:
        raise TypeError(f"where: expected a boolean condition, got dtype {cond.dtype}")
    a, b = _binary_operands(a, b)
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: condition {cond.shape}, input {a.shape} and other {b.shape} are not "
                         f"broadcastable") from None
    return Where.apply(a, b, condition=cond)
