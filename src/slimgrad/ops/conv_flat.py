"""Stride-1 convolution kernels on a flat, padded-width layout (long contiguous rows, no col2im).

Each input plane is copied once into a zero-padded buffer of row length ``Wq`` and flattened. With stride 1,
output ``(y, x)`` reads padded position ``(y + i*dh) * Wq + x + j*dw``; computing the output on the same
row length (``Wq - Wo`` throw-away columns per row) turns every kernel tap into one *contiguous* slice of
the flat plane. im2col is then ``kh*kw`` long-row copies, not ``kh*kw*Ho`` short ones, and the input
gradient is itself such a correlation (flipped, transposed weight) over the zero-extended flat output
gradient, so no scatter-add (col2im) is needed:

    out_flat[q]  = sum_t W_t @ x_flat[q + off_t]                      off_t = i*dh*Wq + j*dw
    dx_flat[p]   = sum_t W_t^T @ g_flat[p - off_t]                    (g zero outside its valid region)
    dW_t         = sum_q g_flat[q] x_flat[q + off_t]^T

Buffers are channel-major, ``(rows, samples, positions)``, so a chunk of samples is one GEMM per group
(``(O/g, K) @ (K, nb*L)``): few large BLAS calls that thread well, also for depthwise convs (groups ==
channels), whose GEMMs become per-channel ``(m, kh*kw) @ (kh*kw, nb*L)`` products.
Work buffers come from ``window.workspaces``; regions of a buffer that must be zero are never written (the
cache key pins the geometry), so the padding is zeroed once per geometry, not per call.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .window import workspaces

CHUNK_BYTES = 4 << 20


class _Plan(NamedTuple):
    c: int
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
    wq: int     # padded row length
    hb: int     # padded rows (one spare row absorbs the throw-away columns' over-read)

    @property
    def taps(self) -> int:
        return self.kh * self.kw

    @property
    def out_len(self) -> int:
        return self.ho * self.wq

    @property
    def in_len(self) -> int:
        return self.h * self.wq

    @property
    def reach(self) -> int:
        """Flat offset of the last tap."""
        return (self.kh - 1) * self.dh * self.wq + (self.kw - 1) * self.dw

    @property
    def lead(self) -> int:
        """Zeros before the flat output gradient, so the input-gradient correlation never reads below 0."""
        return max(0, self.reach - self.pt * self.wq)

    @property
    def grad_len(self) -> int:
        """Per-sample length of the zero-extended flat output gradient."""
        return self.lead + max(self.out_len, (self.pt + self.h) * self.wq)


def _plan(x_shape, kernel_size, dilation, padding, out_hw) -> _Plan:
    _, c, h, w = x_shape
    (kh, kw), (dh, dw), (pt, pl), (ho, wo) = kernel_size, dilation, padding, out_hw
    wq = max(pl + w, wo + (kw - 1) * dw)
    hb = max(pt + h, ho + (kh - 1) * dh) + 1
    return _Plan(c, h, w, ho, wo, kh, kw, dh, dw, pt, pl, wq, hb)


def _chunk(n: int, per_sample_bytes: int) -> int:
    return max(1, min(n, CHUNK_BYTES // max(1, per_sample_bytes)))


def _copy_taps(cols, src, start: int, length: int, plan: _Plan) -> None:
    """im2col on the flat layout, one long-row copy per tap:
    ``cols[r, i, j, n, :length] = src[r, n, start + i*dh*Wq + j*dw :][:length]``."""
    for i in range(plan.kh):
        for j in range(plan.kw):
            off = start + i * plan.dh * plan.wq + j * plan.dw
            cols[:, i, j, :, :length] = src[:, :, off:off + length]


class _Input:
    """The padded flat input ``(C, nb, Hb*Wq)`` and its columns ``(C*kh*kw, nb, block)`` chunk by chunk.

    ``block`` is ``Ho*Wq`` for the forward; the weight gradient uses the gradient's block (``grad_len``,
    data at ``lead``) so that one GEMM spans the chunk, the zero gaps contributing nothing.
    """

    def __init__(self, x, plan: _Plan, nb: int, block: int, at: int):
        self.x, self.plan, self.nb, self.block, self.at = x, plan, nb, block, at
        self.pad = workspaces.get(("flat.x", plan), (plan.c, nb, plan.hb * plan.wq), x.dtype, zero=True)
        self.cols = workspaces.get(("flat.cols", plan, block, at), (plan.c * plan.taps, nb, block), x.dtype,
                                   zero=block > plan.out_len)

    def columns(self, n0: int, n1: int):
        """Columns of samples ``n0:n1`` as a ``(C*kh*kw, m*block)`` matrix (row stride ``nb*block``)."""
        p, m = self.plan, n1 - n0
        pad = self.pad[:, :m]
        pad.reshape(p.c, m, p.hb, p.wq)[:, :, p.pt:p.pt + p.h, p.pl:p.pl + p.w] = self.x[n0:n1].transpose(1, 0, 2, 3)
        cols = self.cols.reshape(p.c, p.kh, p.kw, self.nb, self.block)[:, :, :, :m, self.at:]
        _copy_taps(cols, pad, 0, p.out_len, p)
        return self.cols.reshape(p.c * p.taps, self.nb * self.block)[:, :m * self.block]


class _Grad:
    """The zero-extended flat output gradient ``(O, nb, grad_len)``, the gradient at ``[lead, lead + Ho*Wq)``."""

    def __init__(self, grad, plan: _Plan, nb: int):
        self.grad, self.plan, self.nb, self.o = grad, plan, nb, grad.shape[1]
        self.buf = workspaces.get(("flat.g", plan, self.o), (self.o, nb, plan.grad_len), grad.dtype, zero=True)

    def load(self, n0: int, n1: int):
        p, m = self.plan, n1 - n0
        part = self.buf[:, :m, p.lead:p.lead + p.out_len]
        part.reshape(self.o, m, p.ho, p.wq)[..., :p.wo] = self.grad[n0:n1].transpose(1, 0, 2, 3)
        return self.buf.reshape(self.o, self.nb * p.grad_len)[:, :m * p.grad_len]


def _grouped(matrix, groups: int):
    """``(rows, cols)`` -> ``(groups, rows/groups, cols)`` (a view)."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def forward(x, w, plan: _Plan, groups: int, bias=None, grad_weight_from=None):
    """``conv(x, w) (+ bias)``; with ``grad_weight_from`` (a gradient shaped like the output) also the weight
    gradient from the same columns: returns ``(out, dW)``."""
    n, o = x.shape[0], w.shape[0]
    weight = w.reshape(groups, o // groups, -1)
    nb = _chunk(n, plan.c * plan.taps * plan.grad_len * x.itemsize)
    if grad_weight_from is None:
        source, block, at = _Input(x, plan, nb, plan.out_len, 0), plan.out_len, 0
    else:
        source, block, at = _Input(x, plan, nb, plan.grad_len, plan.lead), plan.grad_len, plan.lead
        grads = _Grad(grad_weight_from, plan, nb)
        total = np.zeros(weight.shape, dtype=x.dtype)
    out = np.empty((n, o, plan.ho, plan.wo), dtype=x.dtype)
    full = workspaces.get("flat.out", (o, nb * block), x.dtype)
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        m = n1 - n0
        cols = source.columns(n0, n1)
        res = full[:, :m * block]
        np.matmul(weight, _grouped(cols, groups), out=_grouped(res, groups))
        valid = res.reshape(o, m, block)[:, :, at:at + plan.out_len]
        valid = valid.reshape(o, m, plan.ho, plan.wq)[..., :plan.wo].transpose(1, 0, 2, 3)
        if bias is None:
            out[n0:n1] = valid
        else:
            np.add(valid, bias.reshape(-1, 1, 1), out=out[n0:n1])
        if grad_weight_from is not None:
            total += np.matmul(_grouped(grads.load(n0, n1), groups), _grouped(cols, groups).transpose(0, 2, 1))
    return out if grad_weight_from is None else (out, total.reshape(w.shape))


def backward(x, grad, w, plan: _Plan, groups: int, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` of ``conv(x, w)`` in one pass over the batch (the flat gradient is loaded once).

    ``dx_c = sum_{o in group, t} w[o, c, flip(t)] * g_o[p + off_t - reach]`` (a correlation: no col2im).
    """
    n = x_shape[0]
    o, cg = w_shape[:2]
    og = o // groups
    nb = min(_chunk(n, plan.c * plan.taps * plan.grad_len * grad.itemsize),
             _chunk(n, o * plan.taps * plan.in_len * grad.itemsize))
    grads = _Grad(grad, plan, nb)
    dx = total = None
    if need_weight:
        source = _Input(x, plan, nb, plan.grad_len, plan.lead)
        total = np.zeros((groups, og, cg * plan.taps), dtype=grad.dtype)
    if need_input:
        weight = np.ascontiguousarray(
            w.reshape(groups, og, cg, plan.kh, plan.kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
        ).reshape(groups, cg, og * plan.taps)
        cols_g = workspaces.get("flat.gcols", (o * plan.taps, nb, plan.in_len), grad.dtype)
        full = workspaces.get("flat.dx", (plan.c, nb * plan.in_len), grad.dtype)
        dx = np.empty(x_shape, dtype=grad.dtype)
        start = plan.lead + plan.pt * plan.wq - plan.reach
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        m = n1 - n0
        g_flat = grads.load(n0, n1)
        if need_weight:
            cols = source.columns(n0, n1)
            total += np.matmul(_grouped(g_flat, groups), _grouped(cols, groups).transpose(0, 2, 1))
        if need_input:
            c = cols_g.reshape(o, plan.kh, plan.kw, nb, plan.in_len)[:, :, :, :m]
            _copy_taps(c, grads.buf[:, :m], start, plan.in_len, plan)
            res = full[:, :m * plan.in_len]
            lhs = cols_g.reshape(o * plan.taps, nb * plan.in_len)[:, :m * plan.in_len]
            np.matmul(weight, _grouped(lhs, groups), out=_grouped(res, groups))
            dx[n0:n1] = res.reshape(plan.c, m, plan.h, plan.wq)[..., plan.pl:plan.pl + plan.w].transpose(1, 0, 2, 3)
    return dx, (total.reshape(w_shape) if need_weight else None)
