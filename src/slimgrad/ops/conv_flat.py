"""Stride-1 convolution kernels on a flat, padded-width layout (long contiguous rows, no col2im).

Each input plane is copied once into a zero-padded buffer of row length ``Wq`` and flattened. With stride 1,
output ``(y, x)`` reads padded position ``(y + i*dh) * Wq + x + j*dw``; computing the output on the same
row length (``Wq - Wo`` throw-away columns per row) turns every kernel tap into one *contiguous* slice of
the flat plane, and the input gradient is itself such a correlation (flipped, transposed weight) over the
zero-extended flat output gradient, so no scatter-add (col2im) is needed:

    out_flat[q]  = sum_t W_t @ x_flat[q + off_t]                      off_t = i*dh*Wq + j*dw
    dx_flat[p]   = sum_t W_t^T @ g_flat[p - off_t]                    (g zero outside its valid region)
    dW_t         = sum_q g_flat[q] x_flat[q + off_t]^T

Samples sit in fixed-size blocks (``grad_len``) of one row per channel, so a chunk of samples is one GEMM
per group. Kernel row ``i`` sees the kernel-row-0 columns shifted by ``i*dh*Wq``: im2col copies only the
``kw`` kernel columns, and the ``kh`` kernel rows become a taller GEMM (``kh*O`` rows, which BLAS runs
faster than ``O`` rows) followed by ``kh - 1`` shifted adds (see :func:`_split`). Depthwise convs (one
input channel per group) copy all ``kh*kw`` taps and run per-channel products; their weight gradient is
one batched dot per tap straight from the padded input.
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


class _Flat:
    """Per-sample blocks of ``G = grad_len`` positions in one ``(rows, nb*G + slack)`` buffer, the plane at
    ``lead`` in each block. Input and gradient share this layout, so ``buf[:, off : off + m*G]`` is tap
    ``off``'s view of a whole chunk (one contiguous row per channel); ``slack`` absorbs over-reads."""

    def __init__(self, key, rows: int, plan: _Plan, nb: int, dtype):
        self.plan, self.nb, self.rows = plan, nb, rows
        slack = plan.hb * plan.wq + plan.reach + plan.grad_len
        self.buf = workspaces.get(key, (rows, nb * plan.grad_len + slack), dtype, zero=True)

    def blocks(self, m: int, start: int, length: int):
        """``(rows, m, length)``: positions ``start .. start+length`` of each of the first ``m`` blocks."""
        g = self.plan.grad_len
        return self.buf[:, start:start + m * g].reshape(self.rows, m, g)[:, :, :length]

    def span(self, m: int, off: int = 0):
        """``(rows, m*G)``: the first ``m`` blocks shifted by ``off``."""
        return self.buf[:, off:off + m * self.plan.grad_len]


def _taps(plan: _Plan, start: int = 0):
    """Flat offsets ``start + i*dh*Wq + j*dw`` of the taps, row-major over ``(i, j)``."""
    return [start + i * plan.dh * plan.wq + j * plan.dw for i in range(plan.kh) for j in range(plan.kw)]


class _Input(_Flat):
    """The zero-padded flat input of a chunk."""

    def __init__(self, x, plan: _Plan, nb: int):
        super().__init__(("flat.x", plan), plan.c, plan, nb, x.dtype)
        self.x = x

    def load(self, n0: int, n1: int) -> None:
        p, m = self.plan, n1 - n0
        plane = self.blocks(m, p.lead + p.pt * p.wq, p.h * p.wq).reshape(p.c, m, p.h, p.wq)
        plane[..., p.pl:p.pl + p.w] = self.x[n0:n1].transpose(1, 0, 2, 3)


class _Grad(_Flat):
    """The zero-extended flat output gradient of a chunk: each block holds ``Ho*Wq`` values at ``lead``
    (throw-away columns zero), zeros elsewhere."""

    def __init__(self, grad, plan: _Plan, nb: int):
        super().__init__(("flat.g", plan, grad.shape[1]), grad.shape[1], plan, nb, grad.dtype)
        self.grad = grad

    def load(self, n0: int, n1: int):
        p, m = self.plan, n1 - n0
        self.blocks(m, p.lead, p.out_len).reshape(self.rows, m, p.ho, p.wq)[..., :p.wo] = \
            self.grad[n0:n1].transpose(1, 0, 2, 3)
        return self.span(m)


