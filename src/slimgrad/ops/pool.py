"""Pooling over NCHW feature maps: max, average, adaptive average and adaptive max.

Windowed pools loop over the kernel taps only: tap ``(i, j)`` of every window at once is the strided slice
``x_pad[:, :, i*dh :: sh, j*dw :: sw]`` (``oh x ow`` positions), so each tap is one vectorized pass and the
backward adds each tap's gradient into a strided view (overlapping windows accumulate, no ``np.add.at``).

Output size per axis (PyTorch's rule): ``o = floor_or_ceil((n + 2p - d(k-1) - 1) / s) + 1``; with
``ceil_mode`` the last window must start inside the input or the left padding, else ``o -= 1``.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor


def _pair(value, name: str, op: str, minimum: int = 1) -> tuple:
    """``value`` (int or 1-/2-sequence of ints) as an int pair, each ``>= minimum``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) in (1, 2) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        pair = (int(value[0]), int(value[-1]))
    else:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return pair


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """PyTorch's pooling output size along one axis (see the module docstring)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _geometry(x_shape, kernel, stride, padding, dilation, ceil_mode, op):
    """Validate a windowed pool and return the output size ``(oh, ow)``."""
    if len(x_shape) not in (3, 4) or 0 in x_shape[-3:]:
        raise ValueError(f"{op}: expected a non-empty 3D (C, H, W) or 4D (N, C, H, W) input, got shape "
                         f"{tuple(x_shape)}")
    for axis in (0, 1):
        if padding[axis] > kernel[axis] // 2:
            raise ValueError(f"{op}: padding should be at most half of kernel_size, got padding={padding} "
                             f"with kernel_size={kernel}")
    out = tuple(pool_output_size(x_shape[-2 + a], kernel[a], stride[a], padding[a], dilation[a], ceil_mode)
                for a in (0, 1))
    if min(out) < 1:
        raise ValueError(f"{op}: input of spatial size {tuple(x_shape[-2:])} with kernel_size={kernel}, "
                         f"padding={padding}, dilation={dilation} gives output size {out}: too small")
    return out


def _pad(x, padding, out_size, kernel, stride, dilation, value):
    """``x`` (N, C, H, W) padded by ``padding`` plus whatever the ceil_mode windows hang over."""
    pads = []
    for a in (0, 1):
        need = (out_size[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1
        n = x.shape[2 + a]
        pads.append((padding[a], max(padding[a], need - n - padding[a])))
    if not any(p for pair in pads for p in pair):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple(pads), constant_values=value)


def _taps(kernel, stride, dilation, out_size):
    """For each tap ``(i, j)``: the slices that pick it from every window of the padded input."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_size
    for i in range(kh):
        for j in range(kw):
            yield (slice(i * dh, i * dh + (oh - 1) * sh + 1, sh),
                   slice(j * dw, j * dw + (ow - 1) * sw + 1, sw))


def _as4d(x):
    return x if x.ndim == 4 else x[None]


