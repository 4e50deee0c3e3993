"""Winograd F(2x2, 3x3) for dense 3x3 stride-1 convolutions (any padding and dilation).

Each 2x2 output tile comes from a 4x4 input tile ``d`` through 16 elementwise products, summed over the
input channels as 16 GEMMs (2.25x fewer multiplies than the direct form's 36 per tile)::

    U = G g G^T  (per o, c)      V = B^T d B  (per c, tile)      M[xi] = U[xi] (O, C) @ V[xi] (C, tiles)
    Y = A^T M A  (per o, tile)

    B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
          [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
          [0 -1  1  0]         [1/2 -1/2  1/2]
          [0  1  0 -1]         [ 0    0    1 ]

Gradients (``Y`` is linear in ``M``, ``M`` in ``U`` and ``V``): ``dM = A dY A^T``, then
``dU[xi] = sum_tiles dM[xi] V[xi]^T`` and ``dg = G^T dU G``, and ``dV[xi] = U[xi]^T dM[xi]`` taken back through
the adjoint of ``B^T d B`` (``dd = B dV B^T``, overlapping tiles summed) for the input gradient. A dilation
``d`` splits the output into ``d x d`` phase grids, each a dense 3x3 conv of the input's matching phase grid.

Layout: the padded input is read as ``2dh x 2dw`` phase planes ``P[r, s][ty, tx] = x_pad[2dh*ty + r, 2dw*tx + s]``
on a ``(Th + 1) x (Tw + 1)`` tile grid, flattened per channel with all samples of a chunk back to back and all
channels in one flat row, so every tile element is a plane shifted by ``0``, ``1``, ``Wt`` or ``Wt + 1`` and each
transform step is one long contiguous ufunc pass. Tiles in the last grid row and column (and past a sample's
block) are throw-away: a valid tile never reads outside its own sample's block. Planes are filled in two passes
with long inner loops (row phases as whole padded rows, then one strided pass per column phase) and emptied
(input gradient, output tiles) the same way back: a direct gather moves rows of ``Wt`` elements at a stride,
2-4x slower per element in NumPy (W4, dilation 2: 16 planes of 17x17; fwd+bwd 32.8 -> 29.7 ms in an A/B).
"""
from __future__ import annotations

import numpy as np

from .window import part_chunk, run_parts, split_chunks, sum_in_order, tap_range, workspaces

CHUNK_BYTES = 6 << 20
"""Target work-buffer size per chunk of samples (the transformed tiles are 4x the data)."""

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_AT = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]])


MAX_SAMPLE_BYTES = 48 << 20
"""Larger images (one sample's transformed tiles beyond this) take the direct path, whose buffers are smaller."""

MAX_TILE_WASTE = 1.2
"""Tiles computed per useful tile (the grid's spare row and column, odd sizes) at most: small images take the
direct path (measured, fwd+bwd against it: 28x28 0.89x, 56x56 0.97x, but 14x14 1.05-1.17x, 7x7 1.3x)."""


def usable(x_shape, w_shape, geo, out_hw) -> bool:
    """Dense (``groups == 1``) 3x3 stride-1 convs with enough channels that the 2.25x fewer multiplies pay
    for the transforms (about ``6*C + 6*O`` elementwise operations per output pixel), on images large enough
    that few tiles are wasted (:data:`MAX_TILE_WASTE`) and small enough for the buffers (:data:`MAX_SAMPLE_BYTES`)."""
    o, c = w_shape[:2]
    if not (tuple(w_shape[2:]) == (3, 3) and tuple(geo.stride) == (1, 1) and geo.groups == 1
            and min(c, o) >= 16 and c * o >= 1024 and min(out_hw) >= 2 and len(x_shape) == 4):
        return False
    grid = _Grid(c, x_shape[2], x_shape[3], out_hw[0], out_hw[1], 0, 0, *geo.dilation)
    waste = grid.g * grid.dh * grid.dw / (out_hw[0] * out_hw[1] / 4)
    return waste <= MAX_TILE_WASTE and _sample_bytes(grid, o, 4) <= MAX_SAMPLE_BYTES


