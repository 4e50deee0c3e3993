"""Elementwise operations: arithmetic, exp/log, comparisons-with-gradient (maximum, clip, where).

Each op is a Function (forward on arrays, backward right below it) and a lower-case function that
accepts tensors or Python scalars. Binary ops broadcast; their backward sums the gradient back to each
input's shape (``unbroadcast``).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, unbroadcast


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor; Python/NumPy scalars take ``like``'s floating dtype so float32 stays float32."""
    if isinstance(x, Tensor):
        return x
    if like is not None and np.isscalar(x) and np.issubdtype(like.dtype, np.floating):
        return Tensor._wrap(np.asarray(x, dtype=like.dtype))
    return Tensor(x)


def _check_float(t: Tensor, op: str, arg: str = "input") -> None:
    if not np.issubdtype(t.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating-point {arg}, got dtype {t.dtype}")


def _binary_operands(a, b):
    if not isinstance(a, Tensor):
        a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(b, like=a)
    return a, b


def _check_broadcast(a: Tensor, b: Tensor, op: str) -> None:
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} are not broadcastable (each trailing dimension must "
            f"match or be 1)"
        ) from None


class Add(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        return (unbroadcast(g, sa) if self.needs_input_grad[0] else None,
                unbroadcast(g, sb) if self.needs_input_grad[1] else None)


class Sub(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, g):
        sa, sb = self.shapes
        return (unbroadcast(g, sa) if self.needs_input_grad[0] else None,
                unbroadcast(-g, sb) if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        a, b = self.a, self.b
        return (unbroadcast(g * b, a.shape) if self.needs_input_grad[0] else None,
                unbroadcast(g * a, b.shape) if self.needs_input_grad[1] else None)


class Div(Function):
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
            ga = unbroadcast(g * b * a ** (b - 1), a.shape)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(out.dtype, copy=False)
            gb = unbroadcast(g * out * log_a, b.shape)
        return ga, gb


class PowScalar(Function):
    def forward(self, a, exponent):
        self.a, self.exponent = a, exponent
        return a ** exponent

    def backward(self, g):
        e = self.exponent
        if e == 2:
            return g * (2 * self.a)
        return g * (e * self.a ** (e - 1))


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):
        return -g


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):
        return g * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, g):
        return g / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):
        return g * np.sign(self.a)


class Maximum(Function):
    """Elementwise max; where the two are equal the gradient is split evenly (as PyTorch does)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        wa = (a > b) + 0.5 * (a == b)
        wa = wa.astype(g.dtype, copy=False)
        ga = unbroadcast(g * wa, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (1 - wa), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Minimum(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        wa = (a < b) + 0.5 * (a == b)
        wa = wa.astype(g.dtype, copy=False)
        ga = unbroadcast(g * wa, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (1 - wa), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


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
        return out if out is not a else a.copy()

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


# ----------------------------------------------------------------- lower-case API
def add(a, b) -> Tensor:
    a, b = _binary_operands(a, b)
    _check_broadcast(a, b, "add")
    return Add.apply(a, b)


def sub(a, b) -> Tensor:
    a, b = _binary_operands(a, b)
    _check_broadcast(a, b, "sub")
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    a, b = _binary_operands(a, b)
    _check_broadcast(a, b, "mul")
    return Mul.apply(a, b)


def div(a, b) -> Tensor:
    a, b = _binary_operands(a, b)
    _check_broadcast(a, b, "div")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(b.dtype, np.floating):
        a = Tensor._wrap(a.data.astype(np.float32))  # true division of integers, as in PyTorch
    return Div.apply(a, b)


def pow(a, exponent) -> Tensor:
    if isinstance(a, Tensor) and not isinstance(exponent, Tensor) and np.isscalar(exponent):
        return PowScalar.apply(a, exponent=exponent)
    a, exponent = _binary_operands(a, exponent)
    _check_broadcast(a, exponent, "pow")
    return Pow.apply(a, exponent)


def neg(a: Tensor) -> Tensor:
    return Neg.apply(a)


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


def maximum(a, b) -> Tensor:
    a, b = _binary_operands(a, b)
    _check_broadcast(a, b, "maximum")
    return Maximum.apply(a, b)


def minimum(a, b) -> Tensor:
    a, b = _binary_operands(a, b)
    _check_broadcast(a, b, "minimum")
    return Minimum.apply(a, b)


def clamp(a: Tensor, min=None, max=None) -> Tensor:
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clip.apply(a, min=min, max=max)


clip = clamp


def where(condition, a, b) -> Tensor:
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != bool:
        raise TypeError(f"where: expected a boolean condition, got dtype {cond.dtype}")
    a, b = _binary_operands(a, b)
    return Where.apply(a, b, condition=cond)
