"""Strided convolutions whose kernel taps never overlap (e.g. kernel == stride): GEMMs and one copy per tap.

Notation as in :mod:`conv_kernels` (the convolution side): input ``x (N, C, H, W)``, weight ``(O, C/g, kh, kw)``,
output ``y (N, O, Ho, Wo)``, ``P = Ho*Wo``, ``Q = C*kh*kw``, tap ``t = (i, j)``. When every input position is
reached by at most one (tap, output position) pair, a chunk of ``m`` samples is, per group,

    columns      cols[n, p, (c, t)] = x[n, c, in_t(p)]          (one copy per tap; 0 where in_t(p) is padding)
    conv         y^T (m*P, O) = cols (m*P, Q) @ W^T  (+ b)       (then copied to (m, O, P))
    weight grad  dW  = sum over chunks  G (O, m*P) @ cols        (G = the output gradient, channel-major)
    transposed   R = [G; 1]^T (m*P, O+1) @ [W; b] (O+1, Q),      x[n, c, in_t(p)] = R[n, p, (c, t)]

so conv_transpose2d's forward is one GEMM and one assignment per tap (no zero-fill where every position is
reached, no adds, the bias a row of ones in the GEMM), and its backward builds the columns once for both
the input- and the weight-gradient GEMMs. ``cols`` and ``R`` are pixel-major ((y, x) rows, (c, i, j)
columns), the orientation BLAS runs fastest here. When the ``kw`` column taps tile whole rows (``kw == sw``,
no column dilation, padding and width multiples of ``sw``), a pixel's ``kw`` values are adjacent in ``x``
too and move as one unsigned ``kw*itemsize``-byte word: one copy per kernel row instead of per tap, and
one per chunk where the kernel rows tile as well (``kh == sh``).
The batch runs in chunks (``CHUNK_BYTES`` of work set, about one core's L2) that two threads take in turn;
per-chunk partial sums are added in chunk order (bit-identical with one worker or two).
"""
from __future__ import annotations

import itertools

import numpy as np

from .window import part_chunk, run_parts, split_chunks, sum_in_order, tap_coverage, tap_slices, workspaces

CHUNK_BYTES = 1 << 20
"""Target work set of one chunk (columns, channel-major output gradient, the input chunk)."""


def _axis(size_in: int, size_out: int, k: int, s: int, d: int, p: int):
    """Per tap along one axis: ``(out_slice, in_slice)`` or None; and the coverage ``(max, min)``."""
    slices = [tap_slices(size_in, size_out, i * d - p, s) for i in range(k)]
    count = tap_coverage(size_in, size_out, k, s, d, p)
    return slices, int(count.max(initial=0)), int(count.min(initial=0))


def usable(x_shape, w_shape, geo, out_hw) -> bool:
    """A strided conv (some stride > 1) whose taps reach every input position at most once, with more than
    one output channel per group (with one, e.g. depthwise, the GEMMs degenerate into outer products and
    the im2col path's broadcast multiplies are faster)."""
    if geo.stride == (1, 1) or len(x_shape) != 4 or w_shape[0] // geo.groups < 2:
        return False
    (kh, kw), (sh, sw), (dh, dw), (pt, pl) = geo.kernel_size, geo.stride, geo.dilation, geo.padding
    rows = _axis(x_shape[2], out_hw[0], kh, sh, dh, pt)
    cols = _axis(x_shape[3], out_hw[1], kw, sw, dw, pl)
    return rows[1] <= 1 and cols[1] <= 1


