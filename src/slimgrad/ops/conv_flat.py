"""Convolution kernels on a flat, padded-width layout (long contiguous rows, no col2im).

Each input plane is copied once into a zero-padded buffer of row length ``Wq`` and flattened. With stride 1,
output ``(y, x)`` reads padded position ``(y + i*dh) * Wq + x + j*dw``; computing the output on the same
row length (``Wq - Wo`` throw-away columns per row) turns every kernel tap into one *contiguous* slice of
the flat plane, and the input gradient is itself such a correlation over the zero-extended flat output
gradient, so no scatter-add (col2im) is needed:

    out_flat[q]  = sum_t W_t @ x_flat[q + off_t]                      off_t = i*dh*Wq + j*dw
    dx_flat[p]   = sum_t W_t^T @ g_flat[p - off_t]                    (g zero outside its valid region)
    dW_t         = sum_q g_flat[q] x_flat[q + off_t]^T

A stride ``s > 1`` is reduced to stride 1 by splitting the padded input into ``sh*sw`` phase planes
(``plane_ab[y, x] = x_pad[sh*y + a, sw*x + b]``): tap ``(i, j)`` is then a shift of one phase plane, and the
input gradient is one such correlation per phase plane (see :class:`_Plan`).

Samples sit in fixed-size blocks (``grad_len``) of one row per channel, so a chunk of samples is one GEMM
per group. Kernel row ``i`` sees the kernel-row-0 columns shifted by ``i*dh*Wq``: im2col copies only the
``kw`` kernel columns, and the ``kh`` kernel rows become a taller GEMM (``kh*O`` rows, which BLAS runs
faster than ``O`` rows) followed by ``kh - 1`` shifted adds (see :func:`_split`); depthwise convs (one
input channel per group) too, as per-channel ``(kh, kw) @ (kw, N)`` products. A depthwise weight gradient
is one batched dot per tap straight from the padded input. The batch is split into two fixed runs of
chunks that run on two threads (``window.run_parts``), each on its own work buffers.
Work buffers come from ``window.workspaces``; regions of a buffer that must be zero are never written (the
cache key pins the geometry), so the padding is zeroed once per geometry, not per call.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .window import part_chunk, run_parts, split_chunks, sum_in_order, tap_range, workspaces

CHUNK_BYTES = 4 << 20


class _Plan(NamedTuple):
    """Geometry of the flat layout. With stride ``s > 1`` the padded input is split into ``sh*sw`` phase
    planes (``plane_ab[y, x] = x_pad[sh*y + a, sw*x + b]``), on which every tap is a stride-1 shift:
    tap ``(i, j)`` reads phase ``((i*dh) % sh, (j*dw) % sw)`` at ``((i*dh)//sh, (j*dw)//sw)``."""
    c: int
    h: int
    w: int
    ho: int
    wo: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pl: int
    wq: int              # plane row length
    hb: int              # plane rows (one spare row absorbs the throw-away columns' over-read)
    rows: tuple          # per row phase a: (first plane row, end plane row, first input row)
    cols: tuple          # per column phase b: (first plane column, end plane column, first input column)
    tap_phase: tuple     # per tap (row-major over i, j): phase index a*sw + b
    tap_off: tuple       # per tap: flat offset in its phase plane
    lead: int            # zeros before each sample's flat output gradient (input-gradient reads stay >= 0)
    grad_len: int        # per-sample block length shared by every flat buffer

    @property
    def taps(self) -> int:
        return self.kh * self.kw

    @property
    def phases(self) -> int:
        return self.sh * self.sw

    @property
    def out_len(self) -> int:
        return self.ho * self.wq

    @property
    def reach(self) -> int:
        return max(self.tap_off)


@functools.lru_cache(maxsize=256)
def _plan(x_shape, kernel_size, stride, dilation, padding, out_hw) -> _Plan:
    """The plan for one geometry (cached: a network reuses a handful of geometries every step)."""
    _, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw), (pt, pl), (ho, wo) = kernel_size, stride, dilation, padding, out_hw
    big = 1 << 40
    rows = tuple(tap_range(h, big, a - pt, sh) for a in range(sh))
    cols = tuple(tap_range(w, big, b - pl, sw) for b in range(sw))
    wq = max(wo + (kw - 1) * dw // sw, max(hi for _, hi, _ in cols))
    hb = max(ho + (kh - 1) * dh // sh, max(hi for _, hi, _ in rows)) + 1
    taps = [(i * dh, j * dw) for i in range(kh) for j in range(kw)]
    tap_phase = tuple((u % sh) * sw + v % sw for u, v in taps)
    tap_off = tuple((u // sh) * wq + v // sw for u, v in taps)
    first_row = min(lo for lo, hi, _ in rows if hi > lo)
    lead = max(0, max(tap_off) - first_row * wq)
    grad_len = lead + max(ho * wq, max(hi for _, hi, _ in rows) * wq)
    return _Plan(c, h, w, ho, wo, kh, kw, sh, sw, dh, dw, pt, pl, wq, hb, rows, cols, tap_phase, tap_off, lead,
                 grad_len)


def usable(plan: _Plan) -> bool:
    """Worth it when every phase plane is read by some tap and the taps overlap (stride 1 always; 1x1 or
    kernel == stride never: there the strided im2col path copies less and its col2im is plain assignment)."""
    return plan.phases == 1 or (len(set(plan.tap_phase)) == plan.phases and plan.taps > plan.phases)


def _chunk(n: int, per_sample_bytes: int) -> int:
    return part_chunk(n, CHUNK_BYTES // max(1, per_sample_bytes))


class _Flat:
    """Per-sample blocks of ``G = grad_len`` positions in one ``(rows, nb*G + slack)`` buffer, the plane at
    ``lead`` in each block. Input and gradient share this layout, so ``buf[:, off : off + m*G]`` is tap
    ``off``'s view of a whole chunk (one contiguous row per channel); ``slack`` absorbs over-reads."""

    def __init__(self, key, rows: int, plan: _Plan, nb: int, dtype, phases: int = 1, part: int = 0):
        self.plan, self.nb, self.rows, self.phases, self.part = plan, nb, rows, phases, part
        slack = plan.hb * plan.wq + plan.reach + plan.grad_len
        self.buf = workspaces.get((key, part), (rows, nb * plan.grad_len + slack), dtype, zero=True)

    def blocks(self, m: int, start: int, length: int):
        """``(rows, m, length)``: positions ``start .. start+length`` of each of the first ``m`` blocks."""
        g = self.plan.grad_len
        return self.buf[:, start:start + m * g].reshape(self.rows, m, g)[:, :, :length]

    def span(self, m: int, off: int = 0):
        """``(rows, m*G)``: the first ``m`` blocks shifted by ``off``."""
        return self.buf[:, off:off + m * self.plan.grad_len]

    def phase(self, ph: int):
        """The rows of phase plane ``ph`` (all rows when the buffer has a single phase)."""
        if self.phases == 1:
            return self.buf
        return self.buf.reshape(self.rows // self.phases, self.phases, -1)[:, ph]


class _Input(_Flat):
    """The zero-padded flat input of a chunk: rows ``(channel, phase)``."""

    def __init__(self, x, plan: _Plan, nb: int, part: int = 0):
        super().__init__(("flat.x", plan), plan.c * plan.phases, plan, nb, x.dtype, plan.phases, part)
        self.x = x

    def load(self, n0: int, n1: int) -> None:
        p, m = self.plan, n1 - n0
        for a, (r0, r1, first_r) in enumerate(p.rows):
            for b, (c0, c1, first_c) in enumerate(p.cols):
                if r1 <= r0 or c1 <= c0:
                    continue
                rows = self.phase(a * p.sw + b)[:, :m * p.grad_len].reshape(p.c, m, p.grad_len)
                plane = rows[:, :, p.lead + r0 * p.wq:p.lead + r1 * p.wq].reshape(p.c, m, r1 - r0, p.wq)
                src = self.x[n0:n1, :, first_r:first_r + (r1 - r0 - 1) * p.sh + 1:p.sh,
                             first_c:first_c + (c1 - c0 - 1) * p.sw + 1:p.sw]
                plane[..., c0:c1] = src.transpose(1, 0, 2, 3)


class _Grad(_Flat):
    """The zero-extended flat output gradient of a chunk: each block holds ``Ho*Wq`` values at ``lead``
    (throw-away columns zero), zeros elsewhere."""

    def __init__(self, grad, plan: _Plan, nb: int, part: int = 0):
        super().__init__(("flat.g", plan, grad.shape[1]), grad.shape[1], plan, nb, grad.dtype, 1, part)
        self.grad = grad

    def load(self, n0: int, n1: int):
        p, m = self.plan, n1 - n0
        self.blocks(m, p.lead, p.out_len).reshape(self.rows, m, p.ho, p.wq)[..., :p.wo] = \
            self.grad[n0:n1].transpose(1, 0, 2, 3)
        return self.span(m)


def _split(p: _Plan, split: bool):
    """``(column taps [(phase, offset)], row shifts)``. Split (stride 1 only): columns are the kernel columns
    ``j*dw`` and kernel row ``i`` is the same column matrix shifted by ``i*dh*Wq``, so the ``kh`` rows become a
    taller GEMM (``kh*O`` rows: BLAS runs faster than on ``O`` rows) plus ``kh - 1`` shifted adds, and im2col
    copies ``kw`` instead of ``kh*kw`` rows per channel. Unsplit: every tap is a column, no shifts."""
    if split and p.phases == 1:
        return [(0, j * p.dw) for j in range(p.kw)], [i * p.dh * p.wq for i in range(p.kh)]
    return list(zip(p.tap_phase, p.tap_off)), [0]


def _columns(source: _Flat, key: str, m: int, start: int, taps, ext: int):
    """im2col ``(rows*len(taps), m*G + ext)``: row ``(r, t)`` = ``phase_t rows[r, start + offset_t :]``."""
    p = source.plan
    length = m * p.grad_len + ext
    base = source.rows // source.phases
    cols = workspaces.get((key, source.part), (base * len(taps), source.nb * p.grad_len + ext), source.buf.dtype)
    view = cols.reshape(base, len(taps), -1)
    for t, (ph, off) in enumerate(taps):
        view[:, t, :length] = source.phase(ph)[:, start + off:start + off + length]
    return cols[:, :length]


def _shift_sum(stacked, rows: int, m: int, nb: int, p: _Plan, shifts, key: str):
    """``sum_i block_i[:, shifts[i]:][:, :m*G]`` of ``stacked (g, len(shifts)*rows, N + ext)`` -> ``(g*rows, N)``."""
    g = stacked.shape[0]
    n = m * p.grad_len
    blocks = stacked.reshape(g, len(shifts), rows, stacked.shape[2])
    if len(shifts) == 1:
        return blocks[:, 0, :, :n].reshape(g * rows, n)
    out = workspaces.get(key, (g * rows, nb * p.grad_len), stacked.dtype)[:, :n].reshape(g, rows, n)
    return sum_shifted(blocks, shifts, n, out).reshape(g * rows, n)  # a view: rows stay contiguous


def sum_shifted(blocks, shifts, n: int, out):
    """``out[..., :n] = sum_i blocks[:, i, :, shifts[i]:][..., :n]`` for ``blocks (g, k >= 2, rows, L)``: the
    partial results of ``k`` kernel rows (or taps), each shifted by its offset, in long-row adds. Returns
    ``out[..., :n]``."""
    out = out[..., :n]
    np.add(blocks[:, 0, :, shifts[0]:shifts[0] + n], blocks[:, 1, :, shifts[1]:shifts[1] + n], out=out)
    for i in range(2, len(shifts)):
        out += blocks[:, i, :, shifts[i]:shifts[i] + n]
    return out


def _grouped(matrix, groups: int):
    """``(rows, cols)`` -> ``(groups, rows/groups, cols)`` (a view)."""
    return matrix.reshape(groups, matrix.shape[0] // groups, matrix.shape[1])


def _per_sample_bytes(c: int, o: int, p: _Plan, itemsize: int) -> int:
    return (max(c, o) * (p.taps + p.kh) + c * p.phases) * p.grad_len * itemsize


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
        for t, (ph, off) in enumerate(zip(p.tap_phase, p.tap_off)):
            tap = source.phase(ph)[:, off:off + n]
            total[:, :, 0, t // p.kw, t % p.kw] += np.matmul(g3, tap.reshape(groups, n, 1))[..., 0]
        return
    taps, shifts = _split(p, True)
    cols = _columns(source, "flat.xcols", m, 0, taps, shifts[-1])
    if len(shifts) == 1:  # strided: one GEMM over all taps
        part = np.matmul(_grouped(cols[:, :n], groups), g3.transpose(0, 2, 1))
        total += part.transpose(0, 2, 1).reshape(total.shape)
        return
    for i, shift in enumerate(shifts):
        shifted = _grouped(cols[:, shift:shift + n], groups)
        part = np.matmul(shifted, g3.transpose(0, 2, 1))  # (g, cg*kw, O/g): BLAS runs this orientation faster
        total[:, :, :, i, :] += part.transpose(0, 2, 1).reshape(total[:, :, :, i, :].shape)


def forward(x, w, plan: _Plan, groups: int, bias=None, grad_weight_from=None):
    """``conv(x, w) (+ bias)``; with ``grad_weight_from`` (a gradient shaped like the output) also the weight
    gradient from the same input: returns ``(out, dW)``."""
    n, o = x.shape[0], w.shape[0]
    og, cg = o // groups, w.shape[1]
    # depthwise too: kw column copies + (C, kh, kw) products beat kh*kw copies (~15 %); not one input channel
    # feeding many outputs (a first layer), where the kh-times taller output costs more than the copies saved
    split = plan.phases == 1 and (cg > 1 or og == 1)
    offsets, shifts = _split(plan, split)
    weight = _stacked_weight(w, groups, plan, split)
    nb = _chunk(n, _per_sample_bytes(plan.c, o, plan, x.itemsize))
    out = np.empty((n, o, plan.ho, plan.wo), dtype=x.dtype)

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        source = _Input(x, plan, nb, part)
        total = None
        if grad_weight_from is not None:
            grads = _Grad(grad_weight_from, plan, nb, part)
            total = np.zeros((groups, og, cg, plan.kh, plan.kw), dtype=x.dtype)
        stacked = workspaces.get(("flat.y", part), (groups, len(shifts) * og, nb * plan.grad_len + shifts[-1]),
                                 x.dtype)
        for n0, n1 in chunks:
            m = n1 - n0
            source.load(n0, n1)
            cols = _columns(source, "flat.fcols" if split else "flat.dwcols", m, 0, offsets, shifts[-1])
            y = stacked[:, :, :cols.shape[1]]
            np.matmul(weight, _grouped(cols, groups), out=y)
            res = _shift_sum(y, og, m, nb, plan, shifts, ("flat.out", part))
            valid = res.reshape(o, m, plan.grad_len)[:, :, plan.lead:plan.lead + plan.out_len]
            valid = valid.reshape(o, m, plan.ho, plan.wq)[..., :plan.wo].transpose(1, 0, 2, 3)
            if bias is None:
                out[n0:n1] = valid
            else:
                np.add(valid, bias.reshape(-1, 1, 1), out=out[n0:n1])
            if total is not None:
                _weight_grad(grads.load(n0, n1), source, m, groups, cg, total)
        return total

    totals = run_parts(work, split_chunks(n, nb), x.nbytes + out.nbytes)
    if grad_weight_from is None:
        return out
    return out, sum_in_order(totals).reshape(w.shape)


def backward(x, grad, w, plan: _Plan, groups: int, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` of ``conv(x, w)`` in one pass over the batch (the flat gradient is loaded once).

    ``dx_c = sum_{o in group, t} w[o, c, t] * g_o[p - off_t]`` per phase plane (a correlation: no col2im).
    """
    n = x_shape[0]
    o, cg = w_shape[:2]
    og = o // groups
    nb = _chunk(n, _per_sample_bytes(plan.c, o, plan, grad.itemsize))
    dx = None
    if need_input:
        dx = np.empty(x_shape, dtype=grad.dtype)
        passes = _input_grad_passes(w, plan, groups)

    def work(part, chunks):  # one run of consecutive chunks, on its own buffers
        grads = _Grad(grad, plan, nb, part)
        source = total = None
        if need_weight:
            source = _Input(x, plan, nb, part)
            total = np.zeros((groups, og, cg, plan.kh, plan.kw), dtype=grad.dtype)
        todo = passes if need_input else ()
        buffers = [None if taps is None else workspaces.get(
            ("flat.gy", len(taps), part), (groups, len(shifts) * cg, nb * plan.grad_len + shifts[-1]), grad.dtype)
            for _, _, taps, shifts, _ in todo]
        for n0, n1 in chunks:
            _backward_chunk(n0, n1, grads, source, total, todo, buffers, dx, plan, groups, cg, nb)
        return total

    totals = run_parts(work, split_chunks(n, nb), 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    return dx, (sum_in_order(totals).reshape(w_shape) if need_weight else None)


def _backward_chunk(n0, n1, grads, source, total, passes, buffers, dx, plan, groups, cg, nb):
    """Samples ``n0:n1``: ``total += dW`` (with a ``source``), and ``dx[n0:n1]`` phase plane by phase plane."""
    m = n1 - n0
    g_flat = grads.load(n0, n1)
    if source is not None:
        source.load(n0, n1)
        _weight_grad(g_flat, source, m, groups, cg, total)
    for (a, b, taps, shifts, weight), stacked in zip(passes, buffers):
        (r0, r1, first_r), (c0, c1, first_c) = plan.rows[a], plan.cols[b]
        target = dx[n0:n1, :, first_r:first_r + (r1 - r0 - 1) * plan.sh + 1:plan.sh,
                    first_c:first_c + (c1 - c0 - 1) * plan.sw + 1:plan.sw]
        if weight is None:  # no tap reads this phase
            target[...] = 0
            continue
        cols = _columns(grads, "flat.gcols", m, plan.lead + r0 * plan.wq, taps, shifts[-1])
        y = stacked[:, :, :cols.shape[1]]
        np.matmul(weight, _grouped(cols, groups), out=y)
        res = _shift_sum(y, cg, m, nb, plan, shifts, ("flat.dx", grads.part))
        rows = res.reshape(plan.c, m, plan.grad_len)[:, :, :(r1 - r0) * plan.wq]
        target[...] = rows.reshape(plan.c, m, r1 - r0, plan.wq)[..., c0:c1].transpose(1, 0, 2, 3)


def _input_grad_passes(w, plan: _Plan, groups: int):
    """One pass per phase plane that holds input pixels: ``(a, b, column taps, shifts, weight)`` (``None``s
    where no tap reads the phase).

    The columns read the flat gradient at ``start - off_t`` (``start`` = the phase's first input row); with
    a single phase and several output channels per group the kernel rows are split into shifts as in the
    forward (weights flipped, the shifts then run forward)."""
    o, cg = w.shape[:2]
    og = o // groups
    passes = []
    for a, (r0, r1, _) in enumerate(plan.rows):
        for b, (c0, c1, _) in enumerate(plan.cols):
            if r1 <= r0 or c1 <= c0:
                continue
            ph = a * plan.sw + b
            if plan.phases == 1 and (og > 1 or cg == 1):
                # dx = correlation of g with the flipped kernel: columns j, shifted rows i (as the forward)
                flipped = w.reshape(groups, og, cg, plan.kh, plan.kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
                weight = _stacked_weight(flipped.reshape(plan.c, og, plan.kh, plan.kw), groups, plan, True)
                taps, shifts = _split(plan, True)
                taps = [(0, off - plan.reach) for _, off in taps]
            else:
                chosen = [t for t in range(plan.taps) if plan.tap_phase[t] == ph]
                if not chosen:
                    passes.append((a, b, None, None, None))
                    continue
                weight = np.ascontiguousarray(
                    w.reshape(groups, og, cg, plan.taps)[..., chosen].transpose(0, 2, 1, 3)
                ).reshape(groups, cg, og * len(chosen))
                taps, shifts = [(0, -plan.tap_off[t]) for t in chosen], [0]
            passes.append((a, b, taps, shifts, weight))
    return passes
