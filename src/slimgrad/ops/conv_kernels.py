"""Array kernels behind ``conv2d`` and ``conv_transpose2d``: chunked im2col, batched GEMM, col2im per tap.

Notation (the convolution side): input ``x (N, C, H, W)``, weight ``(O, C/g, kh, kw)``, output
``(N, O, Ho, Wo)``, ``g`` groups, ``K = C/g*kh*kw``, ``P = Ho*Wo``. For a chunk of samples,
``cols[n, c, i, j, y, x] = x_pad[n, c, y*sh + i*dh - 0, x*sw + j*dw]`` viewed as ``(n, g, K, P)``, and

    forward       out[n]   = W (g, O/g, K) @ cols[n]          (lands in NCHW directly)
    weight grad   dW       = sum_n grad[n] @ cols[n]^T
    input grad    dcols[n] = W^T @ grad[n];  dx[.., tap window] += dcols[.., tap]   (col2im, one add per tap)

``conv_forward`` is conv2d's forward and conv_transpose2d's input gradient; ``conv_grad_input`` is conv2d's
input gradient and conv_transpose2d's forward; ``conv_grad_weight`` serves both (roles of x and grad swap).

Padding is never materialised: each tap copies only its in-range part, and the rest of the reused cols
buffer stays zero. Depthwise convs (one input channel per group) take the same path, where the GEMMs
become per-channel ``(m, kh*kw) @ (kh*kw, P)`` products (no C-fold blow-up). A 1x1, stride-1, unpadded conv
uses the input itself as ``cols``: a pure GEMM, no copy. Samples are processed in chunks so the column
buffer (~``CHUNK_BYTES``) stays in cache; buffers are reused across calls (``window.workspaces``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import conv_flat
from .window import tap_slices, workspaces

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


def _flat_plan(x_shape, w_shape, geo: ConvGeometry, out_hw):
    """The stride-1 long-row plan (:mod:`conv_flat`), or None where the im2col/col2im path is used."""
    if geo.stride != (1, 1) or _is_identity(x_shape, w_shape, geo, out_hw):
        return None
    return conv_flat._plan(x_shape, geo.kernel_size, geo.dilation, geo.padding, out_hw)


def _chunk(n: int, per_sample_bytes: int) -> int:
    return max(1, min(n, CHUNK_BYTES // max(1, per_sample_bytes)))


class _Columns:
    """im2col for one geometry: yields ``(n0, n1, cols (nb, g, K, P))`` chunk by chunk over the batch."""

    def __init__(self, x, w_shape, geo: ConvGeometry, out_hw):
        n, c, h, w = x.shape
        o, cg, kh, kw = w_shape
        self.x, self.geo, self.out_hw = x, geo, tuple(out_hw)
        self.g, self.k, self.p = geo.groups, cg * kh * kw, out_hw[0] * out_hw[1]
        self.identity = _is_identity(x.shape, w_shape, geo, out_hw)
        if self.identity:
            self.x = np.ascontiguousarray(x)
        self.nb = _chunk(n, c * kh * kw * self.p * x.itemsize)
        self.taps = None if self.identity else _taps((h, w), out_hw, geo)
        self.buf = None
        if not self.identity:
            key = ("conv.cols", x.shape[1:], geo, self.out_hw)  # pins which regions get written
            self.buf = workspaces.get(key, (self.nb, c, kh, kw) + self.out_hw, x.dtype, zero=True)

    def __iter__(self):
        x, n = self.x, self.x.shape[0]
        for n0 in range(0, n, self.nb):
            n1 = min(n, n0 + self.nb)
            if self.identity:
                yield n0, n1, x[n0:n1].reshape(n1 - n0, self.g, self.k, self.p)
                continue
            cols = self.buf[:n1 - n0]
            for i, j, out_r, out_c, in_r, in_c in self.taps:
                cols[:, :, i, j, out_r, out_c] = x[n0:n1, :, in_r, in_c]
            yield n0, n1, cols.reshape(n1 - n0, self.g, self.k, self.p)


def conv_forward(x, w, geo: ConvGeometry, out_hw, bias=None, grad_weight_from=None):
    """``out (N, O, Ho, Wo) = conv(x, w) (+ bias)``; ``out_hw`` may crop the natural output size.

    With ``grad_weight_from`` (shaped like the output) the weight gradient ``sum_n grad[n] @ cols(x)[n]^T`` is
    computed from the same columns and ``(out, dW)`` returned (conv_transpose2d's backward needs both).
    """
    plan = _flat_plan(x.shape, w.shape, geo, out_hw)
    if plan is not None:
        g_w = None if grad_weight_from is None else np.ascontiguousarray(grad_weight_from)
        return conv_flat.forward(x, w, plan, geo.groups, bias, g_w)
    n, o = x.shape[0], w.shape[0]
    g = geo.groups
    out = np.empty((n, o) + tuple(out_hw), dtype=x.dtype)
    columns = _Columns(x, w.shape, geo, out_hw)
    weight = w.reshape(g, o // g, columns.k)
    acc = None if grad_weight_from is None else _WeightGrad(columns, w.shape, grad_weight_from)
    for n0, n1, cols in columns:
        chunk = out[n0:n1]
        np.matmul(weight, cols, out=chunk.reshape(n1 - n0, g, o // g, columns.p))
        if bias is not None:
            chunk += bias.reshape(-1, 1, 1)
        if acc is not None:
            acc.add(n0, n1, cols)
    return out if acc is None else (out, acc.result())


class _WeightGrad:
    """``dW (g, O/g, K) = sum_n grad[n] @ cols[n]^T``, accumulated chunk by chunk."""

    def __init__(self, columns: _Columns, w_shape, grad):
        o, g = w_shape[0], columns.g
        self.w_shape, self.columns, self.grad = w_shape, columns, np.ascontiguousarray(grad)
        self.total = np.zeros((g, o // g, columns.k), dtype=grad.dtype)
        self.tmp = workspaces.get("conv.dw", (columns.nb, g, o // g, columns.k), grad.dtype)

    def add(self, n0, n1, cols):
        part, (g, og, _) = self.tmp[:n1 - n0], self.total.shape
        np.matmul(self.grad[n0:n1].reshape(n1 - n0, g, og, self.columns.p), cols.transpose(0, 1, 3, 2), out=part)
        self.total += part[0] if n1 - n0 == 1 else part.sum(axis=0)

    def result(self):
        return self.total.reshape(self.w_shape)


def conv_grad_weight(x, grad, geo: ConvGeometry, w_shape):
    """``dW = sum_n grad[n] @ cols(x)[n]^T``, shape ``w_shape``."""
    return conv_backward(x, grad, None, geo, x.shape, w_shape, need_input=False)[1]


def conv_backward(x, grad, w, geo: ConvGeometry, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` of ``conv(x, w)`` given the output gradient (``None`` for a gradient not needed);
    ``x`` is needed only for ``dW``, ``w`` only for ``dx``."""
    grad = np.ascontiguousarray(grad)
    plan = _flat_plan(x_shape, w_shape, geo, grad.shape[2:])
    if plan is not None:
        return conv_flat.backward(x, grad, w, plan, geo.groups, x_shape, w_shape, need_input, need_weight)
    dx = conv_grad_input(grad, w, geo, x_shape) if need_input else None
    dw = None
    if need_weight:
        columns = _Columns(x, w_shape, geo, grad.shape[2:])
        acc = _WeightGrad(columns, w_shape, grad)
        for n0, n1, cols in columns:
            acc.add(n0, n1, cols)
        dw = acc.result()
    return dx, dw


def _coverage(size_in, size_out, k, s, d, p):
    """How many taps reach each input index along one axis."""
    count = np.zeros(size_in, dtype=np.int64)
    for i in range(k):
        sl = tap_slices(size_in, size_out, i * d - p, s)
        if sl is not None:
            count[sl[1]] += 1
    return count


def conv_grad_input(grad, w, geo: ConvGeometry, x_shape):
    """``dx (x_shape)`` from ``grad (N, O, Ho, Wo)``: ``dcols = W^T @ grad``, then col2im (one add per tap)."""
    n, c, h, wd = x_shape
    o, cg, kh, kw = w.shape
    g, out_hw = geo.groups, grad.shape[2:]
    plan = _flat_plan(x_shape, w.shape, geo, out_hw)
    if plan is not None:
        return conv_flat.backward(None, np.ascontiguousarray(grad), w, plan, g, x_shape, w.shape,
                                  need_weight=False)[0]
    og, k, p = o // g, cg * kh * kw, out_hw[0] * out_hw[1]
    grad = np.ascontiguousarray(grad)
    dx = np.empty(x_shape, dtype=grad.dtype)
    weight_t = w.reshape(g, og, k).transpose(0, 2, 1)
    if _is_identity(x_shape, w.shape, geo, out_hw):
        nb = _chunk(n, c * p * grad.itemsize)
        for n0 in range(0, n, nb):
            n1 = min(n, n0 + nb)
            np.matmul(weight_t, grad[n0:n1].reshape(n1 - n0, g, og, p), out=dx[n0:n1].reshape(n1 - n0, g, k, p))
        return dx
    taps = _taps((h, wd), out_hw, geo)
    nb = _chunk(n, c * kh * kw * p * grad.itemsize)
    dcols = workspaces.get("conv.dcols", (nb, g, k, p), grad.dtype)
    (sh, sw), (dh, dw), (pt, pl) = geo.stride, geo.dilation, geo.padding
    rows, cols_ = _coverage(h, out_hw[0], kh, sh, dh, pt), _coverage(wd, out_hw[1], kw, sw, dw, pl)
    # taps that never overlap (kernel <= stride) are assigned, not accumulated; zero-fill only uncovered pixels
    disjoint = rows.max() <= 1 and cols_.max() <= 1
    covered = rows.min() >= 1 and cols_.min() >= 1
    per_channel = og == 1  # depthwise: an outer product, cheaper as a broadcast multiply than tiny GEMMs
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        d = dcols[:n1 - n0]
        gv = grad[n0:n1].reshape(n1 - n0, g, og, p)
        if per_channel:
            np.multiply(weight_t, gv, out=d)
        else:
            np.matmul(weight_t, gv, out=d)
        d6 = d.reshape(n1 - n0, c, kh, kw, out_hw[0], out_hw[1])
        target = dx[n0:n1]
        if not (disjoint and covered):
            target.fill(0)
        for i, j, out_r, out_c, in_r, in_c in taps:
            if disjoint:
                target[:, :, in_r, in_c] = d6[:, :, i, j, out_r, out_c]
            else:
                target[:, :, in_r, in_c] += d6[:, :, i, j, out_r, out_c]
    return dx


def bias_grad(grad):
    """``db[o] = sum_{n, y, x} grad[n, o, y, x]`` (contiguous reductions, innermost axis first)."""
    n, o = grad.shape[:2]
    return np.add.reduce(np.ascontiguousarray(grad).reshape(n, o, -1), axis=2).sum(axis=0)
