"""Depthwise convolution (``groups == C``, weight ``(C*M, 1, kh, kw)``) on long flat rows.

Output channel ``o = c*M + k`` reads input channel ``c`` only (PyTorch's layout, ``M`` the channel multiplier).
Each channel's samples sit in blocks of ``G`` positions back to back in one flat row; with rows of length
``Wq``, tap ``(i, j)`` of output position ``q`` reads the contiguous slice at ``q + off_ij`` (no col2im anywhere):

    out_flat[o, q] = sum_{i,j} w[o, i, j] * x_flat[c, q + off_ij]                        (+ bias[o])
    dx_flat[c, p]  = sum_{k,i,j} w[c*M + k, i, j] * g_flat[c*M + k, p - off_ij]          (g zero off its valid region)
    dW[o, i, j]    = sum_p x_flat[c, p] * g_flat[o, p - off_ij]

Stride 1 only (:class:`_Rows`): rows of length ``Wq = max(W, Wo)`` with no column padding (``off_ij = i*dh*Wq +
j*dw - pl``); a read that wraps into the neighbouring row is zeroed in the column-shifted copies below, so
inputs, outputs and gradients move in and out as whole ``H*W`` blocks per sample and channel (long copies)
rather than ``W``-element rows at a stride. Per chunk only the ``kw`` column shifts are copied (``S[c, j, q] =
x_flat[c, q + off_0j]``, or the gradient's, flipped); kernel row ``i`` is then the view ``S[..., i*dh*Wq:]``, so
one per-channel GEMM ``(kh*M, kw) @ (kw, L)`` (``L`` = a chunk's positions) gives every kernel row's partial
sums, added shifted by ``i*dh*Wq`` with long-row adds: ``kw`` copies + 1 GEMM + ``kh - 1`` adds per direction
instead of ``2*kh*kw - 1`` broadcast multiply/add passes (W2, one thread: forward 7.8 against 9.4 ms, input
gradient 7.2 against 9.3 ms). The weight gradient reuses the gradient's shifted copies: with the input loaded
as ``kh`` rows shifted by ``i*dh*Wq``, it is one per-channel ``(M*kw, L) @ (L, kh)`` GEMM (W2 backward, two
threads: 8.0 against 10.0 ms for three ``einsum`` matrix-vector loops per chunk). W2 fwd+bwd, one thread:
24.3 ms with padded rows and einsum, 22.4 with the GEMM, 21.2 with unpadded rows (PyTorch 16.4).

Strided depthwise convs go to conv_flat's phase planes (one per-channel product of the taps' im2col there;
15 % faster than a depthwise-specific copy of it on W7's 3x3 stride-2 layers, measured).

The batch is cut into chunks of a few samples (rows of a few thousand positions), split into two runs
(``window.run_parts``) on two threads (BLAS and NumPy copies release the GIL); each run has its own buffers and
weight-gradient partial sum, added in run order (one worker or two: identical bits).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .conv_flat import sum_shifted
from .window import part_chunk, run_parts, split_chunks, sum_in_order, workspaces

MAX_MULTIPLIER = 4
"""Larger multipliers (a first layer: one input channel feeding many outputs) are left to conv_flat, whose
GEMMs have ``M`` rows to work with (not measured against this kernel)."""

CHUNK_BYTES = 1 << 20
"""Target bytes of one chunk's flat input (all channels) in the forward. Measured on W2 (64 channels of 30x30
planes, float32): 4-sample chunks beat 2 (short rows) and 8 (the shifted copies leave the cache)."""

BACKWARD_CHUNK_BYTES = 1 << 19
"""The same in the backward, whose chunk holds three times the forward's buffers (the gradient's and the
input's shifted rows, the input-gradient rows). W2: 2-sample chunks 8.0 ms against 10.0 ms for 4 on two
threads (14.0 against 16.3 ms on one), 1-sample chunks 9.5 ms."""


def usable(x_shape, w_shape, geo, out_hw) -> bool:
    """Depthwise (``groups == C``, one input channel per group, multiplier <= ``MAX_MULTIPLIER``), stride 1."""
    c = x_shape[1]
    o, cg = w_shape[:2]
    return (len(x_shape) == 4 and geo.groups == c and cg == 1 and c >= 1 and o % c == 0
            and o // c <= MAX_MULTIPLIER and min(out_hw) >= 1 and tuple(geo.stride) == (1, 1))


def _chunk(n: int, sample_bytes: int, target_bytes: int) -> int:
    """Samples per chunk: about ``target_bytes`` of flat input (``sample_bytes`` per sample)."""
    return part_chunk(n, max(1, target_bytes // max(1, sample_bytes)))


class _Rows(NamedTuple):
    """Stride-1 layout: each channel's samples as blocks of ``hp`` plane rows of length ``wq = max(W, Wo)``
    (input rows at ``pt``, no column padding), at ``base + b*G`` in one flat row. Tap ``(i, j)`` of output
    ``q`` reads ``q + i*dh*wq + shift_j`` (``shift_j = j*dw - pl``); reads that wrap into a neighbouring row
    are masked to zero in the column-shifted copies, so inputs, outputs and gradients move as whole
    ``H*W`` / ``Ho*Wo`` blocks (one long copy per sample and channel) when ``wq == W == Wo`` ('same'
    padding), as rows of ``W`` or ``Wo`` at a stride otherwise."""
    h: int
    w: int
    ho: int
    wo: int
    kh: int
    kw: int
    dh: int
    dw: int
    pt: int
    pl: int
    wq: int
    hp: int
    base: int

    @property
    def block(self) -> int:
        return self.hp * self.wq

    @property
    def row_step(self) -> int:
        return self.dh * self.wq

    def shift(self, j: int) -> int:
        return j * self.dw - self.pl

    def length(self, nb: int) -> int:
        return self.base + nb * self.block + self.base


@functools.lru_cache(maxsize=256)
def _rows_plan(x_shape, kernel_size, dilation, padding, out_hw) -> _Rows:
    h, w = x_shape[2:]
    (kh, kw), (dh, dw), (pt, pl), (ho, wo) = kernel_size, dilation, padding, out_hw
    wq = max(w, wo)
    hp = max(pt + h, ho + dh * (kh - 1))
    reach = max(pl, (kw - 1) * dw, 1)
    base = ((kh - 1) * dh + 1 + -(-reach // wq)) * wq  # zero rows before the first block (and after the last)
    return _Rows(h, w, ho, wo, kh, kw, dh, dw, pt, pl, wq, hp, base)


def _shifted_copies(dest, src, start: int, step: int, span: int, wq: int, hi: int, reads: tuple) -> None:
    """``dest[..., k, :span] = src[..., start + k*step :][:span]`` for every ``k`` (one copy from an overlapping
    view), then the positions whose column ``x`` reads column ``x + reads[k]`` outside ``[0, hi)`` (a wrap into
    the neighbouring plane row) zeroed, all in one indexed assignment. Two calls per chunk, whatever ``K``: with
    both batch halves running on two threads, every NumPy call costs a GIL hand-over, and calls of a few
    microseconds ran no faster on two threads than on one (measured)."""
    k = dest.shape[-2]
    view = src[..., start:]
    np.copyto(dest[..., :span], as_strided(view, view.shape[:-1] + (k, span), view.strides[:-1] +
                                           (step * view.strides[-1], view.strides[-1])))
    rows, cols = _wrapped(wq, hi, reads)
    if rows.size:
        grid = dest[..., :span].reshape(dest.shape[:-1] + (span // wq, wq))
        grid[..., rows, :, cols] = 0


@functools.lru_cache(maxsize=256)
def _wrapped(wq: int, hi: int, reads: tuple):
    """``(k, x)`` index arrays of the columns ``x < wq`` whose read ``x + reads[k]`` falls outside ``[0, hi)``."""
    pairs = [(k, x) for k, shift in enumerate(reads) for x in range(wq) if not 0 <= x + shift < hi]
    return np.array([k for k, _ in pairs], dtype=np.intp), np.array([x for _, x in pairs], dtype=np.intp)


def _rows_for(x_shape, geo, out_hw) -> _Rows:
    return _rows_plan(tuple(x_shape), tuple(geo.kernel_size), tuple(geo.dilation), tuple(geo.padding),
                      tuple(out_hw))


def _kernel_rows(shifted, weights, kh: int, row_step: int, length: int, stacked, acc):
    """``sum_i (weights[:, i*R:(i+1)*R] @ shifted)[..., i*row_step:][..., :length]`` for ``weights (C, kh*R, K)``:
    per channel one ``(kh*R, K) @ (K, L)`` GEMM over the ``K`` column-shifted rows, then the kernel rows' partial
    results, shifted by ``i*row_step``, added with long-row adds. Returns ``(C, R, >= length)`` (``acc`` or a view
    of ``stacked``) whose first ``length`` positions hold the sum."""
    c, rows, _ = weights.shape
    span = length + (kh - 1) * row_step
    np.matmul(weights, shifted[..., :span], out=stacked[..., :span])
    parts = stacked.reshape(c, kh, rows // kh, -1)
    if kh == 1:
        return parts[:, 0]
    sum_shifted(parts, [i * row_step for i in range(kh)], length, acc)
    return acc


def _weights(w, c: int, mult: int, dtype):
    """``(C, M, taps)``: ``[c, k, t] = w[c*M + k, 0, i, j]``."""
    return np.ascontiguousarray(w, dtype=dtype).reshape(c, mult, -1)


def forward(x, w, geo, out_hw, bias=None):
    """``out (N, C*M, Ho, Wo) = depthwise conv(x, w) (+ bias)``, stride 1 (:func:`usable`)."""
    n, c = x.shape[:2]
    mult = w.shape[0] // c
    x = np.ascontiguousarray(x)
    wts = _weights(w, c, mult, x.dtype)
    out = np.empty((n, c * mult) + tuple(out_hw), dtype=x.dtype)
    bias3 = None if bias is None else np.asarray(bias, dtype=x.dtype).reshape(c, mult, 1)
    rp = _rows_for(x.shape, geo, out_hw)
    g_len, row_step = rp.block, rp.row_step
    nb = _chunk(n, c * g_len * x.itemsize, CHUNK_BYTES)
    w4 = wts.reshape(c, mult, rp.kh, rp.kw)
    weights = np.ascontiguousarray(w4.transpose(0, 2, 1, 3)).reshape(c, rp.kh * mult, rp.kw)  # row (i, k)
    reads = tuple(rp.shift(j) for j in range(rp.kw))

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        buf = workspaces.get(("dw.rows.x", rp, nb, part), (c, rp.length(nb)), x.dtype, zero=True)
        shifted = workspaces.get(("dw.cols", part), (c, rp.kw, nb * g_len), x.dtype)
        stacked = workspaces.get(("dw.y", part), (c, rp.kh * mult, nb * g_len), x.dtype)
        acc = workspaces.get(("dw.acc", part), (c, mult, nb * g_len), x.dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            _blocks(buf, rp, m, rp.pt, rp.h, rp.w)[...] = x[n0:n1].transpose(1, 0, 2, 3)
            length = (m - 1) * g_len + rp.ho * rp.wq  # acc[q]: output at block position q
            span = length + (rp.kh - 1) * row_step
            # shifted[c, j, q] = x_plane[c, q + j*dw - pl], zero where that wraps
            _shifted_copies(shifted, buf, rp.base + rp.shift(0), rp.dw, span, rp.wq, rp.w, reads)
            res = _kernel_rows(shifted, weights, rp.kh, row_step, length, stacked, acc)
            _store(res, length, bias3, out[n0:n1], g_len, rp.wq)

    run_parts(work, split_chunks(n, nb), x.nbytes + out.nbytes)
    return out


def _blocks(buf, rp: _Rows, m: int, row0: int, rows: int, cols: int):
    """``(C, m, rows, cols)``: plane rows ``row0 ..`` and columns ``0 .. cols`` of the first ``m`` blocks of
    ``buf (C, ...)`` (whole blocks of ``rows*cols`` contiguous values when ``cols == wq``)."""
    view = buf[:, rp.base:rp.base + m * rp.block].reshape(buf.shape[0], m, rp.hp, rp.wq)
    return view[:, :, row0:row0 + rows, :cols]


def _store(res, length: int, bias3, target, g_len: int, wq: int) -> None:
    """``target (m, C*M, Ho, Wo) = res`` (+ bias): ``res (C, M, >= m*g_len)`` holds output ``(y, x)`` of sample
    ``b`` at ``b*g_len + y*wq + x`` (whole ``Ho*Wo`` blocks when ``wq == Wo``)."""
    c, mult = res.shape[:2]
    m, _, ho, wo = target.shape
    if bias3 is not None:  # on the long rows (an add into the strided output costs 3x a copy)
        np.add(res[..., :length], bias3, out=res[..., :length])
    valid = res[..., :m * g_len].reshape(c, mult, m, g_len)[..., :ho * wq]
    valid = valid.reshape(c, mult, m, ho, wq)[..., :wo].transpose(2, 0, 1, 3, 4)
    target.reshape(m, c, mult, ho, wo)[...] = valid


def backward(x, grad, w, geo, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` of the depthwise conv (``None`` for a gradient not asked for); ``x`` is needed only for
    ``dW``, ``w`` only for ``dx``, ``grad`` C-contiguous (as :func:`conv_kernels.conv_backward` passes it). One
    pass over the batch: the gradient is loaded once per chunk."""
    n, c = x_shape[:2]
    mult = w_shape[0] // c
    dtype = grad.dtype
    if need_weight:
        x = np.ascontiguousarray(x, dtype=dtype)
    rp = _rows_for(x_shape, geo, grad.shape[2:])
    g_len, row_step, wq = rp.block, rp.row_step, rp.wq
    nb = _chunk(n, c * g_len * grad.itemsize, BACKWARD_CHUNK_BYTES)
    dx = None
    if need_input:
        dx = np.empty(x_shape, dtype=dtype)
        wts = _weights(w, c, mult, dtype)
        flipped = wts.reshape(c, mult, rp.kh, rp.kw)[:, :, ::-1, ::-1]
        weights = np.ascontiguousarray(flipped.transpose(0, 2, 1, 3)).reshape(c, rp.kh, mult * rp.kw)
    dx_start = rp.pt * wq - (rp.kh - 1) * row_step  # input-gradient position q reads g at dx_start + q - shift_j
    reads = tuple(-rp.shift(rp.kw - 1 - jf) for jf in range(rp.kw))
    span_max = nb * g_len + (rp.kh - 1) * row_step

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        gbuf = workspaces.get(("dw.rows.g", rp, mult, nb, part), (c * mult, rp.length(nb)), dtype, zero=True)
        g3 = gbuf.reshape(c, mult, -1)
        total = np.zeros((c, mult * rp.kw, rp.kh), dtype=dtype) if need_weight else None  # [c, (k, jf), i]
        shifted = workspaces.get(("dw.gcols", part), (c, mult, rp.kw, span_max), dtype)
        cols = shifted.reshape(c, mult * rp.kw, -1)
        if need_input:
            stacked = workspaces.get(("dw.dy", part), (c, rp.kh, span_max), dtype)
            acc = workspaces.get(("dw.dacc", part), (c, 1, span_max), dtype)
        if need_weight:
            x_rows = workspaces.get(("dw.xrows", rp, nb, part), (c, rp.kh, span_max), dtype, zero=True)
        for n0, n1 in chunks:
            m = n1 - n0
            _blocks(gbuf, rp, m, 0, rp.ho, rp.wo)[...] = grad[n0:n1].transpose(1, 0, 2, 3)
            d_len = (m - 1) * g_len + rp.h * wq  # positions pt*wq + q, q < d_len: every input pixel
            span = d_len + (rp.kh - 1) * row_step
            # shifted[c, k, jf, q] = g_k[dx_start + q - shift_j] (j = kw-1-jf), zero where that wraps
            _shifted_copies(shifted, g3, rp.base + dx_start - rp.shift(rp.kw - 1), rp.dw, span, wq, rp.wo, reads)
            # input pixel p = pt*wq + q reads g_k[p - i*dh*wq - shift_j] = shifted[k, kw-1-j, q + (kh-1-i)*dh*wq]:
            # the taps flipped, so dW[k, kh-1-i, kw-1-jf] = sum_q shifted[k, jf, q] x_rows[i, q] with
            # x_rows[i, i*dh*wq + q] = x_plane[pt*wq + q] (q < d_len, zero elsewhere): per channel one
            # (M*kw, span) @ (span, kh) GEMM. BLAS runs these 9 dots per channel faster than einsum's 3
            # matrix-vector loops (one accumulator each), and two callers overlap (BLAS matrix-vector products
            # did not).
            if need_weight:  # x straight into kernel row 0's layout (gaps, spare columns: zero, never written)
                x_rows[:, 0, :m * g_len].reshape(c, m, g_len)[:, :, :rp.h * wq].reshape(
                    c, m, rp.h, wq)[..., :rp.w] = x[n0:n1].transpose(1, 0, 2, 3)
                for i in range(1, rp.kh):  # (below i*dh*wq: never written, so zero)
                    x_rows[:, i, i * row_step:i * row_step + d_len] = x_rows[:, 0, :d_len]
                if m < nb:  # a short last chunk: past its end, rows still hold a full chunk's values
                    for i in range(rp.kh):
                        x_rows[:, i, i * row_step + d_len:span] = 0
                total += np.matmul(cols[..., :span], x_rows[..., :span].transpose(0, 2, 1))
            if need_input:  # dx[p] = sum_{k, i, j} w[k, i, j] g_k[p - i*dh*wq - shift_j]
                res = _kernel_rows(cols, weights, rp.kh, row_step, d_len, stacked, acc)
                rows = res[:, 0, :m * g_len].reshape(c, m, g_len)[:, :, :rp.h * wq]
                dx[n0:n1] = rows.reshape(c, m, rp.h, wq)[..., :rp.w].transpose(1, 0, 2, 3)
        return total

    totals = run_parts(work, split_chunks(n, nb), 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    if not need_weight:
        return dx, None
    total = sum_in_order(totals).reshape(c, mult, rp.kw, rp.kh)  # [c, k, kw-1-j, kh-1-i]
    return dx, np.ascontiguousarray(total[:, :, ::-1, ::-1].transpose(0, 1, 3, 2)).reshape(w_shape)