class _Layout:
    """The geometry of one conv: tap slices, coverage, the word (fused column taps) view, chunk size."""

    def __init__(self, x_shape, w_shape, geo, out_hw, dtype):
        n, c, h, wd = x_shape
        o, cg, kh, kw = w_shape
        (sh, sw), (dh, dw), (pt, pl) = geo.stride, geo.dilation, geo.padding
        self.n, self.c, self.h, self.wd, self.o, self.kh, self.kw = n, c, h, wd, o, kh, kw
        self.g, self.ho, self.wo = geo.groups, out_hw[0], out_hw[1]
        self.og, self.qg, self.p, self.q = o // self.g, cg * kh * kw, out_hw[0] * out_hw[1], c * kh * kw
        self.rows, _, rmin = _axis(h, out_hw[0], kh, sh, dh, pt)
        self.cols, _, cmin = _axis(wd, out_hw[1], kw, sw, dw, pl)
        self.covered = rmin >= 1 and cmin >= 1
        itemsize = np.dtype(dtype).itemsize
        self.word = None  # column taps fused into words: x[.., a*sw + u] (u < sw) <-> cols[.., x = u0 + a, .., j = u]
        if kw == sw and dw == 1 and pl % sw == 0 and wd % sw == 0 and kw * itemsize in (1, 2, 4, 8):
            u0 = pl // sw
            nu = min(out_hw[1] - u0, wd // sw)
            if nu > 0:
                self.word = (np.dtype(f"u{kw * itemsize}"), slice(u0, u0 + nu), slice(0, nu))
        self.block = None  # the kernel rows tile too: x row a*sh + v (v < sh) <-> cols[.., y = v0 + a, .., i = v]
        if self.word is not None and kh == sh and dh == 1 and pt % sh == 0 and h % sh == 0:
            v0 = pt // sh
            nv = min(out_hw[0] - v0, h // sh)
            if nv > 0:
                self.block = (slice(v0, v0 + nv), slice(0, nv))
        per_sample = (self.q + o + self.g) * self.p * itemsize + c * h * wd * itemsize
        self.nb = part_chunk(n, max(1, CHUNK_BYTES // per_sample))
        self.dtype = np.dtype(dtype)
        self.key = (tuple(x_shape[1:]), tuple(w_shape), tuple(geo), tuple(out_hw), self.dtype.str)

    def columns(self, part: int):
        """This part's ``(nb*P, Q)`` columns buffer (zeros where a tap reads padding; those are never written)."""
        return workspaces.get(("disjoint.cols", self.key, part), (self.nb * self.p, self.q), self.dtype, zero=True)

    def row_taps(self):
        """``(i, out_rows, in_rows)`` for each kernel row that reaches the input."""
        return [(i, sl[0], sl[1]) for i, sl in enumerate(self.rows) if sl is not None]

    def taps(self):
        """``(i, j, out_rows, out_cols, in_rows, in_cols)`` for each tap that reaches the input."""
        return [(i, j, r[0], c[0], r[1], c[1]) for i, r in enumerate(self.rows) if r is not None
                for j, c in enumerate(self.cols) if c is not None]

    def gather(self, x, n0: int, n1: int, cols):
        """``cols[n, p, (c, t)] = x[n0 + n, c, in_t(p)]`` for the chunk (``cols``: ``(m*P, Q)``)."""
        m = n1 - n0
        if self.word is not None:
            dt, out_c, in_c = self.word
            xw = x[n0:n1].view(dt)
            cw = cols[:m * self.p].view(dt).reshape(m, self.ho, self.wo, self.c, self.kh)
            for i, out_r, in_r in self.row_taps():
                cw[:, out_r, out_c, :, i] = xw[:, :, in_r, in_c].transpose(0, 2, 3, 1)
            return
        c6 = cols[:m * self.p].reshape(m, self.ho, self.wo, self.c, self.kh, self.kw)
        for i, j, out_r, out_c, in_r, in_c in self.taps():
            c6[:, out_r, out_c, :, i, j] = x[n0:n1, :, in_r, in_c].transpose(0, 2, 3, 1)

    def scatter(self, res, dx, n0: int, n1: int):
        """``dx[n0 + n, c, in_t(p)] = res[n, p, (c, t)]`` (``res``: ``(m*P, Q)``); other positions untouched."""
        m = n1 - n0
        if self.word is not None:
            dt, out_c, in_c = self.word
            dw = dx[n0:n1].view(dt)
            rw = res[:m * self.p].view(dt).reshape(m, self.ho, self.wo, self.c, self.kh)
            if self.block is not None:  # one copy for the chunk, iterated in res's order (the fastest)
                out_r, in_r = self.block
                blocks = dw.reshape(m, self.c, self.h // self.kh, self.kh, dw.shape[3])
                blocks[:, :, in_r, :, in_c].transpose(0, 2, 4, 1, 3)[...] = rw[:, out_r, out_c]
                return
            for i, out_r, in_r in self.row_taps():
                dw[:, :, in_r, in_c] = rw[:, out_r, out_c, :, i].transpose(0, 3, 1, 2)
            return
        r6 = res[:m * self.p].reshape(m, self.ho, self.wo, self.c, self.kh, self.kw)
        for i, j, out_r, out_c, in_r, in_c in self.taps():
            dx[n0:n1, :, in_r, in_c] = r6[:, out_r, out_c, :, i, j].transpose(0, 3, 1, 2)

    def channel_major(self, grad, n0: int, n1: int, part: int, ones: bool = False):
        """``grad[n0:n1] (m, O, Ho, Wo)`` as ``(g, O/g, m*P)`` (with ``ones``: ``(g, O/g + 1, m*P)``, a last
        row of ones per group, the bias row of the transposed GEMM)."""
        m, og = n1 - n0, self.og
        rows = og + 1 if ones else og
        buf = workspaces.get(("disjoint.gcm", self.key, part, ones), (self.g, rows, self.nb * self.p),
                             grad.dtype)
        cm = buf[:, :, :m * self.p]
        cm[:, :og].reshape(self.g, og, m, self.p)[...] = \
            grad[n0:n1].reshape(m, self.g, og, self.p).transpose(1, 2, 0, 3)
        if ones:
            cm[:, og] = 1
        return cm


def _run_chunks(step, n: int, nb: int, nbytes: int) -> list:
    """``[step(part, n0, n1) for each chunk of nb samples]`` in chunk order. The chunks are handed out in turn
    to the parts' threads (``window.run_parts``), so a thread slowed by another process takes fewer of them;
    ``part`` names the thread's work buffers. Per-chunk results reduced in chunk order do not depend on
    which thread ran which chunk: bit-identical with one worker or two."""
    bounds = [(n0, min(n, n0 + nb)) for n0 in range(0, n, nb)]
    results = [None] * len(bounds)
    tickets = itertools.count()  # next() on it is atomic under the GIL

    def work(part, _chunks):
        for k in iter(tickets.__next__, None):
            if k >= len(bounds):
                return
            results[k] = step(part, *bounds[k])

    run_parts(work, split_chunks(n, nb), nbytes)
    return results


def forward(x, w, geo, out_hw, bias=None, grad_weight_from=None):
    """``y = conv(x, w) (+ bias)``; with ``grad_weight_from`` (shaped like ``y``) also
    ``dW = sum G @ cols(x)`` from the same columns, returning ``(y, dW)``."""
    x = np.ascontiguousarray(x)
    lay = _Layout(x.shape, w.shape, geo, out_hw, x.dtype)
    g, og, qg, p = lay.g, lay.og, lay.qg, lay.p
    out = np.empty((lay.n, lay.o) + tuple(out_hw), dtype=x.dtype)
    weight = w.reshape(g, og, qg)

    def step(part, n0, n1):
        m = n1 - n0
        cols = lay.columns(part)
        lay.gather(x, n0, n1, cols)
        c = cols[:m * p]
        res = workspaces.get(("disjoint.out", lay.key, part), (lay.nb * p, lay.o), x.dtype)[:m * p]
        # (m*P, O) = cols @ W^T: one GEMM per group (BLAS's fastest orientation here)
        np.matmul(c.reshape(m * p, g, qg).transpose(1, 0, 2), weight.transpose(0, 2, 1),
                  out=res.reshape(m * p, g, og).transpose(1, 0, 2))
        valid = res.reshape(m, p, lay.o).transpose(0, 2, 1)
        dest = out[n0:n1].reshape(m, lay.o, p)
        if bias is None:
            dest[...] = valid
        else:
            np.add(valid, bias.reshape(-1, 1), out=dest)
        if grad_weight_from is None:
            return None
        gcm = lay.channel_major(grad_weight_from, n0, n1, part)
        return np.matmul(gcm, c.reshape(m * p, g, qg).transpose(1, 0, 2))

    done = _run_chunks(step, lay.n, lay.nb, x.nbytes + out.nbytes)
    if grad_weight_from is None:
        return out
    return out, sum_in_order(done, empty=np.zeros((g, og, qg), x.dtype)).reshape(w.shape)


def backward(x, grad, w, geo, x_shape, w_shape, need_input=True, need_weight=True, bias=None):
    """``(dx, dW)`` of ``conv(x, w)`` from the output gradient (None where not needed): ``dx`` is the
    transposed conv of ``grad`` (``+ bias[c]`` when given: conv_transpose2d's forward), ``dW = sum G @ cols(x)``."""
    grad = np.asarray(grad)
    if need_weight:
        x = np.ascontiguousarray(x)
    lay = _Layout(x_shape, w_shape, geo, grad.shape[2:], grad.dtype)
    g, og, qg, p = lay.g, lay.og, lay.qg, lay.p
    dx = wa = fill = None
    ones = need_input and bias is not None
    if need_input:
        dx = np.empty(x_shape, dtype=grad.dtype)
        wa = w.reshape(g, og, qg)
        if ones:  # [W; b] per group
            wa = np.concatenate([wa, np.repeat(bias.reshape(g, 1, -1), lay.kh * lay.kw, axis=2)], axis=1)
        fill = 0 if bias is None else bias.reshape(-1, 1, 1)

    def step(part, n0, n1):
        m = n1 - n0
        gcm = lay.channel_major(grad, n0, n1, part, ones=ones)
        dw = None
        if need_weight:
            cols = lay.columns(part)
            lay.gather(x, n0, n1, cols)
            dw = np.matmul(gcm[:, :og], cols[:m * p].reshape(m * p, g, qg).transpose(1, 0, 2))
        if need_input:
            res = workspaces.get(("disjoint.res", lay.key, part), (lay.nb * p, lay.q), grad.dtype)[:m * p]
            np.matmul(gcm.transpose(0, 2, 1), wa, out=res.reshape(m * p, g, qg).transpose(1, 0, 2))
            if not lay.covered:
                dx[n0:n1] = fill
            lay.scatter(res, dx, n0, n1)
        return dw

    done = _run_chunks(step, lay.n, lay.nb, 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    return dx, (sum_in_order(done, empty=np.zeros((g, og, qg), grad.dtype)).reshape(w_shape) if need_weight else None)