def _first_inbound_tap(kernel, stride, padding, dilation, out_size) -> np.ndarray:
    """(oh, ow) flat tap index ``i * kw + j`` of each window's first tap inside the input (not the padding)."""
    firsts = []
    for a in (0, 1):
        begin = np.arange(out_size[a]) * stride[a] - padding[a]
        skip = np.where(begin < 0, (-begin + dilation[a] - 1) // dilation[a], 0)
        firsts.append(np.minimum(skip, kernel[a] - 1))
    return firsts[0][:, None] * kernel[1] + firsts[1][None, :]


class MaxPool2d(Function):
    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), out_size=(1, 1)):
        self.in_shape = x.shape
        x = _as4d(x)
        floating = np.issubdtype(x.dtype, np.floating)
        lowest = -math.inf if floating else np.iinfo(x.dtype).min  # integer maps pool too, as in PyTorch
        xp = _pad(x, padding, out_size, kernel, stride, dilation, lowest)
        taps = list(_taps(kernel, stride, dilation, out_size))
        n_taps = len(taps)
        shape = x.shape[:2] + tuple(out_size)
        index_dtype = np.uint8 if n_taps <= 255 else np.int32
        # PyTorch starts each window at -inf, indexed at its first in-bounds tap; taking tap 0 as the start
        # is the same state (a padded tap 0 is -inf), so only the index needs the first in-bounds tap
        out = xp[(Ellipsis,) + taps[0]].copy()
        index = np.empty(shape, dtype=index_dtype)
        index[...] = _first_inbound_tap(kernel, stride, padding, dilation, out_size) if any(padding) else 0
        has_nan = floating and bool(np.isnan(x).any())
        mask = np.empty(out.shape, dtype=bool)
        step = np.empty(out.shape, dtype=index.dtype)
        for t in range(1, n_taps):
            window = xp[(Ellipsis,) + taps[t]]
            np.greater(window, out, out=mask)
            if has_nan:  # PyTorch: a NaN always wins (and the last NaN's index is kept)
                mask |= np.isnan(window)
            np.maximum(out, window, out=out)  # NaN propagates, as in PyTorch
            # taps only grow, so "index = t where a new maximum appeared" is index = max(index, mask * t)
            np.multiply(mask, index.dtype.type(t), out=step)
            np.maximum(index, step, out=index)
        self.index, self.padded_shape = index, xp.shape
        self.geometry = kernel, stride, padding, dilation, out_size
        return out if len(self.in_shape) == 4 else out[0]

    def backward(self, g):
        kernel, stride, padding, dilation, out_size = self.geometry
        g = _as4d(g)
        grad = np.zeros(self.padded_shape, dtype=g.dtype)
        mask = np.empty(g.shape, dtype=bool)
        part = np.empty_like(g)
        for t, tap in enumerate(_taps(kernel, stride, dilation, out_size)):
            np.equal(self.index, t, out=mask)
            np.multiply(g, mask, out=part)
            grad[(Ellipsis,) + tap] += part
        h, w = self.in_shape[-2:]
        grad = grad[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]
        return grad.reshape(self.in_shape)

    def flat_indices(self):
        """PyTorch's ``return_indices``: each max's flat index ``row * W + col`` in its input plane."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = self.geometry
        width = self.in_shape[-1]
        tap = self.index.astype(np.int64)
        rows = np.arange(oh)[:, None] * sh - ph + (tap // kw) * dh
        cols = np.arange(ow)[None, :] * sw - pw + (tap % kw) * dw
        flat = rows * width + cols
        return flat if len(self.in_shape) == 4 else flat[0]


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2D max pooling over (N, C, H, W) or (C, H, W), as ``torch.nn.functional.max_pool2d``.

    ``out[n, c, y, x] = max_{i, j} x_pad[n, c, y*sh + i*dh, x*sw + j*dw]`` (``-inf`` padding); the gradient
    goes to the first maximum of each window (the last NaN if there is one), summed over overlapping windows.
    With ``return_indices`` returns ``(output, indices)``, indices flat in each ``H * W`` plane (int64).
    """
    op = "max_pool2d"
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        _pair(stride, "stride", op)
    padding = _pair(padding, "padding", op, minimum=0)
    dilation = _pair(dilation, "dilation", op)
    out_size = _geometry(input.shape, kernel, stride, padding, dilation, ceil_mode, op)
    if not return_indices:
        return MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                               out_size=out_size)
    out = MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                          out_size=out_size)
    ctx = out._ctx
    if ctx is None:  # no graph recorded: recompute the tap indices
        ctx = MaxPool2d()
        ctx.forward(input.data, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                    out_size=out_size)
    return out, Tensor._wrap(ctx.flat_indices())


def _avg_divisor(in_size, out_size, kernel, stride, padding, count_include_pad, dtype):
    """PyTorch's per-output divisor: window size clipped to the padded input, or to the input alone."""
    factors = []
    for a in (0, 1):
        start = np.arange(out_size[a]) * stride[a] - padding[a]
        end = np.minimum(start + kernel[a], in_size[a] + padding[a])
        if count_include_pad:
            factors.append(end - start)
        else:
            factors.append(np.minimum(end, in_size[a]) - np.maximum(start, 0))
    return (factors[0][:, None] * factors[1][None, :]).astype(dtype)


class AvgPool2d(Function):
    def forward(self, x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), out_size=(1, 1),
                count_include_pad=True, divisor_override=None):
        self.in_shape = x.shape
        x = _as4d(x)
        xp = _pad(x, padding, out_size, kernel, stride, (1, 1), 0)
        taps = list(_taps(kernel, stride, (1, 1), out_size))
        out = xp[(Ellipsis,) + taps[0]].copy()
        for tap in taps[1:]:
            out += xp[(Ellipsis,) + tap]
        if divisor_override is not None:
            divisor = np.asarray(divisor_override, dtype=x.dtype)
        else:
            divisor = _avg_divisor(x.shape[2:], out_size, kernel, stride, padding, count_include_pad, x.dtype)
        out /= divisor
        self.divisor, self.padded_shape = divisor, xp.shape
        self.geometry = kernel, stride, padding, out_size
        return out if len(self.in_shape) == 4 else out[0]

    def backward(self, g):
        kernel, stride, padding, out_size = self.geometry
        g = _as4d(g) / self.divisor
        grad = np.zeros(self.padded_shape, dtype=g.dtype)
        for tap in _taps(kernel, stride, (1, 1), out_size):
            grad[(Ellipsis,) + tap] += g
        h, w = self.in_shape[-2:]
        grad = grad[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]
        return grad.reshape(self.in_shape)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """2D average pooling, as ``torch.nn.functional.avg_pool2d``: window sum / divisor.

    Divisor per output (PyTorch's rule): ``divisor_override`` if given; else the window clipped to the
    zero-padded input (``count_include_pad``) or to the input itself (not counting padding). Windows that
    ``ceil_mode`` lets hang past the padding never count the overhang.
    """
    op = "avg_pool2d"
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else \
        _pair(stride, "stride", op)
    padding = _pair(padding, "padding", op, minimum=0)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
    out_size = _geometry(input.shape, kernel, stride, padding, (1, 1), ceil_mode, op)
    return AvgPool2d.apply(input, kernel=kernel, stride=stride, padding=padding, out_size=out_size,
                           count_include_pad=bool(count_include_pad),
                           divisor_override=None if divisor_override is None else int(divisor_override))


