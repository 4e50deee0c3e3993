"""Resizing (N, C, H, W) maps: ``interpolate`` with modes nearest, nearest-exact, bilinear and area.

Both axes are resized separably. Each output row/column reads one (nearest) or two (bilinear) input
rows/columns whose indices never decrease along the axis, so the backward gathers and adds the gradient of
each run of equal indices, one pass per run offset (no ``np.add.at``). Index and weight arithmetic follows PyTorch's CPU
kernels in the input's dtype (float32 stays float32), so the chosen source pixels match exactly. Bilinear
resizing of maps up to ``DENSE_MAX_SIZE`` pixels a side runs as two BLAS products instead.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor
from .pool import adaptive_avg_pool2d

_MODES = ("nearest", "nearest-exact", "bilinear", "linear", "area")


def _inverse_scale(in_size: int, out_size: int, scale, dtype):
    """PyTorch's ``compute_scales_value``: ``1 / scale_factor`` when one was given, else ``in / out``."""
    if scale is not None and scale > 0:
        return dtype.type(1.0 / scale)
    return dtype.type(in_size) / dtype.type(out_size)


def nearest_indices(in_size: int, out_size: int, scale, exact: bool = False, generic_dtype=None) -> np.ndarray:
    """Source index per output index: ``min(floor(dst * s), n - 1)`` (``(dst + 0.5) * s`` if ``exact``).

    PyTorch's 2D kernel computes these in float32 whatever the input's dtype, and copies (``out == in``) or
    halves (``out == 2 * in``) the index without arithmetic. With ``generic_dtype`` (PyTorch's kernel for
    (N, C, L) inputs) the arithmetic runs in that dtype with no shortcuts, nearest-exact as
    ``floor(max((dst + 0.5) * s - 0.5, 0) + 0.5)`` (its float32 multiply-subtract fused, as compiled there),
    and the position is rounded to float32 before the floor.
    """
    dst = np.arange(out_size)
    if generic_dtype is not None:
        dtype = np.dtype(generic_dtype)
        s = _inverse_scale(in_size, out_size, scale, dtype)
        if not exact:
            pos = dst.astype(dtype) * s
        else:
            centre = dst + 0.5
            real = (np.float64(s) * centre - 0.5).astype(dtype) if dtype == np.float32 else s * centre - 0.5
            pos = np.maximum(real, 0).astype(np.float64) + 0.5
        return np.minimum(np.floor(pos.astype(np.float32)).astype(np.int64), in_size - 1)
    dtype = np.dtype(np.float32)
    if not exact and out_size == in_size:
        return dst
    if not exact and out_size == 2 * in_size:
        return dst >> 1
    s = _inverse_scale(in_size, out_size, scale, dtype)
    pos = (dst.astype(dtype) + dtype.type(0.5)) * s if exact else dst.astype(dtype) * s
    return np.minimum(np.floor(pos).astype(np.int64), in_size - 1)


