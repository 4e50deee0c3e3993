"""Depthwise convolution (``groups == C``, weight ``(C*M, 1, kh, kw)``) on long flat rows.

Output channel ``o = c*M + k`` reads input channel ``c`` only (PyTorch's layout, ``M`` the channel multiplier).
On the flat padded-width layout of :mod:`conv_flat` (each channel's zero-padded plane flattened with row length
``Wq``, samples in blocks of ``G`` positions back to back in one row per channel) tap ``(i, j)`` is the
contiguous slice at ``off_ij = i*dh*Wq + j*dw`` (no col2im anywhere):

    out_flat[o, q] = sum_{i,j} w[o, i, j] * x_flat[c, q + off_ij]                        (+ bias[o])
    dx_flat[c, p]  = sum_{k,i,j} w[c*M + k, i, j] * g_flat[c*M + k, p - off_ij]          (g zero off its valid region)
    dW[o, i, j]    = sum_p x_flat[c, p] * g_flat[o, p - off_ij]

Stride 1: per chunk only the ``kw`` column shifts are copied (``S[c, j, q] = x_flat[c, q + j*dw]``, or the
gradient's, flipped); kernel row ``i`` is then the view ``S[..., i*dh*Wq:]``, so one per-channel GEMM
``(kh*M, kw) @ (kw, L)`` (``L`` = a chunk's positions) gives every kernel row's partial sums, added shifted by
``i*dh*Wq`` with long-row adds: ``kw`` copies + 1 GEMM + ``kh - 1`` adds per direction instead of
``2*kh*kw - 1`` broadcast multiply/add passes (W2, one thread: forward 7.8 against 9.4 ms, input gradient 7.2
against 9.3 ms). The weight gradient reuses the gradient's shifted copies: with the input loaded as ``kh``
rows shifted by ``i*dh*Wq``, it is one per-channel ``(M*kw, L) @ (L, kh)`` GEMM (W2 backward, two threads:
8.0 against 10.0 ms for three ``einsum`` matrix-vector loops per chunk).

A stride ``s > 1`` runs on conv_flat's phase planes (tap ``t`` reads phase ``ph_t`` at ``off_t``): the forward
is an im2col of the taps' output-sized rows and one ``(M, taps) @ (taps, L)`` product per channel, the input
gradient one such product per phase plane over the taps that read it, the weight gradient one batched dot per
tap (W7's 3x3 stride-2 layers: a few per cent faster than conv_flat there, one thread; the phase-plane loads
(strided gathers) dominate).

The batch is cut into chunks of a few samples (rows of a few thousand positions), split into two runs
(``window.run_parts``) on two threads (BLAS and NumPy copies release the GIL); each run has its own buffers and
weight-gradient partial sum, added in run order (one worker or two: identical bits).
"""
from __future__ import annotations

import numpy as np

