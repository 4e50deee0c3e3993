"""Elementwise math named as in PyTorch: exp, log, sqrt, abs, log1p, expm1, sin, cos, rsqrt (differentiable);
rounding, floor division, remainder and the logical operators (piecewise constant or boolean: no gradient,
as their PyTorch gradient is zero almost everywhere).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from .compare import _compare
from .operands import _binary_operands, _check_float, as_tensor


class Exp(Function):
    """``exp(x)``; d/dx = exp(x) = out."""

    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    """``log(x)``; d/dx = 1 / x."""

    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    """``sqrt(x)``; d/dx = 1 / (2 out)."""

    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, g):
        return g / (2 * self.out)


class Abs(Function):
    """``|x|``; d/dx = sign(x) (0 at 0, as PyTorch)."""

    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):
        return g * np.sign(self.a)


def exp(a: Tensor) -> Tensor:
    _check_float(a, "exp")
    return Exp.apply(a)


def log(a: Tensor) -> Tensor:
    _check_float(a, "log")
    return Log.apply(a)


def sqrt(a: Tensor) -> Tensor:
    _check_float(a, "sqrt")
    return Sqrt.apply(a)


def abs(a: Tensor) -> Tensor:
    return Abs.apply(a)


class Log1p(Function):
    """``log(1 + x)``, accurate near 0; d/dx = 1 / (1 + x)."""

    def forward(self, a):
        self.a = a
        return np.log1p(a)

    def backward(self, g):
        return g / (1 + self.a)


class Expm1(Function):
    """``exp(x) - 1``, accurate near 0; d/dx = exp(x) = out + 1."""

    def forward(self, a):
        self.out = np.expm1(a)
        return self.out

    def backward(self, g):
        return g * (self.out + 1)


class Sin(Function):
    def forward(self, a):
        self.a = a
        return np.sin(a)

    def backward(self, g):
        return g * np.cos(self.a)


class Cos(Function):
    def forward(self, a):
        self.a = a
        return np.cos(a)

    def backward(self, g):
        return -g * np.sin(self.a)


class Rsqrt(Function):
    """``1 / sqrt(x)``; d/dx = -out^3 / 2."""

    def forward(self, a):
        with np.errstate(divide="ignore"):
            self.out = 1 / np.sqrt(a)
        return self.out

    def backward(self, g):
        return g * (-0.5 * self.out ** 3)


def _differentiable(cls, name: str):
    def op(input: Tensor) -> Tensor:
        input = as_tensor(input)
        _check_float(input, name)
        return cls.apply(input)
    op.__name__ = name
    return op


log1p = _differentiable(Log1p, "log1p")
expm1 = _differentiable(Expm1, "expm1")
sin = _differentiable(Sin, "sin")
cos = _differentiable(Cos, "cos")
rsqrt = _differentiable(Rsqrt, "rsqrt")


def _constant_unary(fn, name: str):
    def op(input: Tensor) -> Tensor:
        input = as_tensor(input)
        return Tensor._wrap(np.asarray(fn(input.data)))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` (no gradient)."
    return op


floor = _constant_unary(np.floor, "floor")
ceil = _constant_unary(np.ceil, "ceil")
round = _constant_unary(np.round, "round")  # half to even, as torch.round
trunc = _constant_unary(np.trunc, "trunc")


floor_divide = _compare(np.floor_divide, "floor_divide")
remainder = _compare(np.remainder, "remainder")  # sign of the divisor, as torch.remainder
fmod = _compare(np.fmod, "fmod")  # sign of the dividend, as torch.fmod
logical_and = _compare(np.logical_and, "logical_and")  # nonzero is True (NaN too), as torch
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")


def _bitwise(fn, name: str):
    """``&``, ``|``, ``^``: logical on booleans, bitwise on integers (floats refused, as in PyTorch)."""
    apply = _compare(fn, name)

    def op(a, b) -> Tensor:
        a, b = _binary_operands(a, b)
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            raise TypeError(f"{name}: expected boolean or integer tensors, got {a.dtype} and {b.dtype}")
        return apply(a, b)
    op.__name__ = name
    return op


bitwise_and = _bitwise(np.bitwise_and, "bitwise_and")
bitwise_or = _bitwise(np.bitwise_or, "bitwise_or")
bitwise_xor = _bitwise(np.bitwise_xor, "bitwise_xor")
