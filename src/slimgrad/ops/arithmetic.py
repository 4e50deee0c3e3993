"""Arithmetic: add, sub, mul, div, pow, neg, square, reciprocal.

Binary ops accept tensors or Python scalars and broadcast; their backward sums the gradient back to each
input's shape (``unbroadcast``).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, unbroadcast
from .operands import _apply_binary, _binary_operands, _check_broadcast, _check_float


class Add(Function):
    """``a + b``; the gradient passes to both, summed back to each shape."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        return (unbroadcast(g, sa) if self.needs_input_grad[0] else None,
                unbroadcast(g, sb) if self.needs_input_grad[1] else None)


class Sub(Function):
    """``a - b``; d/da = 1, d/db = -1."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, g):
        sa, sb = self.shapes
        return (unbroadcast(g, sa) if self.needs_input_grad[0] else None,
                unbroadcast(-g, sb) if self.needs_input_grad[1] else None)


class Mul(Function):
    """``a * b``; d/da = b, d/db = a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        a, b = self.a, self.b
        return (unbroadcast(g * b, a.shape) if self.needs_input_grad[0] else None,
                unbroadcast(g * a, b.shape) if self.needs_input_grad[1] else None)


class Div(Function):
    """``a / b``; d/da = 1 / b, d/db = -a / b^2."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        a, b = self.a, self.b
        ga = unbroadcast(g / b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """``a ** b`` for tensors a, b; d/da = b a^(b-1), d/db = a^b log a (0 where a == 0)."""

    def forward(self, a, b):
        out = a ** b
        self.a, self.b, self.out = a, b, out
        return out

    def backward(self, g):
        a, b, out = self.a, self.b, self.out
        ga = gb = None
        if self.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                da = np.where(b == 0, np.zeros((), dtype=out.dtype), b * a ** (b - 1))  # d(a^0)/da = 0, also at a=0
            ga = unbroadcast(g * da, a.shape)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(out.dtype, copy=False)
            gb = unbroadcast(g * out * log_a, b.shape)
        return ga, gb


class PowScalar(Function):
    """``a ** e`` for a Python number e; d/da = e a^(e-1) (0 for e = 0)."""

    def forward(self, a, exponent):
        self.a, self.exponent = a, exponent
        return a ** exponent

    def backward(self, g):
        e = self.exponent
        if e == 0:
            return np.zeros_like(g)
        if e == 2:
            return g * (2 * self.a)
        return g * (e * self.a ** (e - 1))


class Neg(Function):
    """``-a``; d/da = -1."""

    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Square(Function):
    """``a * a``; d/da = 2a."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        return g * (2 * self.a)


class Reciprocal(Function):
    """``1 / a``; d/da = -1/a^2 = -out^2."""

    def forward(self, a):
        self.out = 1 / a
        return self.out

    def backward(self, g):
        return -g * (self.out * self.out)


def add(a, b) -> Tensor:
    return _apply_binary(Add, a, b, "add")


def sub(a, b) -> Tensor:
    return _apply_binary(Sub, a, b, "sub")


def mul(a, b) -> Tensor:
    return _apply_binary(Mul, a, b, "mul")


def div(a, b) -> Tensor:
    a, b = _binary_operands(a, b)
    _check_broadcast(a, b, "div")
    if a.dtype.kind != "f" and b.dtype.kind != "f":
        # true division of integers gives the default float dtype, as in PyTorch
        dtype = backend.get_default_dtype()
        a, b = Tensor._wrap(a.data.astype(dtype)), Tensor._wrap(b.data.astype(dtype))
    return Div.apply(a, b)


def rsub(a, b) -> Tensor:
    """``b - a`` (PyTorch's ``rsub``)."""
    return sub(b, a)


def pow(a, exponent) -> Tensor:
    if isinstance(a, Tensor) and not isinstance(exponent, Tensor) and np.isscalar(exponent):
        if isinstance(exponent, np.generic):
            exponent = exponent.item()  # a NumPy float64 scalar would upcast float32 data
        if not np.issubdtype(a.dtype, np.floating) and isinstance(exponent, float):
            a = Tensor._wrap(a.data.astype(backend.get_default_dtype()))
        return PowScalar.apply(a, exponent=exponent)
    a, exponent = _binary_operands(a, exponent)
    _check_broadcast(a, exponent, "pow")
    return Pow.apply(a, exponent)


def neg(a: Tensor) -> Tensor:
    return Neg.apply(a)


def square(a: Tensor) -> Tensor:
    return Square.apply(a)


def reciprocal(a: Tensor) -> Tensor:
    _check_float(a, "reciprocal")
    return Reciprocal.apply(a)
