"""Array kernels behind ``conv2d`` and ``conv_transpose2d``: chunked im2col, batched GEMM, col2im per tap.

Notation (the convolution side): input ``x (N, C, H, W)``, weight ``(O, C/g, kh, kw)``, output
``(N, O, Ho, Wo)``, ``g`` groups, ``K = C/g*kh*kw``, ``P = Ho*Wo``. For a chunk of ``m`` samples the columns
are channel-major, ``cols[c, i, j, n, y, x] = x_pad[n, c, y*sh + i*dh, x*sw + j*dw]`` viewed as
``(g, K, m*P)``, so each chunk is one GEMM per group (few, large BLAS calls), and

    forward       out   = W (g, O/g, K) @ cols
    weight grad   dW    = grad (g, O/g, m*P) @ cols^T                       (summed over chunks)
    input grad    dcols = W^T @ grad;  dx[.., tap window] += dcols[tap]     (col2im, one add per tap)

``conv_forward`` is conv2d's forward and conv_transpose2d's input gradient; ``conv_grad_input`` is conv2d's
input gradient and conv_transpose2d's forward; ``conv_grad_weight`` serves both (roles of x and grad swap).

Which kernel runs: stride-1 depthwise convs go to :mod:`conv_depthwise`, dense 3x3 stride-1 convs on large
enough images to :mod:`conv_winograd`, convs whose taps never overlap (kernel <= stride) to
:mod:`conv_disjoint` (see ``_special_kernel``); other convs whose taps overlap (stride 1, and strided ones
through phase planes) to :mod:`conv_flat` (long rows, no col2im). A 1x1, stride-1, unpadded conv uses the
input itself as ``cols``: a pure GEMM per sample, no copy. The im2col path below serves the rest. Padding is
never materialised: each tap copies only its in-range part, and the rest of the reused cols buffer stays
zero. Samples are processed in chunks so the column buffer (~``CHUNK_BYTES``) stays in cache; buffers are
reused across calls (``window.workspaces``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import conv_depthwise, conv_disjoint, conv_flat, conv_winograd
from .window import (part_chunk, run_halves, run_parts, split_chunks, sum_in_order, tap_coverage, tap_slices,
                     workspaces)

CHUNK_BYTES = 4 << 20
"""Target size of the per-chunk column buffer (fits the 32 MB L3 with room for the GEMM operands)."""


class ConvGeometry(NamedTuple):
    """Convolution hyper-parameters (pairs), ``padding`` = ``(top, left)``; the far-side padding is implied
    by the output size."""
    kernel_size: tuple
    stride: tuple
    dilation: tuple
    padding: tuple
    groups: int


def _taps(in_hw, out_hw, geo: ConvGeometry) -> list:
    """``(i, j, out_rows, out_cols, in_rows, in_cols)`` for every tap that touches the input."""
    (kh, kw), (sh, sw), (dh, dw), (pt, pl) = geo.kernel_size, geo.stride, geo.dilation, geo.padding
    taps = []
    for i in range(kh):
        rows = tap_slices(in_hw[0], out_hw[0], i * dh - pt, sh)
        if rows is None:
            continue
        for j in range(kw):
            cols = tap_slices(in_hw[1], out_hw[1], j * dw - pl, sw)
            if cols is not None:
                taps.append((i, j, rows[0], cols[0], rows[1], cols[1]))
    return taps


def _is_identity(x_shape, w_shape, geo: ConvGeometry, out_hw) -> bool:
    return (w_shape[2:] == (1, 1) and geo.stride == (1, 1) and geo.padding == (0, 0)
            and tuple(out_hw) == tuple(x_shape[2:]))


def _special_kernel(x_shape, w_shape, geo: ConvGeometry, out_hw):
    """The kernel module made for this conv: depthwise stride 1 (:mod:`conv_depthwise`), dense 3x3 stride 1 on
    large enough images (:mod:`conv_winograd`), taps that never overlap (:mod:`conv_disjoint`); ``None`` for the
    general paths below. Each has ``usable(x_shape, w_shape, geo, out_hw)``, ``forward(x, w, geo, out_hw,
    bias)`` and ``backward(x, grad, w, geo, x_shape, w_shape, need_input, need_weight)``; conv_disjoint's also
    take the weight gradient's operand (``grad_weight_from``) and a bias for the input-gradient direction."""
    for kernel in (conv_depthwise, conv_winograd, conv_disjoint):
        if kernel.usable(x_shape, w_shape, geo, out_hw):
            return kernel
    return None


