"""Sliding-window helpers shared by convolution and pooling.

Argument normalisation (int or pair, ``'same'`` / ``'valid'`` padding), the output-size formula, strided
window views, the per-tap index ranges that let im2col / col2im skip the zero padding, and a small
bounded cache of reusable work buffers.

Output size along one axis (input ``h``, kernel ``k``, stride ``s``, padding ``p_lo + p_hi``, dilation ``d``)::

    h_out = floor((h + p_lo + p_hi - d * (k - 1) - 1) / s) + 1
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pair(value, name: str, op: str = "conv2d") -> tuple[int, int]:
    """``value`` as a pair of ints: an int ``v`` becomes ``(v, v)``; a 1- or 2-sequence is kept."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) in (1, 2) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return (int(value[0]), int(value[0])) if len(value) == 1 else (int(value[0]), int(value[1]))
    raise ValueError(
        f"{op}: expected {name} to be a single integer value or a list of 2 values to match the "
        f"convolution dimensions, but got {name}={value!r}"
    )


def positive_pair(value, name: str, op: str = "conv2d") -> tuple[int, int]:
    """:func:`pair`, and every entry must be >= 1 (stride, dilation, kernel size)."""
    result = pair(value, name, op)
    if min(result) < 1:
        raise ValueError(f"{op}: non-positive {name} is not supported: expected values >= 1, got {value!r}")
    return result


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1, padding_end: int | None = None) -> int:
    """``floor((size + p_lo + p_hi - dilation*(kernel_size-1) - 1) / stride) + 1`` (``p_hi`` defaults to ``p_lo``)."""
    padding_end = padding if padding_end is None else padding_end
    return (size + padding + padding_end - dilation * (kernel_size - 1) - 1) // stride + 1


def conv_padding(padding, kernel_size: tuple, stride: tuple, dilation: tuple,
                 op: str = "conv2d") -> tuple[int, int, int, int]:
    """Normalise conv ``padding`` to ``(top, bottom, left, right)``.

    ``'valid'`` is no padding. ``'same'`` (stride 1 only, as in PyTorch) pads ``d*(k-1)`` in total per axis,
    half before and the odd extra after (right/bottom).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(got stride={stride})")
            pads = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        raise ValueError(f"{op}: invalid padding string {padding!r}: expected 'same', 'valid', an int or a pair")
    ph, pw = pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: negative padding is not supported, got padding={padding!r}")
    return ph, ph, pw, pw


def sliding_windows(x_padded: np.ndarray, kernel_size, stride=1, dilation=1,
                    out_size: tuple | None = None) -> np.ndarray:
    """Read-only strided view ``(N, C, kh, kw, H_out, W_out)`` of the windows of an (already padded) NCHW array.

    ``view[n, c, i, j, y, x] == x_padded[n, c, y*sh + i*dh, x*sw + j*dw]``. No copy is made.
    """
    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = pair(stride, "stride")
    dh, dw = pair(dilation, "dilation")
    n, c, h, w = x_padded.shape
    if out_size is None:
        out_size = (conv_output_size(h, kh, sh, 0, dh), conv_output_size(w, kw, sw, 0, dw))
    ho, wo = out_size
    if ho < 1 or wo < 1:
        raise ValueError(f"sliding_windows: kernel {kh}x{kw} (dilation {dh}x{dw}) larger than input {h}x{w}")
    s0, s1, s2, s3 = x_padded.strides
    return as_strided(x_padded, (n, c, kh, kw, ho, wo), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw),
                      writeable=False)


def tap_range(size_in: int, size_out: int, offset: int, stride: int) -> tuple[int, int, int]:
    """Outputs ``o`` in ``[lo, hi)`` whose input ``o*stride + offset`` lies in ``[0, size_in)``; returns
    ``(lo, hi, first_input)``. ``offset`` is ``tap*dilation - padding_before`` (may be negative)."""
    lo = max(0, (stride - 1 - offset) // stride)
    hi = min(size_out, (size_in - 1 - offset) // stride + 1)
    if hi <= lo:
        return 0, 0, 0
    return lo, hi, lo * stride + offset


def tap_slices(size_in: int, size_out: int, offset: int, stride: int):
    """``(out_slice, in_slice)`` pairing the outputs and inputs that one kernel tap connects, or ``None``."""
    lo, hi, start = tap_range(size_in, size_out, offset, stride)
    if hi <= lo:
        return None
    return slice(lo, hi), slice(start, start + (hi - lo - 1) * stride + 1, stride)


class WorkspaceCache:
    """A bounded LRU cache of work buffers keyed by ``(tag, shape, dtype, ...)``.

    Reusing buffers across steps avoids page-faulting fresh temporaries in every call. Buffers created
    with ``zero=True`` start zeroed; callers may rely on regions they never write staying zero (the key
    must then pin every parameter that decides which regions are written). At most ``max_entries``
    buffers and ``max_bytes`` bytes are kept; the least recently used go first.
    """

    def __init__(self, max_entries: int = 64, max_bytes: int = 96 << 20):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._buffers: OrderedDict = OrderedDict()
        self._bytes = 0

    def get(self, key, shape, dtype, zero: bool = False) -> np.ndarray:
        full_key = (key, tuple(shape), np.dtype(dtype).str, zero)
        buf = self._buffers.get(full_key)
        if buf is not None:
            self._buffers.move_to_end(full_key)
            return buf
        buf = np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
        if buf.nbytes > self.max_bytes:
            return buf  # too big to keep
        self._buffers[full_key] = buf
        self._bytes += buf.nbytes
        while len(self._buffers) > self.max_entries or self._bytes > self.max_bytes:
            _, old = self._buffers.popitem(last=False)
            self._bytes -= old.nbytes
        return buf

    def clear(self) -> None:
        self._buffers.clear()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._buffers)


workspaces = WorkspaceCache()
"""The process-wide cache the convolution kernels use (``workspaces.clear()`` frees it)."""