from .conv_flat import _Grad, _Input, _plan
from .conv_flat import usable as flat_usable
from .window import PARTS, part_chunk, run_parts, split_chunks, sum_in_order, workspaces

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
    """Depthwise (``groups == C``, one input channel per group, multiplier <= ``MAX_MULTIPLIER``), stride 1, or
    a stride whose phase planes are all read by overlapping taps (``conv_flat.usable``: 3x3 stride 2 is)."""
    c = x_shape[1]
    o, cg = w_shape[:2]
    if not (len(x_shape) == 4 and geo.groups == c and cg == 1 and c >= 1 and o % c == 0
            and o // c <= MAX_MULTIPLIER and min(out_hw) >= 1):
        return False
    return tuple(geo.stride) == (1, 1) or flat_usable(_plan_for(x_shape, geo, out_hw))


def _plan_for(x_shape, geo, out_hw):
    return _plan(tuple(x_shape), tuple(geo.kernel_size), tuple(geo.stride), tuple(geo.dilation),
                 tuple(geo.padding), tuple(out_hw))


def _chunk(n: int, plan, itemsize: int, target_bytes: int) -> int:
    """Samples per chunk: about ``target_bytes`` of input, evened out so that the two batch parts get equal
    work (64 samples with a 9-sample target: 8 chunks of 8, not 7 of 9 and a 1)."""
    target = part_chunk(n, max(1, target_bytes // max(1, plan.c * plan.phases * plan.grad_len * itemsize)))
    count = max(1, -(-n // (PARTS * target))) * PARTS  # an even number of chunks
    return max(1, -(-n // count))


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
    np.add(parts[:, 0, :, :length], parts[:, 1, :, row_step:row_step + length], out=acc[..., :length])
    for i in range(2, kh):
        np.add(acc[..., :length], parts[:, i, :, i * row_step:i * row_step + length], out=acc[..., :length])
    return acc


def _weights(w, c: int, mult: int, dtype):
    """``(C, M, taps)``: ``[c, k, t] = w[c*M + k, 0, i, j]``."""
    return np.ascontiguousarray(w, dtype=dtype).reshape(c, mult, -1)


def forward(x, w, geo, out_hw, bias=None):
    """``out (N, C*M, Ho, Wo) = depthwise conv(x, w) (+ bias)``."""
    plan = _plan_for(x.shape, geo, out_hw)
    n, c = x.shape[:2]
    mult = w.shape[0] // c
    x = np.ascontiguousarray(x)
    wts = _weights(w, c, mult, x.dtype)
    nb = _chunk(n, plan, x.itemsize, CHUNK_BYTES)
    g_len, lead, out_len = plan.grad_len, plan.lead, plan.out_len
    out = np.empty((n, c * mult, plan.ho, plan.wo), dtype=x.dtype)
    bias3 = None if bias is None else np.asarray(bias, dtype=x.dtype).reshape(c, mult, 1)
    if plan.phases > 1:
        return _forward_strided(x, wts, plan, nb, bias3, out)
    row_step = plan.dh * plan.wq
    w4 = wts.reshape(c, mult, plan.kh, plan.kw)
    weights = np.ascontiguousarray(w4.transpose(0, 2, 1, 3)).reshape(c, plan.kh * mult, plan.kw)  # row (i, k)

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        source = _Input(x, plan, nb, part)
        shifted = workspaces.get(("dw.cols", part), (c, plan.kw, nb * g_len + (plan.kh - 1) * row_step), x.dtype)
        stacked = workspaces.get(("dw.y", part), (c, plan.kh * mult, shifted.shape[2]), x.dtype)
        acc = workspaces.get(("dw.acc", part), (c, mult, nb * g_len), x.dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            source.load(n0, n1)
            length = (m - 1) * g_len + out_len  # acc[q] is block position lead + q
            span = length + (plan.kh - 1) * row_step
            for j in range(plan.kw):  # shifted[c, j, q] = x_flat[c, lead + j*dw + q]
                shifted[:, j, :span] = source.buf[:, lead + j * plan.dw:lead + j * plan.dw + span]
            res = _kernel_rows(shifted, weights, plan.kh, row_step, length, stacked, acc)
            _store(res, length, bias3, out[n0:n1], plan)

    run_parts(work, split_chunks(n, nb), x.nbytes + out.nbytes)
    return out


def _store(res, length: int, bias3, target, plan) -> None:
    """``target (m, C*M, Ho, Wo) = res`` (flat ``(C, M, >= m*G)``, valid outputs at ``b*G + y*Wq + x``) + bias."""
    c, mult = res.shape[:2]
    m = target.shape[0]
    if bias3 is not None:  # on the long rows (an add into the strided output costs 3x a copy)
        np.add(res[..., :length], bias3, out=res[..., :length])
    valid = res[..., :m * plan.grad_len].reshape(c, mult, m, plan.grad_len)[..., :plan.out_len]
    valid = valid.reshape(c, mult, m, plan.ho, plan.wq)[..., :plan.wo].transpose(2, 0, 1, 3, 4)
    target.reshape(m, c, mult, plan.ho, plan.wo)[...] = valid


def _forward_strided(x, wts, plan, nb, bias3, out):
    """Stride > 1 on phase planes (tap ``t`` reads phase ``ph_t`` at ``off_t``): im2col of the taps (output-sized
    rows) and one per-channel ``(M, taps) @ (taps, L)`` product."""
    c, mult, taps = wts.shape
    g_len, lead = plan.grad_len, plan.lead

    def work(part, chunks):
        source = _Input(x, plan, nb, part)
        cols = workspaces.get(("dw.scols", part), (c, taps, nb * g_len), x.dtype)
        acc = workspaces.get(("dw.sacc", part), (c, mult, nb * g_len), x.dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            source.load(n0, n1)
            length = (m - 1) * g_len + plan.out_len  # acc[q] is block position lead + q
            for t, (ph, off) in enumerate(zip(plan.tap_phase, plan.tap_off)):
                cols[:, t, :length] = source.phase(ph)[:, lead + off:lead + off + length]
            np.matmul(wts, cols[..., :length], out=acc[..., :length])
            _store(acc, length, bias3, out[n0:n1], plan)

    run_parts(work, split_chunks(x.shape[0], nb), x.nbytes + out.nbytes)
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
    nb = _chunk(n, plan, grad.itemsize, BACKWARD_CHUNK_BYTES)
    if plan.phases > 1:
        return _backward_strided(x, grad, w, plan, nb, x_shape, w_shape, need_input, need_weight)
    g_len, lead, wq = plan.grad_len, plan.lead, plan.wq
    (r0, r1, first_r), (c0, c1, first_c) = plan.rows[0], plan.cols[0]  # stride 1: every input pixel
    start = lead + r0 * wq  # block position of the first plane row that holds input pixels
    dx = None
    if need_input:
        dx = np.empty(x_shape, dtype=dtype)
        wts = _weights(w, c, mult, dtype)
        flipped = wts.reshape(c, mult, plan.kh, plan.kw)[:, :, ::-1, ::-1]
        weights = np.ascontiguousarray(flipped.transpose(0, 2, 1, 3)).reshape(c, plan.kh, mult * plan.kw)
    row_step = plan.dh * wq
    base = start - plan.reach  # >= 0: lead leaves room for the widest backward reach

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        grads = _Grad(grad, plan, nb, part)
        gbuf = grads.buf.reshape(c, mult, -1)
        total = np.zeros((c, mult, plan.kh, plan.kw), dtype=dtype) if need_weight else None
        shifted = workspaces.get(("dw.gcols", part), (c, mult, plan.kw, nb * g_len + (plan.kh - 1) * row_step), dtype)
        cols = shifted.reshape(c, mult * plan.kw, -1)
        if need_input:
            stacked = workspaces.get(("dw.dy", part), (c, plan.kh, shifted.shape[3]), dtype)
            acc = workspaces.get(("dw.dacc", part), (c, 1, nb * g_len), dtype)
        if need_weight:
            x_rows = workspaces.get(("dw.xrows", plan, part), (c, plan.kh, shifted.shape[3]), dtype, zero=True)
        for n0, n1 in chunks:
            m = n1 - n0
            grads.load(n0, n1)
            d_len = (m - 1) * g_len + (r1 - r0) * wq  # positions start + q, q < d_len: every input pixel
            span = d_len + (plan.kh - 1) * row_step
            for j in range(plan.kw):  # shifted[c, k, j, q] = g_flat[c*M + k, base + j*dw + q]
                shifted[:, :, j, :span] = gbuf[:, :, base + j * plan.dw:base + j * plan.dw + span]
            # g_k[start + q - i*dh*Wq - j*dw] = shifted[k, kw-1-j, q + (kh-1-i)*dh*Wq]: the taps flipped, so
            # dW[k, kh-1-i, kw-1-j] = sum_q shifted[k, j, q] x_rows[i, q] with x_rows[i, i*dh*Wq + q] = x[start + q]
            # (q < d_len, zero elsewhere): per channel one (M*kw, span) @ (span, kh) GEMM. BLAS runs these 9
            # dots per channel faster than einsum's 3 matrix-vector loops (one accumulator each), and two
            # callers overlap (BLAS matrix-vector products did not).
            if need_weight:  # x straight into kernel row 0's layout (padding, gaps: zero, never written)
                x_rows[:, 0, :m * g_len].reshape(c, m, g_len)[:, :, :(r1 - r0) * wq].reshape(
                    c, m, r1 - r0, wq)[..., c0:c1] = x[n0:n1, :, first_r:first_r + r1 - r0,
                                                       first_c:first_c + c1 - c0].transpose(1, 0, 2, 3)
                x_rows[:, 0, d_len:span] = 0
                for i in range(1, plan.kh):
                    lo = i * row_step
                    x_rows[:, i, :lo] = 0
                    x_rows[:, i, lo:lo + d_len] = x_rows[:, 0, :d_len]
                    x_rows[:, i, lo + d_len:span] = 0
                part_sum = np.matmul(cols[..., :span], x_rows[..., :span].transpose(0, 2, 1))
                total += part_sum.reshape(c, mult, plan.kw, plan.kh)[:, :, ::-1, ::-1].transpose(0, 1, 3, 2)
            if need_input:  # dx[p] = sum_{k, i, j} w[k, i, j] g_k[p - i*dh*Wq - j*dw]; acc[q]: position start + q
                res = _kernel_rows(cols, weights, plan.kh, row_step, d_len, stacked, acc)
                rows = res[:, 0, :m * g_len].reshape(c, m, g_len)[:, :, :(r1 - r0) * wq]
                dx[n0:n1, :, first_r:first_r + r1 - r0, first_c:first_c + c1 - c0] = \
                    rows.reshape(c, m, r1 - r0, wq)[..., c0:c1].transpose(1, 0, 2, 3)
        return total

    totals = run_parts(work, split_chunks(n, nb), 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    return dx, (sum_in_order(totals).reshape(w_shape) if need_weight else None)


def _backward_strided(x, grad, w, plan, nb, x_shape, w_shape, need_input, need_weight):
    """Stride > 1: ``dW_t`` one batched dot per tap against its phase plane; ``dx`` phase plane by phase plane,
    ``dx_ph[p] = sum_{k, t reading ph} w[k, t] g_k[p - off_t]`` (im2col of those taps + one per-channel product)."""
    n, c = x_shape[:2]
    mult = w_shape[0] // c
    dtype = grad.dtype
    g_len, lead, wq = plan.grad_len, plan.lead, plan.wq
    dx = np.empty(x_shape, dtype=dtype) if need_input else None
    passes = []  # (target slices, first plane row, rows, first plane column, columns, chosen taps, weights)
    if need_input:
        wts = _weights(w, c, mult, dtype)
        for a, (r0, r1, first_r) in enumerate(plan.rows):
            for b, (c0, c1, first_c) in enumerate(plan.cols):
                if r1 <= r0 or c1 <= c0:
                    continue
                chosen = [t for t in range(plan.taps) if plan.tap_phase[t] == a * plan.sw + b]
                slices = (slice(first_r, first_r + (r1 - r0 - 1) * plan.sh + 1, plan.sh),
                          slice(first_c, first_c + (c1 - c0 - 1) * plan.sw + 1, plan.sw))
                weight = np.ascontiguousarray(wts[:, :, chosen]).reshape(c, 1, mult * len(chosen))
                passes.append((slices, r0, r1 - r0, c0, c1, chosen, weight))

    def work(part, chunks):
        grads = _Grad(grad, plan, nb, part)
        gbuf = grads.buf.reshape(c, mult, -1)
        source = _Input(x, plan, nb, part) if need_weight else None
        total = np.zeros((c, mult, plan.taps), dtype=dtype) if need_weight else None
        acc = workspaces.get(("dw.sdacc", part), (c, 1, nb * g_len), dtype) if need_input else None
        for n0, n1 in chunks:
            m = n1 - n0
            grads.load(n0, n1)
            if need_weight:  # dW_t = sum_q g[q] x_ph[q + off_t] over the chunk's outputs (g is 0 elsewhere)
                source.load(n0, n1)
                w_len = (m - 1) * g_len + plan.out_len
                g_rows = gbuf[..., lead:lead + w_len]
                for t, (ph, off) in enumerate(zip(plan.tap_phase, plan.tap_off)):
                    x_row = source.phase(ph)[:, lead + off:lead + off + w_len]
                    total[:, :, t] += np.einsum("ckq,cq->ck", g_rows, x_row)  # see the stride-1 weight gradient
            for (rs, cs), r0, rows, c0, c1, chosen, weight in passes:
                target = dx[n0:n1, :, rs, cs]
                if not chosen:  # no tap reads this phase
                    target[...] = 0
                    continue
                start = lead + r0 * wq
                d_len = (m - 1) * g_len + rows * wq
                cols = workspaces.get(("dw.sgcols", part, len(chosen)), (c, mult, len(chosen), nb * g_len), dtype)
                for u, t in enumerate(chosen):
                    off = plan.tap_off[t]
                    cols[:, :, u, :d_len] = gbuf[:, :, start - off:start - off + d_len]
                np.matmul(weight, cols.reshape(c, mult * len(chosen), -1)[..., :d_len], out=acc[..., :d_len])
                res = acc[:, 0, :m * g_len].reshape(c, m, g_len)[:, :, :rows * wq]
                target[...] = res.reshape(c, m, rows, wq)[..., c0:c1].transpose(1, 0, 2, 3)
        return total

    totals = run_parts(work, split_chunks(n, nb), 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    return dx, (sum_in_order(totals).reshape(w_shape) if need_weight else None)
