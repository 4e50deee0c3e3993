"""Depthwise convolution (``groups == C``, weight ``(C*M, 1, kh, kw)``, stride 1) as fused per-tap passes.

Output channel ``o = c*M + k`` reads input channel ``c`` only (PyTorch's layout, ``M`` the channel multiplier).
On the flat padded-width layout of :mod:`conv_flat` (each channel's zero-padded plane flattened with row length
``Wq``, samples in blocks of ``G`` positions back to back in one row per channel) tap ``t = (i, j)`` is the
contiguous slice at ``off_t = i*dh*Wq + j*dw``, so every formula is a short loop over taps of broadcast
multiply-adds over long rows (a per-channel weight column times a row; no tiny BLAS calls, no col2im):

    out_flat[o, q] = sum_t w[o, t] * x_flat[c, q + off_t]                          (+ bias[o])
    dx_flat[c, p]  = sum_{k, t} w[c*M + k, t] * g_flat[c*M + k, p - off_t]        (g zero off its valid region)
    dW[o, t]       = sum_q g_flat[o, q] * x_flat[c, q + off_t]

The weight gradient is one batched dot product per tap (``(C, M, L) @ (C, L, 1)``). The batch is cut into
chunks of a few samples (rows of a few thousand positions: long enough that NumPy's per-row overhead vanishes,
short enough that a chunk's rows stay in the L3 cache across the taps). The chunks are split into two runs (``window.run_parts``) that run on two threads (ufuncs release the GIL); each run has
its own buffers and weight-gradient partial sum, added in run order (one worker or two: identical bits).
"""
from __future__ import annotations

import numpy as np

from .conv_flat import _Grad, _Input, _plan
from .window import PARTS, part_chunk, run_parts, split_chunks, workspaces

MAX_MULTIPLIER = 4
"""Larger multipliers (e.g. one input channel feeding 32 outputs) run faster as conv_flat's GEMMs."""

CHUNK_BYTES = 2 << 20
"""Target bytes of one chunk's flat input (all channels). Measured on W2 (64 channels of 30x30 planes,
float32; one thread): chunks of 4-16 samples run within 15 %, 1-2 samples 3x slower (short rows)."""


