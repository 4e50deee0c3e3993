"""Reductions over axes: sum, mean, prod, max/min, amax/amin, var/std, logsumexp, argmax/argmin.

``dim`` is None (all axes), an int or a sequence of ints; ``keepdim`` keeps reduced axes as size 1,
as in PyTorch. ``max(x, dim)`` returns ``(values, indices)`` like ``torch.max``.
"""
from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from ..autograd import Function, Tensor
from .operands import _check_float
from .selection import maximum, minimum

MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])


def normalize_axes(dim, ndim: int, op: str):
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes, validated."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    n = ndim or 1  # a 0-d tensor accepts dim 0 and -1, as in PyTorch
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{op}: dim must be an int or a sequence of ints, got {dim!r}")
        if not -n <= d < n:
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions "
                             f"(expected a value in [{-n}, {n - 1}])")
        out.append(int(d) % n)
    return tuple(sorted(set(out))) if ndim else ()


def _normalize_dim(dim, ndim: int, op: str) -> int:
    """One dim as a non-negative int (0 for a 0-d tensor)."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    return normalize_axes(dim, ndim, op)[0] if ndim else 0


def _expand_grad(g, axes, keepdim):
    """Reshape a reduced gradient so it broadcasts against the unreduced input."""
    if not keepdim and axes:
        g = np.expand_dims(g, axes)
    return g


class Sum(Function):
    def forward(self, a, axes=(), keepdim=False):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        return np.asarray(a.sum(axis=axes, keepdims=keepdim))

    def backward(self, g):
        return np.broadcast_to(_expand_grad(g, self.axes, self.keepdim), self.shape)


class Mean(Function):
    def forward(self, a, axes=(), keepdim=False):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        self.count = math.prod(a.shape[i] for i in axes)
        return np.asarray(a.mean(axis=axes, keepdims=keepdim))

    def backward(self, g):
        g = _expand_grad(g, self.axes, self.keepdim)
        return np.broadcast_to(g / self.count, self.shape)


class Prod(Function):
    """Product over one axis (or all). d/dx_i = prod of the others, computed with exclusive cumulative
    products from both sides so that zeros in the input are handled exactly."""

    def forward(self, a, axis=None, keepdim=False):
        self.a, self.axis, self.keepdim = a, axis, keepdim
        return np.asarray(a.prod(axis=axis, keepdims=keepdim))

    def backward(self, g):
        a, axis = self.a, self.axis
        moved = a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1)
        ones = np.ones(moved.shape[:-1] + (1,), dtype=a.dtype)
        left = np.cumprod(np.concatenate([ones, moved[..., :-1]], axis=-1), axis=-1)
        right = np.flip(np.cumprod(np.concatenate([ones, np.flip(moved, -1)[..., :-1]], axis=-1), axis=-1), -1)
        others = left * right
        others = others.reshape(a.shape) if axis is None else np.moveaxis(others, -1, axis)
        if axis is not None and not self.keepdim:
            g = np.expand_dims(g, axis)
        return g * others


class AMax(Function):
    """Max over axes; ties share the gradient evenly (PyTorch's ``amax`` and full ``max()`` rule)."""

    def forward(self, a, axes=(), keepdim=False, minimum=False):
        out = (a.min if minimum else a.max)(axis=axes, keepdims=True)
        mask = a == out
        self.weight = mask / mask.sum(axis=axes, keepdims=True).astype(a.dtype)
        self.axes, self.keepdim = axes, keepdim
        return out if keepdim else np.squeeze(out, axis=axes)

    def backward(self, g):
        return _expand_grad(g, self.axes, self.keepdim) * self.weight


class SelectAlongDim(Function):
    """Values at given ``indices`` along ``dim`` (``max(dim)``/``min(dim)``); the gradient goes to the
    selected index only."""

    def forward(self, a, indices=None, dim=0, keepdim=False):
        index = np.expand_dims(indices, dim)
        self.shape, self.index, self.dim, self.keepdim = a.shape, index, dim, keepdim
        out = np.take_along_axis(a, index, dim)
        return out if keepdim else np.squeeze(out, axis=dim)

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        g = g if self.keepdim else np.expand_dims(g, self.dim)
        np.put_along_axis(grad, self.index, g, self.dim)
        return grad


class Var(Function):
    """``sum((x - mean)^2) / (N - correction)``; d/dx = 2 (x - mean) / (N - correction)."""

    def forward(self, a, axes=(), correction=1, keepdim=False):
        self.centered = a - a.mean(axis=axes, keepdims=True)
        count = math.prod(a.shape[i] for i in axes)
        self.divisor = float(builtins.max(count - correction, 0))
        self.axes, self.keepdim = axes, keepdim
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (self.centered * self.centered).sum(axis=axes, keepdims=keepdim) / self.divisor
        return np.asarray(out)

    def backward(self, g):
        g = _expand_grad(g, self.axes, self.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * self.centered * (2.0 / self.divisor if self.divisor else math.inf)


class Std(Var):
    """``sqrt(var)``; d/dx = (x - mean) / ((N - correction) std), 0 where std is 0 (PyTorch's rule)."""

    def forward(self, a, axes=(), correction=1, keepdim=False):
        self.out = np.sqrt(super().forward(a, axes, correction, keepdim))
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.where(self.out == 0, 0, g / (2 * self.out)).astype(self.out.dtype, copy=False)
        return super().backward(scaled)


class LogSumExp(Function):
    """``log(sum(exp(x)))`` computed as ``m + log(sum(exp(x - m)))`` with m the max; d/dx = softmax(x)."""

    def forward(self, a, axes=(), keepdim=False):
        m = a.max(axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
        with np.errstate(divide="ignore"):  # all -inf: log(0) = -inf, as in PyTorch
            out = np.log(np.exp(a - m).sum(axis=axes, keepdims=True)) + m
        self.a, self.out, self.axes, self.keepdim = a, out, axes, keepdim
        return out if keepdim else np.squeeze(out, axis=axes)

    def backward(self, g):
        return _expand_grad(g, self.axes, self.keepdim) * np.exp(self.a - self.out)


# ----------------------------------------------------------------- lower-case API
def sum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = normalize_axes(dim, input.ndim, "sum")
    if input.dtype.kind != "f":
        data = input.data.astype(np.int64) if input.dtype == bool else input.data
        return Tensor._wrap(np.asarray(data.sum(axis=axes, keepdims=keepdim)))
    return Sum.apply(input, axes=axes, keepdim=keepdim)


def mean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    _check_float(input, "mean")
    axes = normalize_axes(dim, input.ndim, "mean")
    return Mean.apply(input, axes=axes, keepdim=keepdim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Product of all elements, or along one ``dim``."""
    axis = None if dim is None else _normalize_dim(dim, input.ndim, "prod")
    if input.ndim == 0:
        axis = None
    if input.dtype.kind != "f":
        return Tensor._wrap(np.asarray(input.data.prod(axis=axis, keepdims=keepdim)))
    return Prod.apply(input, axis=axis, keepdim=keepdim and axis is not None)


def amax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Max over ``dim`` (all axes if None); ties share the gradient evenly."""
    return _extremum(input, normalize_axes(dim, input.ndim, "amax"), keepdim, False, "amax")


def amin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Min over ``dim`` (all axes if None); ties share the gradient evenly."""
    return _extremum(input, normalize_axes(dim, input.ndim, "amin"), keepdim, True, "amin")


def _extremum(input, axes, keepdim, is_min, op):
    if input.numel() == 0:
        raise RuntimeError(f"{op}: expected a non-empty input, got shape {input.shape}")
    if input.dtype.kind != "f":
        fn = input.data.min if is_min else input.data.max
        return Tensor._wrap(np.asarray(fn(axis=axes, keepdims=keepdim)))
    return AMax.apply(input, axes=axes, keepdim=keepdim, minimum=is_min)


def max(input: Tensor, dim=None, keepdim: bool = False):
    """``max(x)``: the largest value (ties share the gradient). ``max(x, dim)``: a ``(values, indices)``
    named tuple; the gradient goes to the returned index. ``max(x, other_tensor)``: elementwise maximum."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is None:
        return _extremum(input, normalize_axes(None, input.ndim, "max"), False, False, "max")
    return _select(input, dim, keepdim, False, "max")


def min(input: Tensor, dim=None, keepdim: bool = False):
    """``min(x)``, ``min(x, dim) -> (values, indices)`` or elementwise ``min(x, other_tensor)``: see :func:`max`."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if dim is None:
        return _extremum(input, normalize_axes(None, input.ndim, "min"), False, True, "min")
    return _select(input, dim, keepdim, True, "min")


def _select(input, dim, keepdim, is_min, op):
    d = _normalize_dim(dim, input.ndim, op)
    if input.shape and input.shape[d] == 0:
        raise IndexError(f"{op}: cannot reduce over dim {dim} of size 0 (input shape {input.shape})")
    data = input.data if input.ndim else input.data.reshape(1)
    indices = (np.argmin if is_min else np.argmax)(data, axis=d)
    if input.dtype.kind != "f":
        values = np.take_along_axis(data, np.expand_dims(indices, d), d)
        values = Tensor._wrap(values if keepdim else np.squeeze(values, axis=d))
    else:
        source = input if input.ndim else input.reshape(1)
        values = SelectAlongDim.apply(source, indices=indices, dim=d, keepdim=keepdim)
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    elif keepdim:
        indices = np.expand_dims(indices, d)
    result = MinResult if is_min else MaxResult
    return result(values, Tensor._wrap(np.asarray(indices, dtype=np.int64)))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (into the flattened tensor if ``dim`` is None); int64, no gradient."""
    return _arg(input, dim, keepdim, np.argmax, "argmax")


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (into the flattened tensor if ``dim`` is None); int64, no gradient."""
    return _arg(input, dim, keepdim, np.argmin, "argmin")


def _arg(input, dim, keepdim, fn, op):
    if input.numel() == 0:
        raise RuntimeError(f"{op}: expected a non-empty input, got shape {input.shape}")
    if dim is None:
        out = fn(input.data)
        if keepdim:
            out = np.reshape(out, (1,) * input.ndim)
    else:
        d = _normalize_dim(dim, input.ndim, op)
        out = fn(input.data, axis=d, keepdims=keepdim) if input.ndim else fn(input.data)
    return Tensor._wrap(np.asarray(out, dtype=np.int64))


def _correction(unbiased, correction, op: str):
    """``correction`` from PyTorch's two spellings: ``unbiased`` (True: 1, False: 0) or ``correction``."""
    if unbiased is not None and correction is not None:
        raise ValueError(f"{op}: give either unbiased or correction, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return correction


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Variance ``sum((x - mean)^2) / (N - correction)``; ``correction=1`` (default, Bessel's) or
    ``unbiased=False`` for ``correction=0``."""
    _check_float(input, "var")
    correction = _correction(unbiased, correction, "var")
    axes = normalize_axes(dim, input.ndim, "var")
    return Var.apply(input, axes=axes, correction=correction, keepdim=keepdim)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation ``sqrt(var(...))``; same arguments as :func:`var`."""
    _check_float(input, "std")
    correction = _correction(unbiased, correction, "std")
    axes = normalize_axes(dim, input.ndim, "std")
    return Std.apply(input, axes=axes, correction=correction, keepdim=keepdim)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x), dim))``, stable for large logits."""
    _check_float(input, "logsumexp")
    axes = normalize_axes(dim, input.ndim, "logsumexp")
    return LogSumExp.apply(input, axes=axes, keepdim=keepdim)