def linear_weights(in_size: int, out_size: int, scale, align_corners: bool, dtype):
    """``(i0, i1, w0, w1)``: output ``o`` reads ``w0[o] * x[i0[o]] + w1[o] * x[i1[o]]``.

    Source coordinate: ``dst * (n-1)/(o-1)`` with ``align_corners``; else ``(dst + 0.5) * s - 0.5``
    clamped at 0, with ``s = 1/scale_factor`` or ``n/o``.
    """
    dst = np.arange(out_size)
    if out_size == in_size:
        return dst, dst, np.ones(out_size, dtype), np.zeros(out_size, dtype)
    if align_corners:
        s = dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1 else dtype.type(0)
        src = dst.astype(dtype) * s
    else:
        s = _inverse_scale(in_size, out_size, scale, dtype)
        src = np.maximum(s * (dst.astype(dtype) + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    w1 = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    i1 = i0 + (i0 < in_size - 1)
    return i0, i1, (dtype.type(1) - w1).astype(dtype), w1


def _scatter_sorted(values: np.ndarray, index: np.ndarray, size: int, axis: int) -> np.ndarray:
    """``out[..., index[k], ...] += values[..., k, ...]`` along ``axis`` for non-decreasing ``index``.

    Input position ``i`` receives the run ``first[i] .. first[i] + count[i] - 1`` of outputs; one gather-add
    per run offset ``j`` (``max(count)`` passes: 2 for a 2x upsampling), no ``np.add.at``.
    """
    counts = np.bincount(index, minlength=size)
    first = np.cumsum(counts) - counts
    shape = list(values.shape)
    shape[axis] = size
    out = np.zeros(shape, dtype=values.dtype)
    where = [slice(None)] * values.ndim
    for j in range(int(counts.max(initial=0))):
        receivers = np.flatnonzero(counts > j)
        part = np.take(values, first[receivers] + j, axis=axis)
        if receivers[-1] - receivers[0] + 1 == receivers.size:  # a contiguous block: a slice, not a gather
            where[axis] = slice(receivers[0], receivers[-1] + 1)
        else:
            where[axis] = receivers
        out[tuple(where)] += part
    return out


def _along(vector: np.ndarray, axis: int) -> np.ndarray:
    return vector[:, None] if axis == 2 else vector


def _lerp(x: np.ndarray, i0, i1, w0, w1, axis: int) -> np.ndarray:
    """``w0 * x[i0] + w1 * x[i1]`` along ``axis`` with two temporaries."""
    out = np.take(x, i0, axis=axis)
    out *= _along(w0, axis)
    other = np.take(x, i1, axis=axis)
    other *= _along(w1, axis)
    out += other
    return out


class ResizeNearest(Function):
    def forward(self, x, rows=None, cols=None):
        self.in_shape, self.rows, self.cols = x.shape, rows, cols
        return np.take(np.take(x, rows, axis=2), cols, axis=3)

    def backward(self, g):
        h, w = self.in_shape[2:]
        return _scatter_sorted(_scatter_sorted(g, self.rows, h, 2), self.cols, w, 3)


def _dense(i0, i1, w0, w1, in_size: int) -> np.ndarray:
    """The (out, in) interpolation matrix: row ``o`` holds ``w0[o]`` at ``i0[o]`` and ``w1[o]`` at ``i1[o]``."""
    rows = np.arange(i0.size)
    matrix = np.zeros((i0.size, in_size), dtype=w0.dtype)
    matrix[rows, i0] = w0
    matrix[rows, i1] += w1
    return matrix


DENSE_MAX_SIZE = 256
"""Bilinear resizing runs as two BLAS products with (out, in) matrices while both input sides are at most
this long (cheaper than the ~10 elementwise passes of gather/scatter); larger maps use gathers."""


class ResizeBilinear(Function):
    def forward(self, x, rows=None, cols=None):
        self.in_shape, self.rows, self.cols = x.shape, rows, cols
        n, c, h, w = x.shape
        self.dense = max(h, w) <= DENSE_MAX_SIZE and bool(np.isfinite(x).all())
        if not self.dense:  # gathers (also keeps inf/NaN local, as a 0 * inf in a product would not)
            return _lerp(_lerp(x, *rows, axis=2), *cols, axis=3)
        self.mh, self.mw = _dense(*rows, h), _dense(*cols, w)
        y = (x.reshape(-1, w) @ self.mw.T).reshape(n, c, h, self.mw.shape[0])
        return self.mh @ y

    def backward(self, g):
        n, c, h, w = self.in_shape
        if self.dense and np.isfinite(g).all():
            y = self.mh.T @ g
            return (y.reshape(-1, g.shape[3]) @ self.mw).reshape(self.in_shape)
        for axis, (i0, i1, w0, w1), size in ((2, self.rows, h), (3, self.cols, w)):
            grad = _scatter_sorted(g * _along(w0, axis), i0, size, axis)
            grad += _scatter_sorted(g * _along(w1, axis), i1, size, axis)
            g = grad
        return g


def _pair_of(value, name, kind):
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
        raise ValueError(f"interpolate: {name} must be a number or a pair for a 4D input, got {value!r}")
    return values


def _single(value, name: str):
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"interpolate: {name} must be a number or a 1-sequence for a 3D input, got {value!r}")
        return value[0]
    return value


def _interpolate_1d(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias):
    """(N, C, L) inputs: resize as an (N, C, 1, L) map, whose single row every mode keeps as it is."""
    if input.ndim != 3 or mode == "bilinear":
        need = "3D (N, C, L)" if mode == "linear" else "4D (N, C, H, W)"
        raise ValueError(f"interpolate: mode={mode!r} needs a {need} input, got shape {input.shape}")
    n, c, length = input.shape
    out = _interpolate(input.reshape(n, c, 1, length), None if size is None else (1, _single(size, "size")),
                       None if scale_factor is None else (1.0, _single(scale_factor, "scale_factor")),
                       "bilinear" if mode == "linear" else mode, align_corners, recompute_scale_factor, antialias,
                       one_d=True)
    return out.reshape(out.shape[:2] + out.shape[3:])


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """Resize a (N, C, H, W) tensor to ``size`` or by ``scale_factor``, as ``torch.nn.functional.interpolate``
    (an (N, C, L) tensor with 'nearest', 'nearest-exact', 'linear' or 'area').

    ``mode``: ``'nearest'`` (source ``floor(dst * in/out)``, or ``floor(dst / scale_factor)`` when a scale
    factor is given), ``'nearest-exact'`` (``floor((dst + 0.5) * ...)``), ``'bilinear'`` (``align_corners``
    False: half-pixel centres; True: corner pixels aligned; ``'linear'`` the same along L of an (N, C, L)
    input) or ``'area'`` (adaptive average pooling).
    With ``scale_factor`` the output size is ``floor(in * scale_factor)``; ``recompute_scale_factor=True``
    then maps coordinates with ``in/out`` instead of ``1/scale_factor``.
    """
    return _interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)