def _split(p: _Plan, split: bool):
    """``(column offsets, row shifts)`` of the taps. Split: columns are the kernel columns ``j*dw`` and
    kernel row ``i`` is the same column matrix shifted by ``i*dh*Wq``, so the ``kh`` rows become a taller
    GEMM (``kh*O`` rows: BLAS runs faster than on ``O`` rows) plus ``kh - 1`` shifted adds, and im2col
    copies ``kw`` instead of ``kh*kw`` rows per channel. Unsplit (one input channel per group, where the
    GEMM is a per-channel product anyway): all ``kh*kw`` taps are columns, no shifts."""
    if split:
        return [j * p.dw for j in range(p.kw)], [i * p.dh * p.wq for i in range(p.kh)]
    return [i * p.dh * p.wq + j * p.dw for i in range(p.kh) for j in range(p.kw)], [0]


def _columns(source: _Flat, key: str, m: int, start: int, offsets, ext: int):
    """im2col ``(rows*len(offsets), m*G + ext)``: row ``(r, t)`` = ``src[r, start + offsets[t] :]``."""
    p = source.plan
    length = m * p.grad_len + ext
    cols = workspaces.get(key, (source.rows * len(offsets), source.nb * p.grad_len + ext), source.buf.dtype)
    view = cols.reshape(source.rows, len(offsets), -1)
    for t, off in enumerate(offsets):
        view[:, t, :length] = source.buf[:, start + off:start + off + length]
    return cols[:, :length]


def _shift_sum(stacked, rows: int, m: int, nb: int, p: _Plan, shifts, key: str):
    """``sum_i block_i[:, shifts[i]:][:, :m*G]`` of ``stacked (g, len(shifts)*rows, N + ext)`` -> ``(g*rows, N)``."""
    g = stacked.shape[0]
    n = m * p.grad_len
    blocks = stacked.reshape(g, len(shifts), rows, stacked.shape[2])
    if len(shifts) == 1:
        return blocks[:, 0, :, :n].reshape(g * rows, n)
    out = workspaces.get(key, (g * rows, nb * p.grad_len), stacked.dtype)[:, :n].reshape(g, rows, n)
    np.add(blocks[:, 0, :, shifts[0]:shifts[0] + n], blocks[:, 1, :, shifts[1]:shifts[1] + n], out=out)
    for i in range(2, len(shifts)):
        out += blocks[:, i, :, shifts[i]:shifts[i] + n]
    return out.reshape(g * rows, n)  # a view: rows stay contiguous


