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

Depthwise convs (groups == channels) use the same code: the GEMMs become per-channel products.
Work buffers come from ``window.workspaces``; zero regions of a buffer are never written (the cache key pins
the geometry), so the padding is zeroed once per geometry, not per call.
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


def _plan(x_shape, kernel_size, dilation, padding, out_hw) -> _Plan:
    _, c, h, w = x_shape
    (kh, kw), (dh, dw), (pt, pl), (ho, wo) = kernel_size, dilation, padding, out_hw
    wq = max(pl + w, wo + (kw - 1) * dw)
    hb = max(pt + h, ho + (kh - 1) * dh) + 1
    return _Plan(c, h, w, ho, wo, kh, kw, dh, dw, pt, pl, wq, hb)


def _chunk(n: int, per_sample_bytes: int) -> int:
    return max(1, min(n, CHUNK_BYTES // max(1, per_sample_bytes)))


def _copy_taps(cols, buf, n: int, start: int, length: int, plan: _Plan) -> None:
    """im2col on the flat layout: ``cols[:, r, i, j] = buf[:n, r, start + i*dh*Wq + j*dw :][:length]``,
    one long-row copy per tap."""
    for i in range(plan.kh):
        for j in range(plan.kw):
            off = start + i * plan.dh * plan.wq + j * plan.dw
            cols[:, :, i, j] = buf[:n, :, off:off + length]


def _padded_input(x, n0: int, n1: int, plan: _Plan):
    buf = workspaces.get(("flat.x", plan), (_chunk_of(x, plan), plan.c, plan.hb * plan.wq), x.dtype, zero=True)
    flat = buf[:n1 - n0]
    flat.reshape(n1 - n0, plan.c, plan.hb, plan.wq)[:, :, plan.pt:plan.pt + plan.h, plan.pl:plan.pl + plan.w] = x[n0:n1]
    return buf


def _chunk_of(x, plan: _Plan) -> int:
    return _chunk(x.shape[0], plan.c * plan.taps * plan.out_len * x.itemsize)


def _input_columns(x, n0, n1, plan: _Plan, groups: int):
    """im2col of the padded input for samples ``n0:n1``: ``(n, g, C/g*kh*kw, Ho*Wq)``."""
    buf = _padded_input(x, n0, n1, plan)
    cols = workspaces.get("flat.cols", (_chunk_of(x, plan), plan.c * plan.taps, plan.out_len), x.dtype)[:n1 - n0]
    _copy_taps(cols.reshape(n1 - n0, plan.c, plan.kh, plan.kw, plan.out_len), buf, n1 - n0, 0, plan.out_len, plan)
    return cols.reshape(n1 - n0, groups, -1, plan.out_len)


def forward(x, w, plan: _Plan, groups: int, bias=None, grad_weight_from=None):
    """``conv(x, w) (+ bias)``; with ``grad_weight_from`` (a gradient shaped like the output) also the weight
    gradient ``sum_q grad[q] cols(x)[q]^T`` from the same columns: returns ``(out, dW)``."""
    n, o = x.shape[0], w.shape[0]
    og = o // groups
    out = np.empty((n, o, plan.ho, plan.wo), dtype=x.dtype)
    weight = w.reshape(groups, og, -1)
    nb = _chunk_of(x, plan)
    full = workspaces.get("flat.out", (nb, o, plan.out_len), x.dtype)
    acc = None
    if grad_weight_from is not None:
        buf, z = _grad_buffer(grad_weight_from, plan, nb)
        acc = _WeightGrad(groups, og, weight.shape[2], nb, x.dtype)
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        cols = _input_columns(x, n0, n1, plan, groups)
        res = full[:n1 - n0]
        np.matmul(weight, cols, out=res.reshape(n1 - n0, groups, og, plan.out_len))
        valid = res.reshape(n1 - n0, o, plan.ho, plan.wq)[..., :plan.wo]
        if bias is None:
            out[n0:n1] = valid
        else:
            np.add(valid, bias.reshape(-1, 1, 1), out=out[n0:n1])
        if acc is not None:
            _, g_flat = _load_grad(buf, z, grad_weight_from, n0, n1, plan)
            acc.add(g_flat, cols, plan)
    return out if acc is None else (out, acc.total.reshape(w.shape))


class _WeightGrad:
    """Accumulates ``dW (g, O/g, K) += sum_n grad_flat[n] @ cols[n]^T`` chunk by chunk."""

    def __init__(self, groups, og, k, nb, dtype):
        self.groups, self.og = groups, og
        self.total = np.zeros((groups, og, k), dtype=dtype)
        self.tmp = workspaces.get("flat.dw", (nb, groups, og, k), dtype)

    def add(self, g_flat, cols, plan: _Plan):
        m = g_flat.shape[0]
        part = self.tmp[:m]
        np.matmul(g_flat.reshape(m, self.groups, self.og, plan.out_len), cols.transpose(0, 1, 3, 2), out=part)
        self.total += part[0] if m == 1 else part.sum(axis=0)


def _grad_buffer(grad, plan: _Plan, nb: int):
    """Zero-extended flat output gradient: ``(nb, O, Z + max(L, (pt+H)*Wq))``, the gradient at ``[Z, Z+L)``."""
    o = grad.shape[1]
    z = max(0, plan.reach - plan.pt * plan.wq)
    length = z + max(plan.out_len, (plan.pt + plan.h) * plan.wq)
    return workspaces.get(("flat.g", plan, o), (nb, o, length), grad.dtype, zero=True), z


def _load_grad(buf, z: int, grad, n0: int, n1: int, plan: _Plan):
    chunk = buf[:n1 - n0]
    g_flat = chunk[:, :, z:z + plan.out_len]
    g_flat.reshape(n1 - n0, grad.shape[1], plan.ho, plan.wq)[..., :plan.wo] = grad[n0:n1]
    return chunk, g_flat


def _grad_chunk(n: int, o: int, plan: _Plan, itemsize: int) -> int:
    """One chunk size for both gradients, so they share the flat gradient buffer."""
    return min(_chunk(n, plan.c * plan.taps * plan.out_len * itemsize),
               _chunk(n, o * plan.taps * plan.in_len * itemsize))


def backward(x, grad, w, plan: _Plan, groups: int, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` of ``conv(x, w)`` in one pass over the batch (the flat gradient is loaded once).

    ``dx_c = sum_{o in group, t} w[o, c, flip(t)] * g_o[p + off_t - reach]`` (a correlation: no col2im).
    """
    n = x_shape[0]
    o, cg = w_shape[:2]
    og = o // groups
    nb = _grad_chunk(n, o, plan, grad.itemsize)
    buf, z = _grad_buffer(grad, plan, nb)
    dx = acc = None
    if need_weight:
        acc = _WeightGrad(groups, og, cg * plan.taps, nb, grad.dtype)
    if need_input:
        weight = np.ascontiguousarray(
            w.reshape(groups, og, cg, plan.kh, plan.kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
        ).reshape(groups, cg, og * plan.taps)
        cols_g = workspaces.get("flat.gcols", (nb, o * plan.taps, plan.in_len), grad.dtype)
        full = workspaces.get("flat.dx", (nb, plan.c, plan.in_len), grad.dtype)
        dx = np.empty(x_shape, dtype=grad.dtype)
        start = z + plan.pt * plan.wq - plan.reach
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        m = n1 - n0
        _, g_flat = _load_grad(buf, z, grad, n0, n1, plan)
        if need_weight:
            acc.add(g_flat, _input_columns(x, n0, n1, plan, groups), plan)
        if need_input:
            c = cols_g[:m]
            _copy_taps(c.reshape(m, o, plan.kh, plan.kw, plan.in_len), buf, m, start, plan.in_len, plan)
            res = full[:m]
            np.matmul(weight, c.reshape(m, groups, og * plan.taps, plan.in_len),
                      out=res.reshape(m, groups, cg, plan.in_len))
            dx[n0:n1] = res.reshape(m, plan.c, plan.h, plan.wq)[..., plan.pl:plan.pl + plan.w]
    return dx, (acc.total.reshape(w_shape) if need_weight else None)