def _flat_plan(x_shape, w_shape, geo: ConvGeometry, out_hw):
    """The long-row plan (:mod:`conv_flat`; strided convs through phase planes), or None where the
    im2col/col2im path below is used (pointwise convs, and strides whose phase planes some tap never reads)."""
    if _is_identity(x_shape, w_shape, geo, out_hw):
        return None
    plan = conv_flat._plan(tuple(x_shape), geo.kernel_size, geo.stride, geo.dilation, geo.padding, tuple(out_hw))
    return plan if conv_flat.usable(plan) else None


def _chunk(n: int, per_sample_bytes: int) -> int:
    return part_chunk(n, CHUNK_BYTES // max(1, per_sample_bytes))


class _Columns:
    """Channel-major im2col for one geometry: ``columns(n0, n1)`` gives ``(C*kh*kw, m*P)`` (row stride ``nb*P``)."""

    def __init__(self, x, w_shape, geo: ConvGeometry, out_hw, part: int = 0):
        n, c, h, w = x.shape
        o, cg, kh, kw = w_shape
        self.x, self.geo, self.out_hw = x, geo, tuple(out_hw)
        self.c, self.kh, self.kw = c, kh, kw
        self.g, self.k, self.p = geo.groups, cg * kh * kw, out_hw[0] * out_hw[1]
        self.nb = _chunk(n, max(c * kh * kw, o) * self.p * x.itemsize)  # as conv_forward / conv_backward
        self.taps = _taps((h, w), out_hw, geo)
        key = ("conv.cols", x.shape[1:], geo, self.out_hw, part)  # pins which regions get written (the rest stays 0)
        self.buf = workspaces.get(key, (c, kh, kw, self.nb) + self.out_hw, x.dtype, zero=True)

    def columns(self, n0: int, n1: int):
        m = n1 - n0
        view = self.buf[:, :, :, :m]
        for i, j, out_r, out_c, in_r, in_c in self.taps:
            view[:, i, j, :, out_r, out_c] = self.x[n0:n1, :, in_r, in_c].transpose(1, 0, 2, 3)
        return self.buf.reshape(self.c * self.kh * self.kw, self.nb * self.p)[:, :m * self.p]


def _channel_major(grad, n0: int, n1: int, nb: int, key: str):
    """``grad[n0:n1] (m, O, Ho, Wo)`` copied to a ``(O, m*P)`` work matrix."""
    m, o = n1 - n0, grad.shape[1]
    p = grad.shape[2] * grad.shape[3]
    buf = workspaces.get(key, (o, nb * p), grad.dtype)
    buf[:, :m * p].reshape(o, m, p)[...] = grad[n0:n1].reshape(m, o, p).transpose(1, 0, 2)
    return buf[:, :m * p]


def _grouped(matrix, groups: int):
    """``(rows, cols)`` -> ``(groups, rows/groups, cols)`` (a view)."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def conv_forward(x, w, geo: ConvGeometry, out_hw, bias=None, grad_weight_from=None):
    """``out (N, O, Ho, Wo) = conv(x, w) (+ bias)``; ``out_hw`` may crop the natural output size.

    With ``grad_weight_from`` (shaped like the output) the weight gradient ``sum grad @ cols(x)^T`` is
    computed from the same columns and ``(out, dW)`` returned (conv_transpose2d's backward needs both).
    """
    kernel = _special_kernel(x.shape, w.shape, geo, out_hw)
    if kernel is conv_disjoint:  # also gives the weight gradient from the same columns
        return kernel.forward(x, w, geo, out_hw, bias, grad_weight_from)
    if kernel is not None and grad_weight_from is None:
        return kernel.forward(x, w, geo, out_hw, bias)
    plan = _flat_plan(x.shape, w.shape, geo, out_hw)
    if plan is not None:
        g_w = None if grad_weight_from is None else np.ascontiguousarray(grad_weight_from)
        return conv_flat.forward(x, w, plan, geo.groups, bias, g_w)
    if _is_identity(x.shape, w.shape, geo, out_hw):
        out = _pointwise_forward(x, w, geo.groups, bias)
        if grad_weight_from is None:
            return out
        return out, _pointwise_grad_weight(x, grad_weight_from, geo.groups, w.shape)
    n, o = x.shape[0], w.shape[0]
    g = geo.groups
    out = np.empty((n, o) + tuple(out_hw), dtype=x.dtype)
    nb = _chunk(n, max(x.shape[1] * w.shape[2] * w.shape[3], o) * out_hw[0] * out_hw[1] * x.itemsize)
    weight = w.reshape(g, o // g, w.shape[1] * w.shape[2] * w.shape[3])

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        columns = _Columns(x, w.shape, geo, out_hw, part)
        full = workspaces.get(("conv.out", part), (o, nb * columns.p), x.dtype)
        total = None if grad_weight_from is None else np.zeros(weight.shape, dtype=x.dtype)
        for n0, n1 in chunks:
            cols = columns.columns(n0, n1)
            res = full[:, :(n1 - n0) * columns.p]
            np.matmul(weight, _grouped(cols, g), out=_grouped(res, g))
            valid = res.reshape(o, n1 - n0, *out_hw).transpose(1, 0, 2, 3)
            if bias is None:
                out[n0:n1] = valid
            else:
                np.add(valid, bias.reshape(-1, 1, 1), out=out[n0:n1])
            if total is not None:
                g_cm = _channel_major(grad_weight_from, n0, n1, nb, ("conv.gcm", part))
                total += np.matmul(_grouped(g_cm, g), _grouped(cols, g).transpose(0, 2, 1))
        return total

    totals = run_parts(work, split_chunks(n, nb), x.nbytes + out.nbytes)
    return out if grad_weight_from is None else (out, sum_in_order(totals).reshape(w.shape))


def _pointwise_forward(x, w, groups, bias):
    """1x1, stride 1, no padding: ``out[n] = W @ x[n]`` straight from the input (no copy)."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    x = np.ascontiguousarray(x)
    out = np.empty((n, o, h, wd), dtype=x.dtype)
    weight = w.reshape(groups, o // groups, c // groups)

    def work(part, chunks):  # the bias is added while a chunk's output is still in cache
        for n0, n1 in chunks:
            np.matmul(weight, x[n0:n1].reshape(n1 - n0, groups, c // groups, h * wd),
                      out=out[n0:n1].reshape(n1 - n0, groups, o // groups, h * wd))
            if bias is not None:
                out[n0:n1] += bias.reshape(-1, 1, 1)

    run_parts(work, split_chunks(n, _chunk(n, max(c, o) * h * wd * x.itemsize)), x.nbytes + out.nbytes)
    return out


def _pointwise_grad_input(grad, w, groups, x_shape):
    """``dx[n] = W^T @ grad[n]`` (1x1, stride 1, no padding)."""
    n, c, h, wd = x_shape
    o = w.shape[0]
    dx = np.empty(x_shape, dtype=grad.dtype)
    weight_t = w.reshape(groups, o // groups, c // groups).transpose(0, 2, 1)

    def work(part, chunks):
        for n0, n1 in chunks:
            np.matmul(weight_t, grad[n0:n1].reshape(n1 - n0, groups, o // groups, h * wd),
                      out=dx[n0:n1].reshape(n1 - n0, groups, c // groups, h * wd))

    run_parts(work, split_chunks(n, _chunk(n, max(c, o) * h * wd * grad.itemsize)), grad.nbytes + dx.nbytes)
    return dx


def _pointwise_grad_weight(x, grad, groups, w_shape):
    n, c, h, wd = x.shape
    o = w_shape[0]
    x, grad = np.ascontiguousarray(x), np.ascontiguousarray(grad)
    nb = _chunk(n, max(c, o) * o * x.itemsize)  # bounds the (nb, g, O/g, C/g) partial products

    def work(part, chunks):
        total = np.zeros((groups, o // groups, c // groups), dtype=x.dtype)
        for n0, n1 in chunks:
            prod = np.matmul(grad[n0:n1].reshape(n1 - n0, groups, o // groups, h * wd),
                             x[n0:n1].reshape(n1 - n0, groups, c // groups, h * wd).transpose(0, 1, 3, 2))
            total += prod.sum(axis=0)
        return total

    return sum_in_order(run_parts(work, split_chunks(n, nb), x.nbytes + grad.nbytes)).reshape(w_shape)


def conv_grad_weight(x, grad, geo: ConvGeometry, w_shape):
    """``dW = sum grad @ cols(x)^T``, shape ``w_shape``."""
    return conv_backward(x, grad, None, geo, x.shape, w_shape, need_input=False)[1]


def conv_grad_input(grad, w, geo: ConvGeometry, x_shape, bias=None):
    """``dx (x_shape)`` from ``grad (N, O, Ho, Wo)`` (conv_transpose2d's forward; ``+ bias[c]`` when given)."""
    if conv_disjoint.usable(x_shape, w.shape, geo, grad.shape[2:]):  # the bias rides in the GEMM
        return conv_disjoint.backward(None, grad, w, geo, x_shape, w.shape, need_weight=False, bias=bias)[0]
    dx = conv_backward(None, grad, w, geo, x_shape, w.shape, need_weight=False)[0]
    if bias is not None:
        dx += bias.reshape(-1, 1, 1)
    return dx


def conv_backward(x, grad, w, geo: ConvGeometry, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` of ``conv(x, w)`` given the output gradient (``None`` for a gradient not needed);
    ``x`` is needed only for ``dW``, ``w`` only for ``dx``. One pass over the batch serves both."""
    grad = np.ascontiguousarray(grad)
    out_hw = grad.shape[2:]
    kernel = _special_kernel(x_shape, w_shape, geo, out_hw)
    if kernel is not None:
        return kernel.backward(x, grad, w, geo, x_shape, w_shape, need_input, need_weight)
    plan = _flat_plan(x_shape, w_shape, geo, out_hw)
    if plan is not None:
        return conv_flat.backward(x, grad, w, plan, geo.groups, x_shape, w_shape, need_input, need_weight)
    n, c, h, wd = x_shape
    o, cg, kh, kw = w_shape
    g = geo.groups
    og, k, p = o // g, cg * kh * kw, out_hw[0] * out_hw[1]
    if _is_identity(x_shape, w_shape, geo, out_hw):
        dx = _pointwise_grad_input(grad, w, g, x_shape) if need_input else None
        return dx, (_pointwise_grad_weight(x, grad, g, w_shape) if need_weight else None)
    taps = _taps((h, wd), out_hw, geo)
    nb = _chunk(n, max(c * kh * kw, o) * p * grad.itemsize)
    dx = None
    if need_input:
        weight_t = w.reshape(g, og, k).transpose(0, 2, 1)
        dx = np.empty(x_shape, dtype=grad.dtype)
        (sh, sw), (dh, dw), (pt, pl) = geo.stride, geo.dilation, geo.padding
        rows, cols_ = tap_coverage(h, out_hw[0], kh, sh, dh, pt), tap_coverage(wd, out_hw[1], kw, sw, dw, pl)
        # taps that never overlap (kernel <= stride) are assigned, not accumulated; zero-fill only if needed
        disjoint = rows.max() <= 1 and cols_.max() <= 1
        covered = rows.min() >= 1 and cols_.min() >= 1

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        total = columns = None
        if need_weight:
            columns = _Columns(x, w_shape, geo, out_hw, part)
            total = np.zeros((g, og, k), dtype=grad.dtype)
        if need_input:
            dcols = workspaces.get(("conv.dcols", part), (c * kh * kw, nb * p), grad.dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            g_cm = _channel_major(grad, n0, n1, nb, ("conv.gcm", part))
            if need_weight:
                total += np.matmul(_grouped(g_cm, g), _grouped(columns.columns(n0, n1), g).transpose(0, 2, 1))
            if not need_input:
                continue
            d = dcols[:, :m * p]
            if og == 1:  # depthwise: an outer product, cheaper as a broadcast multiply than tiny GEMMs
                np.multiply(weight_t, _grouped(g_cm, g), out=_grouped(d, g))
            else:
                np.matmul(weight_t, _grouped(g_cm, g), out=_grouped(d, g))
            d6 = dcols.reshape(c, kh, kw, nb, *out_hw)[:, :, :, :m]
            target = dx[n0:n1]
            if not (disjoint and covered):
                target.fill(0)
            for i, j, out_r, out_c, in_r, in_c in taps:
                src = d6[:, i, j, :, out_r, out_c].transpose(1, 0, 2, 3)
                if disjoint:
                    target[:, :, in_r, in_c] = src
                else:
                    target[:, :, in_r, in_c] += src
        return total

    totals = run_parts(work, split_chunks(n, nb), 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    return dx, (sum_in_order(totals).reshape(w_shape) if need_weight else None)


def bias_grad(grad):
    """``db[o] = sum_{n, y, x} grad[n, o, y, x]`` (contiguous reductions, innermost axis first; the two
    batch halves reduce concurrently and their sums are added in batch order)."""
    n, o = grad.shape[:2]
    grad = np.ascontiguousarray(grad).reshape(n, o, grad.shape[2] * grad.shape[3])
    sums = run_halves(lambda n0, n1: np.add.reduce(grad[n0:n1], axis=2).sum(axis=0), n, grad.nbytes)
    return sum_in_order(sums, empty=np.zeros(o, dtype=grad.dtype))