def _interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias,
                 one_d: bool = False):
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
    if input.ndim == 3 or mode == "linear":
        return _interpolate_1d(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)
    if input.ndim != 4:
        raise ValueError(f"interpolate: expected a 4D (N, C, H, W) input, got shape {input.shape}")
    if mode != "bilinear" and align_corners is not None:
        raise ValueError(f"interpolate: align_corners can only be set with mode='bilinear' (or 'linear'), got "
                         f"mode={mode!r}")
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size and scale_factor must be given, got "
                         f"size={size!r}, scale_factor={scale_factor!r}")
    in_size = input.shape[2:]
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is only meaningful with scale_factor")
        out_size = tuple(int(s) for s in _pair_of(size, "size", (int, np.integer)))
        scales = (None, None)
    else:
        scales = tuple(float(s) for s in _pair_of(scale_factor, "scale_factor", (int, float, np.number)))
        if min(scales) <= 0:
            raise ValueError(f"interpolate: scale_factor must be positive, got {scale_factor!r}")
        out_size = tuple(math.floor(float(n) * s) for n, s in zip(in_size, scales))
        if recompute_scale_factor:
            scales = (None, None)
    if min(in_size) < 1 or min(out_size) < (0 if mode == "area" else 1):  # 'area' may give an empty map
        raise ValueError(f"interpolate: input size {in_size} and output size {out_size} must be positive")
    if mode == "area":
        return adaptive_avg_pool2d(input, out_size)
    dtype = input.dtype
    if mode == "bilinear":
        align = bool(align_corners)
        rows, cols = (linear_weights(n, o, s, align, dtype) for n, o, s in zip(in_size, out_size, scales))
        return ResizeBilinear.apply(input, rows=rows, cols=cols)
    exact = mode == "nearest-exact"
    rows = nearest_indices(in_size[0], out_size[0], scales[0], exact)
    cols = nearest_indices(in_size[1], out_size[1], scales[1], exact, dtype if one_d else None)
    return ResizeNearest.apply(input, rows=rows, cols=cols)
