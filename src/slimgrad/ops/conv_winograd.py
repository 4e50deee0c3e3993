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
block) are throw-away: a valid tile never reads outside its own sample's block.
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


def _plane_pixels(grid: _Grid):
    """Per phase plane holding input pixels: ``(index, plane rows, plane columns, input rows, input columns)``,
    the slices that pair the plane's entries with the input pixels they hold."""
    for r in range(grid.sh):
        r0, r1, fr = tap_range(grid.h, grid.th + 1, r - grid.pt, grid.sh)
        if r1 <= r0:
            continue
        for s in range(grid.sw):
            c0, c1, fc = tap_range(grid.w, grid.wt, s - grid.pl, grid.sw)
            if c1 > c0:
                yield (r * grid.sw + s, slice(r0, r1), slice(c0, c1),
                       slice(fr, fr + (r1 - r0 - 1) * grid.sh + 1, grid.sh),
                       slice(fc, fc + (c1 - c0 - 1) * grid.sw + 1, grid.sw))


def _planes_view(buf, index: int, grid: _Grid, lb: int):
    """Plane ``index`` of ``buf`` as ``(C, nb, Th + 1, Wt)``."""
    return buf[index, :grid.c * lb].reshape(grid.c, lb // grid.g, grid.th + 1, grid.wt)


def _load_planes(buf, x, n0, n1, grid: _Grid, lb: int) -> None:
    """Copy samples ``n0:n1`` of ``x`` into the ``sh*sw`` phase planes of ``buf`` (zero where padding)."""
    m = n1 - n0
    for index, pr, pc, xr, xc in _plane_pixels(grid):
        _planes_view(buf, index, grid, lb)[:, :m, pr, pc] = x[n0:n1, :, xr, xc].transpose(1, 0, 2, 3)


def _input_transform(planes, a, b, grid: _Grid, n, rows, v) -> None:
    """``V = B^T d B`` of dilation phase ``(a, b)`` into ``v (16, n)`` (``n`` = channels * block length).

    The tile's two column phases (``b`` and ``dw + b``) are planes ``dw`` apart, so each step covers both."""
    wt, sw, k = grid.wt, grid.sw, n + 1
    p0 = planes[a * sw + b::grid.dw][:2]               # tile rows 0 and 2 (shifted by wt)
    p1 = planes[(grid.dh + a) * sw + b::grid.dw][:2]   # tile rows 1 and 3
    np.subtract(p0[:, :k], p0[:, wt:wt + k], out=rows[0])  # d0 - d2
    np.add(p1[:, :k], p0[:, wt:wt + k], out=rows[1])       # d1 + d2
    np.subtract(p0[:, wt:wt + k], p1[:, :k], out=rows[2])  # d2 - d1
    np.subtract(p1[:, :k], p1[:, wt:wt + k], out=rows[3])  # d1 - d3
    e, f, v4 = rows[:, 0], rows[:, 1], v.reshape(4, 4, -1)  # columns 0/2 and 1/3 of every row combination
    np.subtract(e[:, :n], e[:, 1:n + 1], out=v4[:, 0])
    np.add(f[:, :n], e[:, 1:n + 1], out=v4[:, 1])
    np.subtract(e[:, 1:n + 1], f[:, :n], out=v4[:, 2])
    np.subtract(f[:, :n], f[:, 1:n + 1], out=v4[:, 3])


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
    ho, wo = grid.ho, grid.wo
    out = np.empty((n, o, ho, wo), dtype=x.dtype)
    nb = _chunk(n, grid, o, x.itemsize)
    lb = nb * grid.g
    dt = x.dtype

    def work(part, chunks):
        planes = workspaces.get(("wino.x", grid.key, nb, part), (grid.sh * grid.sw, c * lb + grid.wt + 2), dt,
                                zero=True)
        rows = workspaces.get(("wino.rows", part), (4, 2, c * lb + 1), dt)
        v = workspaces.get(("wino.v", part), (16, c * lb), dt)
        mm = workspaces.get(("wino.m", part), (16, o * lb), dt)
        t = workspaces.get(("wino.t", part), (2, 4, o * lb), dt)
        y = workspaces.get(("wino.y", part), (2, 2, o * lb), dt)
        for n0, n1 in chunks:
            m = n1 - n0
            _load_planes(planes, x, n0, n1, grid, lb)
            for a in range(grid.dh):
                for b in range(grid.dw):
                    _input_transform(planes, a, b, grid, c * lb, rows, v)
                    np.matmul(u, v.reshape(16, c, lb), out=mm.reshape(16, o, lb))
                    if bias is not None:  # M[1, 1] reaches all four outputs of a tile with weight +1
                        mm[5].reshape(o, lb)[...] += bias.reshape(o, 1)
                    _output_transform(mm, t, y, out, n0, m, a, b, grid, o, lb)

    run_parts(work, split_chunks(n, nb), x.nbytes + out.nbytes)
    return out


def _output_transform(mm, t, y, out, n0, m, a, b, grid: _Grid, o, lb) -> None:
    """``Y = A^T M A`` for dilation phase ``(a, b)``, written into ``out[n0:n0+m]``'s matching phase grids.

    Both stages are BLAS products with the 2x4 ``A^T`` (one streaming pass each: half the memory traffic of
    the eight elementwise passes they replace)."""
    at = _AT.astype(mm.dtype, copy=False)
    np.matmul(at, mm.reshape(4, -1), out=t.reshape(2, -1))  # rows: T[i, l] = sum_k A^T[i, k] M[k, l]
    np.matmul(at, t, out=y)                                  # columns: Y[i, j] = sum_l A^T[j, l] T[i, l]
    for i, j, nr, nc, rows, cols in _tile_outputs(grid, a, b):
        tiles = y[i, j].reshape(o, lb // grid.g, grid.th + 1, grid.wt)[:, :m, :nr, :nc]
        out[n0:n0 + m, :, rows, cols] = tiles.transpose(1, 0, 2, 3)


def _tile_outputs(grid: _Grid, a: int, b: int):
    """Dilation phase ``(a, b)``: per tile output ``(i, j)``, ``(i, j, tile rows, tile columns, rows, cols)``:
    how many tile rows / columns fall inside the output, and the output's phase grid they land on."""
    for i in range(2):
        r = grid.dh * i + a
        for j in range(2):
            s = grid.dw * j + b
            yield (i, j, len(range(r, grid.ho, grid.sh)), len(range(s, grid.wo, grid.sw)),
                   slice(r, None, grid.sh), slice(s, None, grid.sw))


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
        dy = workspaces.get(("wino.dy", grid.key, o, nb, part), (dh * dw, 2, 2, o * lb), dt, zero=True)
        half = workspaces.get(("wino.dmrows", part), (4, 2, o * lb), dt)
        dm = workspaces.get(("wino.dm", part), (16, o * lb), dt)
        rows = workspaces.get(("wino.rows", part), (4, 2, c * lb + 1), dt)
        v = workspaces.get(("wino.v", part), (16, c * lb), dt)
        planes = total = None
        if need_weight:
            planes = workspaces.get(("wino.x", grid.key, nb, part), (grid.sh * grid.sw, c * lb + grid.wt + 2), dt,
                                    zero=True)
            total = np.zeros((16, o, c), dtype=dt)
        if need_input:
            dplanes = workspaces.get(("wino.dx", part), (grid.sh * grid.sw, c * lb + grid.wt + 2), dt)
            tmp = workspaces.get(("wino.tmp", part), (4, c * lb + 1), dt)
        a_mat = _AT.T.astype(dt)
        for n0, n1 in chunks:
            m = n1 - n0
            _load_grad_tiles(dy, grad, n0, n1, grid, lb)
            if need_weight:
                _load_planes(planes, x, n0, n1, grid, lb)
            span = m * grid.g
            for a in range(dh):
                for b in range(dw):
                    # dM = A dY A^T: rows then columns, each one BLAS product with the 4x2 A
                    np.matmul(a_mat, dy[a * dw + b].reshape(2, -1), out=half.reshape(4, -1))
                    np.matmul(a_mat, half, out=dm.reshape(4, 4, -1))
                    if need_weight:
                        _input_transform(planes, a, b, grid, c * lb, rows, v)
                        total += np.matmul(dm.reshape(16, o, lb)[:, :, :span],
                                           v.reshape(16, c, lb)[:, :, :span].transpose(0, 2, 1))
                    if need_input:
                        np.matmul(ut, dm.reshape(16, o, lb), out=v.reshape(16, c, lb))  # dV = U^T dM
                        _input_transform_adjoint(v, a, b, grid, c * lb, rows, tmp, dplanes)
            if need_input:
                _unload_planes(dplanes, dx, n0, n1, grid, lb)
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


def _covers_input(grid: _Grid) -> bool:
    """Whether the phase planes hold every input pixel (else the input gradient starts from zeros)."""
    count = sum(len(range(grid.h)[xr]) * len(range(grid.w)[xc]) for _, _, _, xr, xc in _plane_pixels(grid))
    return count == grid.h * grid.w


def _unload_planes(buf, dx, n0, n1, grid: _Grid, lb: int) -> None:
    """The inverse of :func:`_load_planes`: the input pixels' entries of the phase planes into ``dx[n0:n1]``."""
    m = n1 - n0
    for index, pr, pc, xr, xc in _plane_pixels(grid):
        dx[n0:n1, :, xr, xc] = _planes_view(buf, index, grid, lb)[:, :m, pr, pc].transpose(1, 0, 2, 3)


def _load_grad_tiles(dy, grad, n0, n1, grid: _Grid, lb: int) -> None:
    """The output gradient's 2x2 tiles of every dilation phase ``(a, b)``: ``dY[i, j]`` goes to
    ``dy[a*dw + b, i, j]`` (zero past the output)."""
    m, o = n1 - n0, grad.shape[1]
    for a in range(grid.dh):
        for b in range(grid.dw):
            for i, j, nr, nc, rows, cols in _tile_outputs(grid, a, b):
                plane = dy[a * grid.dw + b, i, j].reshape(o, lb // grid.g, grid.th + 1, grid.wt)
                plane[:, :m, :nr, :nc] = grad[n0:n1, :, rows, cols].transpose(1, 0, 2, 3)