def adaptive_bins(in_size: int, out_size: int):
    """PyTorch's adaptive bins: ``start = floor(i * n / o)``, ``end = ceil((i + 1) * n / o)``."""
    i = np.arange(out_size)
    return (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)


def _bin_matrix(in_size: int, out_size: int, dtype) -> np.ndarray:
    """``(out, in)`` matrix averaging each adaptive bin: row i holds ``1/len`` on bin i."""
    start, end = adaptive_bins(in_size, out_size)
    cols = np.arange(in_size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Function):
    """``out = P_h @ x @ P_w^T`` with the bin-averaging matrices: two BLAS products, backward likewise."""

    def forward(self, x, out_size=(1, 1)):
        self.in_shape = x.shape
        h, w = x.shape[-2:]
        self.ph, self.pw = _bin_matrix(h, out_size[0], x.dtype), _bin_matrix(w, out_size[1], x.dtype)
        if out_size == (1, 1):
            return x.mean(axis=(-2, -1), keepdims=True, dtype=x.dtype)
        lead = x.shape[:-2]
        y = (x.reshape(-1, w) @ self.pw.T).reshape(lead + (h, out_size[1]))
        return self.ph @ y

    def backward(self, g):
        lead, (h, w) = self.in_shape[:-2], self.in_shape[-2:]
        if g.size == 0:  # an empty output (output_size 0) takes nothing from the input
            return np.zeros(self.in_shape, dtype=g.dtype)
        if g.shape[-2:] == (1, 1):
            return np.broadcast_to(g / (h * w), self.in_shape).copy()
        y = self.ph.T @ g
        return (y.reshape(-1, g.shape[-1]) @ self.pw).reshape(lead + (h, w))


def _adaptive_size(input, output_size, op):
    if input.ndim not in (3, 4) or 0 in input.shape[-2:]:
        raise ValueError(f"{op}: expected a 3D (C, H, W) or 4D (N, C, H, W) input with non-zero H and W, "
                         f"got shape {input.shape}")
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size, output_size)
    if len(output_size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(input.shape[-2 + a] if s is None else s for a, s in enumerate(output_size))
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in size):
        raise ValueError(f"{op}: output_size must hold non-negative ints (or None), got {output_size!r}")
    return tuple(int(s) for s in size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Adaptive average pooling to ``output_size`` (int, pair, None keeps that axis), PyTorch's bins."""
    size = _adaptive_size(input, output_size, "adaptive_avg_pool2d")
    return AdaptiveAvgPool2d.apply(input, out_size=size)


class AdaptiveMaxPool2d(Function):
    """One vectorized pass per output bin position ``(i, j)`` (a loop over output taps, not pixels)."""

    def forward(self, x, out_size=(1, 1)):
        self.in_shape = x.shape
        x = _as4d(x)
        (h, w), (oh, ow) = x.shape[2:], out_size
        rs, re = adaptive_bins(h, oh)
        cs, ce = adaptive_bins(w, ow)
        out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
        flat = np.empty(out.shape, dtype=np.int64)
        for i in range(oh):
            for j in range(ow):
                region = x[:, :, rs[i]:re[i], cs[j]:ce[j]].reshape(x.shape[:2] + ((re[i] - rs[i]) * (ce[j] - cs[j]),))
                k = region.argmax(axis=-1)  # first maximum on ties, like PyTorch (NaN wins)
                out[:, :, i, j] = np.take_along_axis(region, k[..., None], -1)[..., 0]
                width = ce[j] - cs[j]
                flat[:, :, i, j] = (rs[i] + k // width) * w + cs[j] + k % width
        self.flat = flat
        return out if len(self.in_shape) == 4 else out[0]

    def backward(self, g):
        g = _as4d(g)
        n, c = g.shape[:2]
        h, w = self.in_shape[-2:]
        grad = np.zeros((n * c, h * w), dtype=g.dtype)
        rows = np.arange(n * c)[:, None]
        flat, gg = self.flat.reshape(n * c, g.shape[2] * g.shape[3]), g.reshape(n * c, g.shape[2] * g.shape[3])
        for k in range(flat.shape[1]):  # one output tap at a time: bins may overlap
            grad[rows[:, 0], flat[:, k]] += gg[:, k]
        return grad.reshape(self.in_shape)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Adaptive max pooling to ``output_size`` with PyTorch's bins; ``return_indices`` as in max_pool2d."""
    size = _adaptive_size(input, output_size, "adaptive_max_pool2d")
    out = AdaptiveMaxPool2d.apply(input, out_size=size)
    if not return_indices:
        return out
    ctx = out._ctx
    if ctx is None:
        ctx = AdaptiveMaxPool2d()
        ctx.forward(input.data, out_size=size)
    flat = ctx.flat if input.ndim == 4 else ctx.flat[0]
    return out, Tensor._wrap(flat)
