"""Operands of the elementwise ops: Python scalars and arrays as tensors, PyTorch's dtype promotion, and
the checks shared by the binary ops."""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from .cast import cast


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
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor {arg}, got {type(t).__name__}")
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


def _apply_binary(op, a, b, name: str) -> Tensor:
    """``op`` on ``a`` and ``b`` made tensors of one dtype (:func:`_binary_operands`), checked broadcastable."""
    a, b = _binary_operands(a, b)
    _check_broadcast(a, b, name)
    return op.apply(a, b)
