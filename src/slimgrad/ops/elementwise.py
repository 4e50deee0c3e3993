"""Elementwise operations: arithmetic, exp/log, maximum/minimum, clamp, where, dtype casts.

Each op is a Function (forward on arrays, backward right below it) and a lower-case function that
accepts tensors or Python scalars. Binary ops broadcast; their backward sums the gradient back to each
input's shape (``unbroadcast``).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, unbroadcast


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """``x`` as a Tensor; Python/NumPy scalars take ``like``'s floating dtype so float32 stays float32."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]  # a 0-d array behaves like the scalar it holds
    if like is not None and isinstance(x, (int, float, np.number)) and like.dtype.kind == "f":
        return Tensor._wrap(np.asarray(x, dtype=like.dtype))
    return Tensor(x)


def _check_float(t: Tensor, op: str, arg: str = "input") -> None:
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point {arg}, got dtype {t.dtype}")


def _binary_operands(a, b):
    """Both operands as Tensors. Scalars take the tensor's dtype; an integer tensor meeting a floating one
    is cast to that floating dtype (PyTorch's promotion: int64 + float32 -> float32, not NumPy's float64)."""
    if not isinstance(a, Tensor):
        a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(b, like=a)
    if a.data.dtype != b.data.dtype:
        a_float = a.dtype.kind == "f"
        if a_float == (b.dtype.kind == "f") and (a.ndim == 0) != (b.ndim == 0):
            # PyTorch: a 0-d tensor of the same kind does not promote a dimensioned one (f32 + 0-d f64 -> f32)
            if a.ndim == 0:
                a = cast(a, b.dtype)
            else:
                b = cast(b, a.dtype)
        elif a_float != (b.dtype.kind == "f"):
            if a_float:
                b = Tensor._wrap(b.data.astype(a.dtype))
            else:
                a = Tensor._wrap(a.data.astype(b.dtype))
    return a, b


def _check_broadcast(a: Tensor, b: Tensor, op: str) -> None:
    sa, sb = a.data.shape, b.data.shape
    if sa == sb or not sa or not sb:
        return
    if any(x != y and x != 1 and y != 1 for x, y in zip(sa[::-1], sb[::-1])):
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
            with np.errstate(divide="ignore", invalid="ignore"):
                da = np.where(b == 0, np.zeros((), dtype=out.dtype), b * a ** (b - 1))  # d(a^0)/da = 0, also at a=0
            ga = unbroadcast(g * da, a.shape)
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
        if e == 0:
            return np.zeros_like(g)
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


def square(a: Tensor) -> Tensor:
    return Square.apply(a)


def reciprocal(a: Tensor) -> Tensor:
    _check_float(a, "reciprocal")
    return Reciprocal.apply(a)


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