def usable(x_shape, w_shape, geo, out_hw) -> bool:
    """Depthwise (``groups == C``, one input channel per group, multiplier <= ``MAX_MULTIPLIER``), stride 1."""
    c = x_shape[1]
    o, cg = w_shape[:2]
    return (len(x_shape) == 4 and geo.groups == c and cg == 1 and c >= 1 and o % c == 0
            and o // c <= MAX_MULTIPLIER and tuple(geo.stride) == (1, 1) and min(out_hw) >= 1)


def _plan_for(x_shape, geo, out_hw):
    return _plan(tuple(x_shape), tuple(geo.kernel_size), (1, 1), tuple(geo.dilation), tuple(geo.padding),
                 tuple(out_hw))


def _chunk(n: int, plan, itemsize: int) -> int:
    """Samples per chunk: about ``CHUNK_BYTES`` of input, evened out so that the two batch parts get equal
    work (64 samples with a 9-sample target: 8 chunks of 8, not 7 of 9 and a 1)."""
    target = part_chunk(n, max(1, CHUNK_BYTES // max(1, plan.c * plan.grad_len * itemsize)))
    count = max(1, -(-n // (PARTS * target))) * PARTS  # an even number of chunks
    return max(1, -(-n // count))


def _taps_fma(acc, tmp, sources, weights) -> None:
    """``acc = sum_s sources[s] * weights[s]`` (a weight column broadcast along each row)."""
    np.multiply(sources[0], weights[0], out=acc)
    for src, wt in zip(sources[1:], weights[1:]):
        np.multiply(src, wt, out=tmp)
        np.add(acc, tmp, out=acc)


def _weights(w, c: int, mult: int, dtype):
    """``(C, M, taps)``: ``[c, k, t] = w[c*M + k, 0, i, j]``."""
    return np.ascontiguousarray(w, dtype=dtype).reshape(c, mult, -1)


def forward(x, w, geo, out_hw, bias=None):
    """``out (N, C*M, Ho, Wo) = depthwise conv(x, w) (+ bias)``, stride 1."""
    plan = _plan_for(x.shape, geo, out_hw)
    n, c = x.shape[:2]
    mult = w.shape[0] // c
    x = np.ascontiguousarray(x)
    wts = _weights(w, c, mult, x.dtype)
    nb = _chunk(n, plan, x.itemsize)
    g_len, lead, out_len = plan.grad_len, plan.lead, plan.out_len
    out = np.empty((n, c * mult, plan.ho, plan.wo), dtype=x.dtype)
    bias3 = None if bias is None else np.asarray(bias, dtype=x.dtype).reshape(c, mult, 1)
    weights = [wts[:, :, t:t + 1] for t in range(plan.taps)]

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        source = _Input(x, plan, nb, part)
        xs = source.buf[:, None]
        acc = workspaces.get(("dw.acc", part), (c, mult, nb * g_len), x.dtype)
        tmp = workspaces.get(("dw.tmp", part), (c, mult, nb * g_len), x.dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            source.load(n0, n1)
            length = (m - 1) * g_len + out_len  # acc[q] is block position lead + q
            _taps_fma(acc[..., :length], tmp[..., :length],
                      [xs[..., lead + off:lead + off + length] for off in plan.tap_off], weights)
            if bias3 is not None:  # on the long rows (an add into the strided output costs 3x a copy)
                np.add(acc[..., :length], bias3, out=acc[..., :length])
            valid = acc[..., :m * g_len].reshape(c, mult, m, g_len)[..., :out_len]
            valid = valid.reshape(c, mult, m, plan.ho, plan.wq)[..., :plan.wo].transpose(2, 0, 1, 3, 4)
            out[n0:n1].reshape(m, c, mult, plan.ho, plan.wo)[...] = valid

    run_parts(work, split_chunks(n, nb), x.nbytes + out.nbytes)
    return out


def backward(x, grad, w, geo, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` of the depthwise conv (``None`` for a gradient not asked for); ``x`` is needed only for
    ``dW``, ``w`` only for ``dx``. One pass over the batch: the flat gradient is loaded once per chunk."""
    grad = np.ascontiguousarray(grad)
    out_hw = grad.shape[2:]
    plan = _plan_for(x_shape, geo, out_hw)
    n, c = x_shape[:2]
    mult = w_shape[0] // c
    dtype = grad.dtype
    if need_weight:
        x = np.ascontiguousarray(x, dtype=dtype)
    nb = _chunk(n, plan, grad.itemsize)
    g_len, lead, out_len, wq = plan.grad_len, plan.lead, plan.out_len, plan.wq
    (r0, r1, first_r), (c0, c1, first_c) = plan.rows[0], plan.cols[0]  # stride 1: every input pixel
    start = lead + r0 * wq  # block position of the first plane row that holds input pixels
    dx = None
    if need_input:
        dx = np.empty(x_shape, dtype=dtype)
        wts = _weights(w, c, mult, dtype)
        weights = [wts[:, k, t:t + 1] for k in range(mult) for t in range(plan.taps)]

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        grads = _Grad(grad, plan, nb, part)
        gbuf = grads.buf.reshape(c, mult, -1)
        source = _Input(x, plan, nb, part) if need_weight else None
        total = np.zeros((c, mult, plan.taps), dtype=dtype) if need_weight else None
        if need_input:
            acc = workspaces.get(("dw.dacc", part), (c, nb * g_len), dtype)
            tmp = workspaces.get(("dw.dtmp", part), (c, nb * g_len), dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            grads.load(n0, n1)
            if need_weight:  # dW_t = sum_q g[q] x[q + off_t] over the chunk's valid span (g is 0 elsewhere)
                source.load(n0, n1)
                w_len = (m - 1) * g_len + out_len
                g_rows = gbuf[..., lead:lead + w_len]
                for t, off in enumerate(plan.tap_off):
                    x_rows = source.buf[:, lead + off:lead + off + w_len, None]
                    total[:, :, t] += np.matmul(g_rows, x_rows)[..., 0]
            if need_input:  # dx[p] = sum_{k, t} w[k, t] g_k[p - off_t]; acc[q] is block position start + q
                d_len = (m - 1) * g_len + (r1 - r0) * wq
                _taps_fma(acc[:, :d_len], tmp[:, :d_len],
                          [gbuf[:, k, start - off:start - off + d_len] for k in range(mult) for off in plan.tap_off],
                          weights)
                rows = acc[:, :m * g_len].reshape(c, m, g_len)[:, :, :(r1 - r0) * wq]
                dx[n0:n1, :, first_r:first_r + r1 - r0, first_c:first_c + c1 - c0] = \
                    rows.reshape(c, m, r1 - r0, wq)[..., c0:c1].transpose(1, 0, 2, 3)
        return total

    totals = run_parts(work, split_chunks(n, nb), 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    if not need_weight:
        return dx, None
    total = totals[0]
    for t in totals[1:]:  # in part order: the same bits whatever the worker count
        total += t
    return dx, total.reshape(w_shape)
