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


def forward(x, w, plan: _Plan, groups: int, bias=None):
    n, o = x.shape[0], w.shape[0]
    og = o // groups
    out = np.empty((n, o, plan.ho, plan.wo), dtype=x.dtype)
    weight = w.reshape(groups, og, -1)
    nb = _chunk_of(x, plan)
    full = workspaces.get("flat.out", (nb, o, plan.out_len), x.dtype)
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
    return out


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


def grad_weight(x, grad, plan: _Plan, groups: int, w_shape):
    o = w_shape[0]
    og = o // groups
    nb = _grad_chunk(x.shape[0], o, plan, x.itemsize)
    buf, z = _grad_buffer(grad, plan, nb)
    total = np.zeros((groups, og, w_shape[1] * plan.taps), dtype=x.dtype)
    tmp = workspaces.get("flat.dw", (nb, groups, og, total.shape[2]), x.dtype)
    for n0 in range(0, x.shape[0], nb):
        n1 = min(x.shape[0], n0 + nb)
        _, g_flat = _load_grad(buf, z, grad, n0, n1, plan)
        cols = _input_columns(x, n0, n1, plan, groups)
        part = tmp[:n1 - n0]
        np.matmul(g_flat.reshape(n1 - n0, groups, og, plan.out_len), cols.transpose(0, 1, 3, 2), out=part)
        total += part[0] if n1 - n0 == 1 else part.sum(axis=0)
    return total.reshape(w_shape)


def grad_input(grad, w, plan: _Plan, groups: int, x_shape):
    n = x_shape[0]
    o, cg = w.shape[:2]
    og = o // groups
    # dx_c = sum_{o in group, t} w[o, c, flip(t)] * g_o[p + off_t - reach]
    weight = np.ascontiguousarray(
        w.reshape(groups, og, cg, plan.kh, plan.kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    ).reshape(groups, cg, og * plan.taps)
    nb = _grad_chunk(n, o, plan, grad.itemsize)
    buf, z = _grad_buffer(grad, plan, nb)
    cols = workspaces.get("flat.gcols", (nb, o * plan.taps, plan.in_len), grad.dtype)
    full = workspaces.get("flat.dx", (nb, plan.c, plan.in_len), grad.dtype)
    dx = np.empty(x_shape, dtype=grad.dtype)
    start = z + plan.pt * plan.wq - plan.reach
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        _load_grad(buf, z, grad, n0, n1, plan)
        c = cols[:n1 - n0]
        _copy_taps(c.reshape(n1 - n0, o, plan.kh, plan.kw, plan.in_len), buf, n1 - n0, start, plan.in_len, plan)
        res = full[:n1 - n0]
        np.matmul(weight, c.reshape(n1 - n0, groups, og * plan.taps, plan.in_len),
                  out=res.reshape(n1 - n0, groups, cg, plan.in_len))
        dx[n0:n1] = res.reshape(n1 - n0, plan.c, plan.h, plan.wq)[..., plan.pl:plan.pl + plan.w]
    return dx
