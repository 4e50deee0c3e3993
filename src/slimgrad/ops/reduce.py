"""Reductions over axes: sum, mean, max, min, var (with ``keepdim`` as in PyTorch)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor


def normalize_axes(dim, ndim: int, op: str):
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes, validated."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % max(ndim, 1))
    return tuple(sorted(set(out))) if ndim else ()


def _expand_grad(g, shape, axes, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input of ``shape``."""
    if not keepdim and axes:
        g = np.expand_dims(g, axes)
    return g


class Sum(Function):
    def forward(self, a, axes=(), keepdim=False):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        return np.asarray(a.sum(axis=axes, keepdims=keepdim))

    def backward(self, g):
        g = _expand_grad(g, self.shape, self.axes, self.keepdim)
        return np.broadcast_to(g, self.shape)


class Mean(Function):
    def forward(self, a, axes=(), keepdim=False):
        self.shape, self.axes, self.keepdim = a.shape, axes, keepdim
        self.count = int(np.prod([a.shape[i] for i in axes])) if axes else 1
        return np.asarray(a.mean(axis=axes, keepdims=keepdim))

    def backward(self, g):
        g = _expand_grad(g, self.shape, self.axes, self.keepdim)
        return np.broadcast_to(g / self.count, self.shape)


def sum(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = normalize_axes(dim, a.ndim, "sum")
    if not np.issubdtype(a.dtype, np.floating):
        return Tensor._wrap(np.asarray(a.data.sum(axis=axes, keepdims=keepdim)))
    return Sum.apply(a, axes=axes, keepdim=keepdim)


def mean(a: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"mean: expected a floating-point input, got dtype {a.dtype}")
    axes = normalize_axes(dim, a.ndim, "mean")
    return Mean.apply(a, axes=axes, keepdim=keepdim)