def _grouped(matrix, groups: int):
    """``(rows, cols)`` -> ``(groups, rows/groups, cols)`` (a view)."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def _per_sample_bytes(c: int, o: int, p: _Plan, itemsize: int) -> int:
    return (max(c, o) * (p.kw + p.kh) + c) * p.grad_len * itemsize


def _stacked_weight(w, groups: int, p: _Plan, split: bool):
    """``(O, C/g, kh, kw)`` -> split: ``(g, kh*O/g, C/g*kw)`` (row ``(i, o)``, column ``(c, j)``);
    unsplit: ``(g, O/g, C/g*kh*kw)``."""
    o, cg = w.shape[:2]
    if not split:
        return np.ascontiguousarray(w).reshape(groups, o // groups, cg * p.taps)
    return np.ascontiguousarray(w.reshape(groups, o // groups, cg, p.kh, p.kw).transpose(0, 3, 1, 2, 4)) \
        .reshape(groups, p.kh * (o // groups), cg * p.kw)


def _weight_grad(g_flat, source: _Input, m: int, groups: int, cg: int, total):
    """``total (g, O/g, cg, kh, kw) += dW`` of a chunk: per kernel row one GEMM against the shifted column
    matrix; depthwise (one input channel per group): one batched dot per tap straight from the padded input."""
    p = source.plan
    n = m * p.grad_len
    g3 = _grouped(g_flat, groups)
    if cg == 1:
        for i in range(p.kh):
            for j in range(p.kw):
                tap = source.span(m, i * p.dh * p.wq + j * p.dw)
                total[:, :, 0, i, j] += np.matmul(g3, tap.reshape(groups, n, 1))[..., 0]
        return
    offsets, shifts = _split(p, True)
    cols = _columns(source, "flat.xcols", m, 0, offsets, shifts[-1])
    for i, shift in enumerate(shifts):
        shifted = _grouped(cols[:, shift:shift + n], groups)
        part = np.matmul(shifted, g3.transpose(0, 2, 1))  # (g, cg*kw, O/g): BLAS runs this orientation faster
        total[:, :, :, i, :] += part.transpose(0, 2, 1).reshape(total[:, :, :, i, :].shape)


def forward(x, w, plan: _Plan, groups: int, bias=None, grad_weight_from=None):
    """``conv(x, w) (+ bias)``; with ``grad_weight_from`` (a gradient shaped like the output) also the weight
    gradient from the same input: returns ``(out, dW)``."""
    n, o = x.shape[0], w.shape[0]
    og, cg = o // groups, w.shape[1]
    split = cg > 1
    offsets, shifts = _split(plan, split)
    weight = _stacked_weight(w, groups, plan, split)
    nb = _chunk(n, _per_sample_bytes(plan.c, o, plan, x.itemsize))
    source = _Input(x, plan, nb)
    if grad_weight_from is not None:
        grads = _Grad(grad_weight_from, plan, nb)
        total = np.zeros((groups, og, cg, plan.kh, plan.kw), dtype=x.dtype)
    out = np.empty((n, o, plan.ho, plan.wo), dtype=x.dtype)
    stacked = workspaces.get("flat.y", (groups, len(shifts) * og, nb * plan.grad_len + shifts[-1]), x.dtype)
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        m = n1 - n0
        source.load(n0, n1)
        cols = _columns(source, "flat.fcols" if split else "flat.dwcols", m, 0, offsets, shifts[-1])
        y = stacked[:, :, :cols.shape[1]]
        np.matmul(weight, _grouped(cols, groups), out=y)
        res = _shift_sum(y, og, m, nb, plan, shifts, "flat.out")
        valid = res.reshape(o, m, plan.grad_len)[:, :, plan.lead:plan.lead + plan.out_len]
        valid = valid.reshape(o, m, plan.ho, plan.wq)[..., :plan.wo].transpose(1, 0, 2, 3)
        if bias is None:
            out[n0:n1] = valid
        else:
            np.add(valid, bias.reshape(-1, 1, 1), out=out[n0:n1])
        if grad_weight_from is not None:
            _weight_grad(grads.load(n0, n1), source, m, groups, cg, total)
    return out if grad_weight_from is None else (out, total.reshape(w.shape))


def backward(x, grad, w, plan: _Plan, groups: int, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` of ``conv(x, w)`` in one pass over the batch (the flat gradient is loaded once).

    ``dx_c = sum_{o in group, t} w[o, c, flip(t)] * g_o[p + off_t - reach]`` (a correlation: no col2im).
    """
    n = x_shape[0]
    o, cg = w_shape[:2]
    og = o // groups
    nb = _chunk(n, _per_sample_bytes(plan.c, o, plan, grad.itemsize))
    grads = _Grad(grad, plan, nb)
    dx = total = None
    if need_weight:
        source = _Input(x, plan, nb)
        total = np.zeros((groups, og, cg, plan.kh, plan.kw), dtype=grad.dtype)
    if need_input:
        flipped = w.reshape(o, cg, plan.kh, plan.kw)[:, :, ::-1, ::-1]
        # the transposed problem: dx = conv(g, w^T flipped), "out" channels C/g, "in" channels O/g per group
        split = og > 1
        offsets, shifts = _split(plan, split)
        weight = _stacked_weight(flipped.reshape(groups, og, cg, plan.kh, plan.kw).transpose(0, 2, 1, 3, 4)
                                 .reshape(plan.c, og, plan.kh, plan.kw), groups, plan, split)
        stacked = workspaces.get("flat.gy", (groups, len(shifts) * cg, nb * plan.grad_len + shifts[-1]), grad.dtype)
        dx = np.empty(x_shape, dtype=grad.dtype)
        start = plan.lead + plan.pt * plan.wq - plan.reach
    for n0 in range(0, n, nb):
        n1 = min(n, n0 + nb)
        m = n1 - n0
        g_flat = grads.load(n0, n1)
        if need_weight:
            source.load(n0, n1)
            _weight_grad(g_flat, source, m, groups, cg, total)
        if need_input:
            cols = _columns(grads, "flat.gcols", m, start, offsets, shifts[-1])
            y = stacked[:, :, :cols.shape[1]]
            np.matmul(weight, _grouped(cols, groups), out=y)
            res = _shift_sum(y, cg, m, nb, plan, shifts, "flat.dx")
            rows = res.reshape(plan.c, m, plan.grad_len)[:, :, :plan.in_len]
            dx[n0:n1] = rows.reshape(plan.c, m, plan.h, plan.wq)[..., plan.pl:plan.pl + plan.w].transpose(1, 0, 2, 3)
    return dx, (total.reshape(w_shape) if need_weight else None)
