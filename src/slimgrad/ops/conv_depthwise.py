"""Depthwise convolution (``groups == C``, weight ``(C*M, 1, kh, kw)``, stride 1) as fused per-tap passes.

Output channel ``o = c*M + k`` reads input channel ``c`` only (PyTorch's layout, ``M`` the channel multiplier).
On the flat padded-width layout of :mod:`conv_flat` (each channel's zero-padded plane flattened with row length
``Wq``, samples in blocks of ``G`` positions back to back in one row per channel) tap ``t = (i, j)`` is the
contiguous slice at ``off_t = i*dh*Wq + j*dw``, so every formula is a short loop over taps of broadcast
multiply-adds over long rows (a per-channel weight column times a row; no tiny BLAS calls, no col2im):

    out_flat[o, q] = sum_t w[o, t] * x_flat[c, q + off_t]                          (+ bias[o])
    dx_flat[c, p]  = sum_{k, t} w[c*M + k, t] * g_flat[c*M + k, p - off_t]        (g zero off its valid region)
    dW[o, t]       = sum_q g_flat[o, q] * x_flat[c, q + off_t]

The batch is cut into chunks of samples and the chunk's channels into row blocks small enough that a block's
input, accumulator and temporary rows stay in the per-core cache while all taps run over them. The chunks
are split into two runs (``window.run_parts``) that run on two threads (ufuncs release the GIL); each run has
its own buffers and weight-gradient partial sum, added in run order (one worker or two: identical bits).
"""
from __future__ import annotations

import numpy as np

from .conv_flat import _Grad, _Input, _plan
from .window import part_chunk, run_parts, split_chunks, workspaces

MAX_MULTIPLIER = 4
"""Larger multipliers (e.g. one input channel feeding 32 outputs) run faster as conv_flat's GEMMs."""

CHUNK_BYTES = 1 << 20
"""Target bytes of one chunk's flat input (all channels): a handful of samples for typical planes."""

BLOCK_ELEMS = 1 << 15
"""Target elements of one row block (rows x chunk length): its input, accumulator and temporary rows
(3 x 128 KB in float32) stay in the 1 MB per-core L2 cache across the taps."""


