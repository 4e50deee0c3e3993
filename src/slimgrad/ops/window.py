"""Sliding-window helpers shared by convolution and pooling.

Argument normalisation (int or pair, ``'same'`` / ``'valid'`` padding), the output-size formula, strided
window views, the per-tap index ranges that let im2col / col2im skip the zero padding, and a small
bounded cache of reusable work buffers.

Output size along one axis (input ``h``, kernel ``k``, stride ``s``, padding ``p_lo + p_hi``, dilation ``d``)::

    h_out = floor((h + p_lo + p_hi - d * (k - 1) - 1) / s) + 1
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, wait

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


def tap_coverage(size_in: int, size_out: int, k: int, s: int, d: int, p: int) -> np.ndarray:
    """How many of the ``k`` taps (stride ``s``, dilation ``d``, padding ``p``) reach each input index along
    one axis."""
    count = np.zeros(size_in, dtype=np.int64)
    for i in range(k):
        sl = tap_slices(size_in, size_out, i * d - p, s)
        if sl is not None:
            count[sl[1]] += 1
    return count


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

    def __init__(self, max_entries: int = 256, max_bytes: int = 96 << 20):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._buffers: OrderedDict = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # the conv workers take buffers concurrently

    def get(self, key, shape, dtype, zero: bool = False) -> np.ndarray:
        with self._lock:
            return self._get(key, shape, dtype, zero)

    def _get(self, key, shape, dtype, zero: bool) -> np.ndarray:
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
        with self._lock:
            self._buffers.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._buffers)


workspaces = WorkspaceCache()
"""The process-wide cache the convolution kernels use (``workspaces.clear()`` frees it)."""


# --------------------------------------------------------------------------- two-way sample split

PARTS = 2
"""The batch is always split into this many parts of whole chunks (fixed, whatever the worker count), each
with its own work buffers and partial weight-gradient sum; the partial sums are added in part order, so
results are bit-for-bit the same with one worker or two."""

_workers = None
_pool = None
_pool_lock = threading.Lock()


def set_num_workers(n: int | None) -> None:
    """Threads the convolution kernels run their batch parts on (``None``, the default: as many as NumPy's
    OpenBLAS is set to use, at most 2 and the CPU count; so limiting BLAS threads limits these too).

    NumPy runs copies and ufuncs on one thread but releases the GIL in them (and in BLAS), so the memory-bound
    phases of the two parts overlap on two cores."""
    global _workers
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"set_num_workers: expected a positive int or None, got {n!r}")
    _workers = n


def num_workers() -> int:
    if _workers is not None:
        return _workers
    blas = _blas_threads()
    return max(1, min(PARTS, os.cpu_count() or 1, blas[0]() if blas else PARTS))


def split_chunks(n: int, nb: int) -> list:
    """``[(n0, n1), ...]`` chunks of ``nb`` samples, split into :data:`PARTS` runs of consecutive chunks
    (the last runs, which end with the short chunk, one chunk longer when the count does not divide);
    empty parts are dropped."""
    chunks = [(n0, min(n, n0 + nb)) for n0 in range(0, n, nb)]
    if not chunks:  # an empty batch: one empty part (its partial sums are the zeros)
        return [[]]
    per, extra = divmod(len(chunks), PARTS)
    parts, start = [], 0
    for i in range(PARTS):
        count = per + (i >= PARTS - extra)
        if count:
            parts.append(chunks[start:start + count])
        start += count
    return parts


def part_chunk(n: int, nb: int) -> int:
    """Samples per chunk: about ``nb`` (capped so that a batch of two or more samples has at least :data:`PARTS`
    chunks), evened out to a multiple of :data:`PARTS` chunks so that the parts get equal work (64 samples with
    a 20-sample target: 4 chunks of 16, not 20, 20, 20 and 4 split 40/24)."""
    target = max(1, min(nb, -(-n // PARTS)))
    count = max(1, -(-n // (PARTS * target))) * PARTS
    return max(1, -(-n // count))


_blas = None


def _blas_threads():
    """``(get, set)`` for the thread count of the OpenBLAS that NumPy loaded (found on first use through the
    process's mapped libraries), or ``None`` where there is none."""
    global _blas
    if _blas is None:
        _blas = False
        try:
            import ctypes
            import re
            with open("/proc/self/maps") as f:
                paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so[\w.]*)", f.read())))
            for path in paths:
                lib = ctypes.CDLL(path)
                for suffix in ("64_", ""):
                    get = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None) or \
                        getattr(lib, f"openblas_get_num_threads{suffix}", None)
                    put = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None) or \
                        getattr(lib, f"openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                        _blas = (get, put)
                        break
                if _blas:
                    break
        except (OSError, ValueError):
            _blas = False
    return _blas or None


PARALLEL_MIN_BYTES = 4 << 20
"""Below this much data (the caller's estimate) the parts run one after the other on the calling thread:
waking the pool and switching BLAS threads would cost more than the overlap wins."""


def run_parts(work, parts: list, nbytes: int | None = None) -> list:
    """``[work(index, chunks) for each part]``, the parts on up to :func:`num_workers` threads; results in
    part order (the caller reduces them in that order).

    While the parts run concurrently, BLAS runs one thread per caller (two callers of a 2-thread OpenBLAS
    oversubscribe the cores and spin); the count is restored afterwards. Calls are serialised (the parts'
    work buffers are shared between calls)."""
    global _pool
    with _pool_lock:
        workers = min(num_workers(), len(parts))
        if workers <= 1 or (nbytes is not None and nbytes < PARALLEL_MIN_BYTES):
            return [work(i, chunks) for i, chunks in enumerate(parts)]
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=PARTS - 1, thread_name_prefix="slimgrad-conv")
        blas = _blas_threads()
        before = blas[0]() if blas else 1
        if before > 1:
            blas[1](1)
        futures = []
        try:
            futures = [_pool.submit(work, i, chunks) for i, chunks in enumerate(parts[1:], 1)]
            first = work(0, parts[0])  # the calling thread takes part 0
            return [first] + [f.result() for f in futures]
        finally:
            wait(futures)  # also when part 0 raised: no part outlives the call
            if before > 1:
                blas[1](before)


def run_halves(work, n: int, nbytes: int | None = None) -> list:
    """``[work(n0, n1) for the two halves of range(n)]`` (one run for ``n < 2``), concurrently as
    :func:`run_parts` does: for elementwise passes and reductions over a batch, which NumPy runs on one thread
    but with the GIL released. Results in batch order (see :func:`sum_in_order`)."""
    parts = split_chunks(n, max(1, -(-n // 2)))
    if nbytes is not None and nbytes < PARALLEL_MIN_BYTES:  # small: the same halves, here (no pool round trip)
        return [work(*chunks[0]) if chunks else None for chunks in parts]
    return run_parts(lambda part, chunks: work(*chunks[0]) if chunks else None, parts, nbytes)


def sum_in_order(parts, empty=None):
    """The sum of the non-``None`` partial results (the parts' or chunks' partial weight gradients, channel
    sums), added in order: the same bits whatever the worker count; ``empty`` if there are none."""
    total = None
    for p in parts:
        if p is not None:
            total = p if total is None else total + p
    return empty if total is None else total


def _after_fork_in_child() -> None:
    """A forked child (e.g. a data-loader worker) has none of the parent's threads: start afresh."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()
    workspaces._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