class _Grid:
    """Tile-grid geometry of one conv: input ``(C, H, W)`` padded by ``(pt, pl)``, output ``(Ho, Wo)``, dilation."""

    def __init__(self, c, h, w, ho, wo, pt, pl, dh, dw):
        self.c, self.h, self.w, self.ho, self.wo = c, h, w, ho, wo
        self.pt, self.pl, self.dh, self.dw = pt, pl, dh, dw
        self.sh, self.sw = 2 * dh, 2 * dw                       # plane strides
        self.th, self.tw = -(-ho // self.sh), -(-wo // self.sw)  # tiles per phase grid (the most any phase has)
        self.wt = self.tw + 1                                  # plane row length
        self.g = (self.th + 1) * self.wt                       # plane size: one sample's block

    @property
    def key(self):
        return (self.c, self.h, self.w, self.ho, self.wo, self.pt, self.pl, self.dh, self.dw)


def _phase_rows(size: int, count: int, pad: int, step: int):
    """Per row phase ``r`` in ``range(step)``: ``(r, first grid row, grid rows, first input row)``: the input
    rows ``i`` with ``(i + pad) % step == r`` that land on grid rows ``(i + pad) // step < count``."""
    for r in range(step):
        lo, hi, first = tap_range(size, count, r - pad, step)
        if hi > lo:
            yield r, lo, hi - lo, first


def _split_rows(rows, src, n0: int, n1: int, pad_top: int, pad_left: int, step: int) -> None:
    """``rows[r, :, b, t, pad_left + j] = src[n0 + b, :, step*t + r - pad_top, j]``: each row phase of the
    samples, padded rows kept whole (so every copy moves whole rows; the padding is never written)."""
    count, width = rows.shape[3], rows.shape[4]
    cols = min(src.shape[3], width - pad_left)
    for r, t0, k, i0 in _phase_rows(src.shape[2], count, pad_top, step):
        rows[r, :, :n1 - n0, t0:t0 + k, pad_left:pad_left + cols] = \
            src[n0:n1, :, i0:i0 + (k - 1) * step + 1:step, :cols].transpose(1, 0, 2, 3)


def _merge_rows(rows, dst, n0: int, n1: int, pad_top: int, pad_left: int, step: int) -> None:
    """The inverse of :func:`_split_rows`: ``dst[n0:n1]``'s pixels from the row phases."""
    count, width = rows.shape[3], rows.shape[4]
    cols = min(dst.shape[3], width - pad_left)
    for r, t0, k, i0 in _phase_rows(dst.shape[2], count, pad_top, step):
        dst[n0:n1, :, i0:i0 + (k - 1) * step + 1:step, :cols] = \
            rows[r, :, :n1 - n0, t0:t0 + k, pad_left:pad_left + cols].transpose(1, 0, 2, 3)


def _column_phases(rows, step: int):
    """``rows (sh, ..., Wt*step)`` as ``(step, sh, L)``: column phase ``s`` of every row (a strided view)."""
    return rows.reshape(rows.shape[0], -1, step).transpose(2, 0, 1)


def _load_planes(buf, rows, x, n0, n1, grid: _Grid, lb: int) -> None:
    """Samples ``n0:n1`` of ``x`` into the ``sh*sw`` phase planes of ``buf`` (zero where padding) in two
    passes with long inner loops: the row phases (whole padded rows, into ``rows``), then all column phases in
    one strided copy (each plane a stride-``sw`` read of its row phase). A direct gather of each plane copies
    rows of ``Wt`` elements at a stride, which NumPy runs 2-4x slower per element."""
    _split_rows(rows, x, n0, n1, grid.pt, grid.pl, grid.sh)
    dest = buf[:, :grid.c * lb].reshape(grid.sh, grid.sw, -1).transpose(1, 0, 2)
    np.copyto(dest, _column_phases(rows, grid.sw))


def _unload_planes(buf, rows, dx, n0, n1, grid: _Grid, lb: int) -> None:
    """The inverse of :func:`_load_planes`: the input pixels' entries of the phase planes into ``dx[n0:n1]``."""
    planes = buf[:, :grid.c * lb].reshape(grid.sh, grid.sw, -1)
    phases = _column_phases(rows, grid.sw)
    for s in range(grid.sw):  # one pass per column phase: the destination's inner loop stays long
        np.copyto(phases[s], planes[:, s])
    _merge_rows(rows, dx, n0, n1, grid.pt, grid.pl, grid.sh)


def _covers_input(grid: _Grid) -> bool:
    """Whether the phase planes hold every input pixel (else the input gradient starts from zeros)."""
    rows = sum(k for _, _, k, _ in _phase_rows(grid.h, grid.th + 1, grid.pt, grid.sh))
    return rows == grid.h and grid.wt * grid.sw - grid.pl >= grid.w


def _tile_grid(buf, dh: int, dw: int):
    """``buf (dh, dw, 2, 2, L)`` (tile output ``(i, j)`` of dilation phase ``(a, b)``) as ``(2, dh, L, 2, dw)``
    ``[i, a, :, j, b]``: output row phase ``dh*i + a``, column phase ``dw*j + b``."""
    return buf.transpose(2, 0, 4, 3, 1)


def _input_transform(planes, a, b, grid: _Grid, n, rows, v) -> None:
    """``V = B^T d B`` of dilation phase ``(a, b)`` into ``v (16, n)`` (``n`` = channels * block length).

    The tile's two row phases (``a``, ``dh + a``) and two column phases (``b``, ``dw + b``) are a strided
    ``(2, 2)`` view of the planes, so each step covers several: 6 NumPy calls (fewer GIL hand-overs between
    the two batch halves), not 8."""
    wt, k = grid.wt, n + 1
    p = planes.reshape(grid.sh, grid.sw, -1)[a::grid.dh][:2][:, b::grid.dw][:, :2]  # [u, s]: phase (a+u*dh, b+s*dw)
    np.subtract(p[:, :, :k], p[:, :, wt:wt + k], out=rows[0::3])  # d0 - d2 and d1 - d3
    np.add(p[1, :, :k], p[0, :, wt:wt + k], out=rows[1])          # d1 + d2
    np.subtract(p[0, :, wt:wt + k], p[1, :, :k], out=rows[2])     # d2 - d1
    v4 = v.reshape(4, 4, -1)  # columns 0/2 (row phase e) and 1/3 (f) of every row combination
    np.subtract(rows[:, :, :n], rows[:, :, 1:n + 1], out=v4[:, 0::3])  # e - e' and f - f'
    np.add(rows[:, 1, :n], rows[:, 0, 1:n + 1], out=v4[:, 1])           # f + e'
    np.subtract(rows[:, 0, 1:n + 1], rows[:, 1, :n], out=v4[:, 2])      # e' - f


def _weight_transform(w):
    """``U[xi] = G g G^T`` as ``(16, O, C)``."""
    g = _G.astype(w.dtype)
    u = np.einsum("ki,ocij,lj->kloc", g, w, g, optimize=True)
    return np.ascontiguousarray(u.reshape(16, w.shape[0], w.shape[1]))


def _sample_bytes(grid: _Grid, o: int, itemsize: int) -> int:
    """One sample's work buffers: phase planes, row sums and ``V`` (``4*d^2 + 24`` per input channel), ``M``,
    the row stage and ``Y`` (25 per output channel), per tile."""
    return (grid.sh * grid.sw * grid.c + 24 * grid.c + 25 * o) * grid.g * itemsize


def _chunk(n: int, grid: _Grid, o: int, itemsize: int) -> int:
    return part_chunk(n, max(1, CHUNK_BYTES // _sample_bytes(grid, o, itemsize)))


def forward(x, w, geo, out_hw, bias=None):
    """``conv2d(x, w, bias)`` for a 3x3 stride-1 dense conv (:func:`usable`), padding ``geo.padding``."""
    n, c, h, wd = x.shape
    o = w.shape[0]
    (dh, dw), (pt, pl) = geo.dilation, geo.padding
    grid = _Grid(c, h, wd, out_hw[0], out_hw[1], pt, pl, dh, dw)
    return _forward(x, _weight_transform(w), grid, o, bias)


def _forward(x, u, grid: _Grid, o: int, bias):
    n, c = x.shape[:2]
    out = np.empty((n, o, grid.ho, grid.wo), dtype=x.dtype)
    nb = _chunk(n, grid, o, x.itemsize)
    lb = nb * grid.g
    dt = x.dtype
    at = _AT.astype(dt)

    def work(part, chunks):
        planes = workspaces.get(("wino.x", grid.key, nb, part), (grid.sh * grid.sw, c * lb + grid.wt + 2), dt,
                                zero=True)
        xrows = workspaces.get(("wino.xrows", grid.key, nb, part), _rows_shape(grid, c, nb), dt, zero=True)
        rows = workspaces.get(("wino.rows", part), (4, 2, c * lb + 1), dt)
        v = workspaces.get(("wino.v", part), (16, c * lb), dt)
        mm = workspaces.get(("wino.m", part), (16, o * lb), dt)
        t = workspaces.get(("wino.t", part), (2, 4, o * lb), dt)
        y = workspaces.get(("wino.y", part), (grid.dh, grid.dw, 2, 2, o * lb), dt)
        yrows = workspaces.get(("wino.yrows", part), _rows_shape(grid, o, nb), dt)
        for n0, n1 in chunks:
            _load_planes(planes, xrows, x, n0, n1, grid, lb)
            for a in range(grid.dh):
                for b in range(grid.dw):
                    _input_transform(planes, a, b, grid, c * lb, rows, v)
                    np.matmul(u, v.reshape(16, c, lb), out=mm.reshape(16, o, lb))
                    if bias is not None:  # M[1, 1] reaches all four outputs of a tile with weight +1
                        mm[5].reshape(o, lb)[...] += bias.reshape(o, 1)
                    _output_transform(mm, t, y[a, b], at)
            _store_tiles(y, yrows, out, n0, n1, grid)

    run_parts(work, split_chunks(n, nb), x.nbytes + out.nbytes)
    return out


def _rows_shape(grid: _Grid, channels: int, nb: int) -> tuple:
    """The row-phase buffer of :func:`_split_rows` for a chunk: ``(sh, channels, nb, Th + 1, Wt*sw)``."""
    return grid.sh, channels, nb, grid.th + 1, grid.wt * grid.sw


def _output_transform(mm, t, y, at) -> None:
    """``Y = A^T M A`` into ``y (2, 2, L)``: both stages are BLAS products with the 2x4 ``A^T`` (one streaming
    pass each: half the memory traffic of the eight elementwise passes they replace)."""
    np.matmul(at, mm.reshape(4, -1), out=t.reshape(2, -1))  # rows: T[i, l] = sum_k A^T[i, k] M[k, l]
    np.matmul(at, t, out=y)                                  # columns: Y[i, j] = sum_l A^T[j, l] T[i, l]


def _store_tiles(y, yrows, out, n0, n1, grid: _Grid) -> None:
    """The tiles of every dilation phase (``y (dh, dw, 2, 2, L)``) into ``out[n0:n1]``: output pixel
    ``(sh*ty + dh*i + a, sw*tx + dw*j + b)`` is ``y[a, b, i, j]`` at tile ``(ty, tx)``; through the row phases
    (one pass per column phase, then whole rows), as :func:`_unload_planes`."""
    phases = _column_phases(yrows, grid.sw)
    tiles = _tile_grid(y, grid.dh, grid.dw)  # [i, a, :, j, b]
    for s in range(grid.sw):
        j, b = divmod(s, grid.dw)
        np.copyto(phases[s].reshape(2, grid.dh, -1), tiles[:, :, :, j, b])
    _merge_rows(yrows, out, n0, n1, 0, 0, grid.sh)


def backward(x, grad, w, geo, x_shape, w_shape, need_input=True, need_weight=True):
    """``(dx, dW)`` in one pass over the batch, both from ``dM = A dY A^T`` (the output gradient's tiles):

    ``dW = G^T dU G`` with ``dU[xi] = sum_tiles dM[xi] V[xi]^T``; ``dx`` = the adjoint of the input transform
    applied to ``dV[xi] = U[xi]^T dM[xi]`` (shifted adds back onto the phase planes, then a strided copy out)."""
    n, c, h, wd = x_shape
    o = w_shape[0]
    (dh, dw), (pt, pl) = geo.dilation, geo.padding
    ho, wo = grad.shape[2:]
    grid = _Grid(c, h, wd, ho, wo, pt, pl, dh, dw)
    nb = _chunk(n, grid, o, grad.itemsize)
    lb = nb * grid.g
    dt = grad.dtype
    ut = np.ascontiguousarray(_weight_transform(w).transpose(0, 2, 1)) if need_input else None
    dx = None
    if need_input:
        dx = np.empty(x_shape, dtype=dt) if _covers_input(grid) else np.zeros(x_shape, dtype=dt)

    def work(part, chunks):
        dy = workspaces.get(("wino.dy", part), (dh, dw, 2, 2, o * lb), dt)
        grows = workspaces.get(("wino.gyrows", grid.key, o, nb, part), _rows_shape(grid, o, nb), dt, zero=True)
        half = workspaces.get(("wino.dmrows", part), (4, 2, o * lb), dt)
        dm = workspaces.get(("wino.dm", part), (16, o * lb), dt)
        rows = workspaces.get(("wino.rows", part), (4, 2, c * lb + 1), dt)
        v = workspaces.get(("wino.v", part), (16, c * lb), dt)
        planes = total = None
        if need_weight:
            total = np.zeros((16, o, c), dtype=dt)
            planes = workspaces.get(("wino.x", grid.key, nb, part), (grid.sh * grid.sw, c * lb + grid.wt + 2), dt,
                                    zero=True)
            xrows = workspaces.get(("wino.xrows", grid.key, nb, part), _rows_shape(grid, c, nb), dt, zero=True)
        if need_input:
            dplanes = workspaces.get(("wino.dx", part), (grid.sh * grid.sw, c * lb + grid.wt + 2), dt)
            dxrows = workspaces.get(("wino.dxrows", part), _rows_shape(grid, c, nb), dt)
            tmp = workspaces.get(("wino.tmp", part), (4, c * lb + 1), dt)
        a_mat = _AT.T.astype(dt)
        for n0, n1 in chunks:
            m = n1 - n0
            _load_grad_tiles(dy, grows, grad, n0, n1, grid)
            if need_weight:
                _load_planes(planes, xrows, x, n0, n1, grid, lb)
            span = m * grid.g
            for a in range(dh):
                for b in range(dw):
                    # dM = A dY A^T: rows then columns, each one BLAS product with the 4x2 A
                    np.matmul(a_mat, dy[a, b].reshape(2, -1), out=half.reshape(4, -1))
                    np.matmul(a_mat, half, out=dm.reshape(4, 4, -1))
                    if need_weight:
                        _input_transform(planes, a, b, grid, c * lb, rows, v)
                        total += np.matmul(dm.reshape(16, o, lb)[:, :, :span],
                                           v.reshape(16, c, lb)[:, :, :span].transpose(0, 2, 1))
                    if need_input:
                        np.matmul(ut, dm.reshape(16, o, lb), out=v.reshape(16, c, lb))  # dV = U^T dM
                        _input_transform_adjoint(v, a, b, grid, c * lb, rows, tmp, dplanes)
            if need_input:
                _unload_planes(dplanes, dxrows, dx, n0, n1, grid, lb)
        return total

    totals = run_parts(work, split_chunks(n, nb), 2 * grad.nbytes + (x.nbytes if need_weight else 0))
    if not need_weight:
        return dx, None
    du = sum_in_order(totals)
    g = _G.astype(dt)
    return dx, np.ascontiguousarray(np.einsum("ki,kloc,lj->ocij", g, du.reshape(4, 4, o, c), g, optimize=True))


def _input_transform_adjoint(dv, a, b, grid: _Grid, n, rows, tmp, dplanes) -> None:
    """The adjoint of :func:`_input_transform`: ``dv (16, n)`` back onto dilation phase ``(a, b)``'s four phase
    planes of ``dplanes`` (assigned, not accumulated: every plane belongs to one phase). A shift ``+1`` / ``+wt``
    in the forward becomes an add into the region shifted by as much."""
    wt, sw, k = grid.wt, grid.sw, n + 1
    d4 = dv.reshape(4, 4, -1)
    e, f, t = rows[:, 0], rows[:, 1], tmp[:, :n]  # gradients of the row sums' column phases 0 and 1
    # V0 = e - e'   V1 = f + e'   V2 = e' - f   V3 = f - f'   (' = shifted by one column)
    np.add(d4[:, 1], d4[:, 2], out=t)
    np.subtract(t, d4[:, 0], out=t)
    e[:, :n] = d4[:, 0]
    e[:, n] = 0
    np.add(e[:, 1:], t, out=e[:, 1:])
    np.subtract(d4[:, 1], d4[:, 2], out=f[:, :n])
    np.add(f[:, :n], d4[:, 3], out=f[:, :n])
    f[:, n] = 0
    np.subtract(f[:, 1:], d4[:, 3], out=f[:, 1:])
    # rows: R0 = p0 - p0''   R1 = p1 + p0''   R2 = p0'' - p1   R3 = p1 - p1''   ('' = shifted by one tile row)
    p0 = dplanes[a * sw + b::grid.dw][:2]
    p1 = dplanes[(grid.dh + a) * sw + b::grid.dw][:2]
    t = tmp[:2, :k]
    np.add(rows[1], rows[2], out=t)
    np.subtract(t, rows[0], out=t)
    p0[:, :k] = rows[0]
    p0[:, k:k + wt] = 0
    np.add(p0[:, wt:wt + k], t, out=p0[:, wt:wt + k])
    np.subtract(rows[1], rows[2], out=p1[:, :k])
    np.add(p1[:, :k], rows[3], out=p1[:, :k])
    p1[:, k:k + wt] = 0
    np.subtract(p1[:, wt:wt + k], rows[3], out=p1[:, wt:wt + k])


def _load_grad_tiles(dy, grows, grad, n0, n1, grid: _Grid) -> None:
    """The output gradient's 2x2 tiles of every dilation phase: ``dY[i, j]`` of phase ``(a, b)`` into
    ``dy[a, b, i, j]`` (zero past the output), through the row phases as :func:`_load_planes`."""
    _split_rows(grows, grad, n0, n1, 0, 0, grid.sh)
    phases = _column_phases(grows, grid.sw)
    tiles = _tile_grid(dy, grid.dh, grid.dw)  # [i, a, :, j, b]
    for s in range(grid.sw):
        j, b = divmod(s, grid.dw)
        np.copyto(tiles[:, :, :, j, b], phases[s].reshape(2, grid.dh, -1))
