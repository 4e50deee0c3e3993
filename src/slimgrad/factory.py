"""Tensor factories named as in PyTorch: zeros, ones, full, arange, eye, rand, randn, randint, *_like.

Random factories draw from the global generator that ``sg.manual_seed`` seeds.
"""
from __future__ import annotations

import numpy as np

from . import backend
from .autograd import Tensor


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"size: expected non-negative integers, got {tuple(size)}")
    return tuple(int(n) for n in size)


def _dtype(dtype):
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(size), dtype=_dtype(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(size), dtype=_dtype(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    if dtype is None and isinstance(fill_value, (bool, int, np.integer)):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return Tensor(np.full(_shape((size,)), fill_value, dtype=_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(np.shape(t), dtype=dtype or np.asarray(t).dtype), requires_grad=requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor in PyTorch; here zero-filled, so results never depend on stale memory."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(np.shape(t), fill_value, dtype=dtype or np.asarray(t).dtype), requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    return rand(*np.shape(t), dtype=dtype or np.asarray(t).dtype, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    return randn(*np.shape(t), dtype=dtype or np.asarray(t).dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(np.shape(t), dtype=dtype or np.asarray(t).dtype), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero, got 0")
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    if dtype is None:
        dtype = np.int64 if integral else backend.get_default_dtype()
    return Tensor(np.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.linspace(start, end, steps).astype(_dtype(dtype)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=_dtype(dtype)), requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1)."""
    dt = _dtype(dtype)
    return Tensor(backend.default_rng().random(_shape(size), dtype=dt), requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    dt = _dtype(dtype)
    return Tensor(backend.default_rng().standard_normal(_shape(size), dtype=dt), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=np.int64) -> Tensor:
    """Integers uniform on [low, high) (``randint(high, size=...)`` as in PyTorch)."""
    if high is None or (isinstance(high, (tuple, list)) and size == ()):  # randint(high, size)
        low, high, size = 0, low, (() if high is None else high)
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    return Tensor(backend.default_rng().integers(low, high, size=_shape((size,)), dtype=dtype))


def randperm(n: int) -> Tensor:
    return Tensor(backend.default_rng().permutation(n).astype(np.int64))