def usable(x_shape, w_shape, geo, out_hw) -> bool:
    """Depthwise (``groups == C``, one input channel per group, multiplier <= ``MAX_MULTIPLIER``), stride 1."""
    c = x_shape[1]
    o, cg = w_shape[:2]
    return (len(x_shape) == 4 and geo.groups == c and cg == 1 and c >= 1 and o % c == 0
            and o // c <= MAX_MULTIPLIER and tuple(geo.stride) == (1, 1) and min(out_hw) >= 1)


def _plan_for(x_shape, geo, out_hw):
    return _plan(tuple(x_shape), tuple(geo.kernel_size), (1, 1), tuple(geo.dilation), tuple(geo.padding),
                 tuple(out_hw))


def _sizes(n: int, plan, rows: int, itemsize: int):
    """``(samples per chunk, channels per row block)``."""
    nb = part_chunk(n, max(1, CHUNK_BYTES // max(1, rows * plan.grad_len * itemsize)))
    block = max(1, min(plan.c, BLOCK_ELEMS // max(1, nb * plan.grad_len)))
    return nb, block


def _blocks(c: int, block: int):
    return [(c0, min(c, c0 + block)) for c0 in range(0, c, block)]


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
    nb, block = _sizes(n, plan, c * (1 + 2 * mult), x.itemsize)
    g_len, lead, out_len = plan.grad_len, plan.lead, plan.out_len
    out = np.empty((n, c * mult, plan.ho, plan.wo), dtype=x.dtype)
    bias3 = None if bias is None else np.asarray(bias, dtype=x.dtype).reshape(c, mult, 1, 1)

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        source = _Input(x, plan, nb, part)
        acc = workspaces.get(("dw.acc", part), (c, mult, nb * g_len), x.dtype)
        tmp = workspaces.get(("dw.tmp", part), (block, mult, nb * g_len), x.dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            source.load(n0, n1)
            length = (m - 1) * g_len + out_len  # acc[q] is block position lead + q
            for c0, c1 in _blocks(c, block):
                xs = source.buf[c0:c1, None]
                _taps_fma(acc[c0:c1, :, :length], tmp[:c1 - c0, :, :length],
                          [xs[..., lead + off:lead + off + length] for off in plan.tap_off],
                          [wts[c0:c1, :, t:t + 1] for t in range(plan.taps)])
                valid = acc[c0:c1, :, :m * g_len].reshape(c1 - c0, mult, m, g_len)[..., :out_len]
                valid = valid.reshape(c1 - c0, mult, m, plan.ho, plan.wq)[..., :plan.wo].transpose(2, 0, 1, 3, 4)
                target = out[n0:n1, c0 * mult:c1 * mult].reshape(m, c1 - c0, mult, plan.ho, plan.wo)
                if bias3 is None:
                    target[...] = valid
                else:  # the bias is added while the block's output is still in cache
                    np.add(valid, bias3[c0:c1], out=target)

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
    wts = _weights(w, c, mult, dtype) if need_input else None
    nb, block = _sizes(n, plan, c * (2 + 2 * mult), grad.itemsize)
    g_len, lead, out_len = plan.grad_len, plan.lead, plan.out_len
    (r0, r1, first_r), (c0_, c1_, first_c) = plan.rows[0], plan.cols[0]
    start = lead + r0 * plan.wq  # block position of the first plane row that holds input pixels
    dx = np.empty(x_shape, dtype=dtype) if need_input else None
    neg = [start - off for off in plan.tap_off]  # dx reads g at p - off_t

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        grads = _Grad(grad, plan, nb, part)
        gbuf = grads.buf.reshape(c, mult, -1)
        source = _Input(x, plan, nb, part) if need_weight else None
        total = np.zeros((c, mult, plan.taps), dtype=dtype) if need_weight else None
        if need_input:
            acc = workspaces.get(("dw.dacc", part), (c, nb * g_len), dtype)
            tmp = workspaces.get(("dw.dtmp", part), (block, nb * g_len), dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            grads.load(n0, n1)
            if need_weight:
                source.load(n0, n1)
            w_len = (m - 1) * g_len + out_len  # g is zero elsewhere
            d_len = (m - 1) * g_len + (r1 - r0) * plan.wq
            for b0, b1 in _blocks(c, block):
                if need_weight:
                    g_rows = gbuf[b0:b1, :, lead:lead + w_len]
                    x_rows = source.buf[b0:b1]
                    for t, off in enumerate(plan.tap_off):
                        total[b0:b1, :, t] += np.einsum("ckq,cq->ck", g_rows,
                                                        x_rows[:, lead + off:lead + off + w_len])
                if need_input:
                    _taps_fma(acc[b0:b1, :d_len], tmp[:b1 - b0, :d_len],
                              [gbuf[b0:b1, k, s:s + d_len] for k in range(mult) for s in neg],
                              [wts[b0:b1, k, t:t + 1] for k in range(mult) for t in range(plan.taps)])
                    rows = acc[b0:b1, :m * g_len].reshape(b1 - b0, m, g_len)[:, :, :(r1 - r0) * plan.wq]
                    dx[n0:n1, b0:b1, first_r:first_r + r1 - r0, first_c:first_c + c1_ - c0_] = \
                        rows.reshape(b1 - b0, m, r1 - r0, plan.wq)[..., c0_:c1_].transpose(1, 0, 2, 3)
        return total

    totals = run_parts(work, split_chunks(n, nb), 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    if not need_weight:
        return dx, None
    total = totals[0]
    for t in totals[1:]:  # in part order: the same bits whatever the worker count
        total += t
    return dx, total.reshape(w_shape)
