"""Vectorized resampling and filtering on batches: the kernels every geometric transform shares.

Coordinates are in pixels with pixel centres at integers: ``x`` in ``[0, W-1]`` across, ``y`` in
``[0, H-1]`` down. A warp gives, for every output pixel of every sample, the input position to read
(``xs, ys`` of shape ``(N, Ho, Wo)``); one gather per bilinear corner then reads the whole batch.
"""
from __future__ import annotations

import numpy as np


def _corner_index(xs: np.ndarray, ys: np.ndarray, h: int, w: int, stride: int):
    """Clip positions into [-1, W] x [-1, H] (outside the image they then read the fill border) and return
    the flat index of the top-left corner in an image padded by 1 before and 2 after, plus the fractions."""
    xs = np.minimum(np.maximum(xs, np.float32(-1.0)), np.float32(w))
    ys = np.minimum(np.maximum(ys, np.float32(-1.0)), np.float32(h))
    x0, y0 = np.floor(xs), np.floor(ys)
    index = (y0.astype(np.int32) + 1) * stride + (x0.astype(np.int32) + 1)
    return index, xs - x0, ys - y0


def _batch_offsets(n: int, c: int, plane: int) -> np.ndarray:
    """Flat offsets (N, C, 1) of every sample's channel planes in an (N, C, plane) array."""
    dtype = np.int32 if n * c * plane < 2**31 else np.int64
    return (np.arange(n * c, dtype=dtype) * plane).reshape(n, c, 1)


def sample_bilinear(images: np.ndarray, xs: np.ndarray, ys: np.ndarray, fill: float = 0.0,
                    padding: str = "zeros") -> np.ndarray:
    """Bilinear read of ``images`` (N, C, H, W) at ``(xs, ys)`` (N, Ho, Wo) -> (N, C, Ho, Wo).

    ``padding='zeros'``: positions outside the image read ``fill`` (blended at the border, like
    ``grid_sample(padding_mode='zeros', align_corners=True)`` when fill is 0); ``'border'``: positions
    are clamped to the edge. Four flat gathers (one per corner) serve the whole batch.
    """
    n, c, h, w = images.shape
    ho, wo = xs.shape[1:]
    xs, ys = xs.astype(np.float32, copy=False), ys.astype(np.float32, copy=False)
    if padding == "border":
        xs = np.minimum(np.maximum(xs, np.float32(0.0)), np.float32(w - 1))
        ys = np.minimum(np.maximum(ys, np.float32(0.0)), np.float32(h - 1))
    stride = w + 3
    padded = np.pad(images, ((0, 0), (0, 0), (1, 2), (1, 2)), constant_values=fill).ravel()
    index, fx, fy = _corner_index(xs, ys, h, w, stride)
    index = index.reshape(n, 1, ho * wo) + _batch_offsets(n, c, (h + 3) * stride)
    fx = fx.reshape(n, 1, ho * wo).astype(images.dtype, copy=False)
    fy = fy.reshape(n, 1, ho * wo).astype(images.dtype, copy=False)
    a, b = padded.take(index), padded.take(index + 1)
    top = a + fx * (b - a)
    index += stride
    a, b = padded.take(index), padded.take(index + 1)
    bottom = a + fx * (b - a)
    return (top + fy * (bottom - top)).reshape(n, c, ho, wo)


def sample_nearest(masks: np.ndarray, xs: np.ndarray, ys: np.ndarray, fill: int = 0,
                   padding: str = "zeros") -> np.ndarray:
    """Nearest-neighbour read of ``masks`` (N, H, W) at ``(xs, ys)``; outside reads ``fill`` (class 0)."""
    n, h, w = masks.shape
    xs, ys = xs.astype(np.float32, copy=False), ys.astype(np.float32, copy=False)
    if padding == "border":
        xs = np.minimum(np.maximum(xs, np.float32(0.0)), np.float32(w - 1))
        ys = np.minimum(np.maximum(ys, np.float32(0.0)), np.float32(h - 1))
    stride = w + 3
    padded = np.pad(masks, ((0, 0), (1, 2), (1, 2)), constant_values=fill).ravel()
    index, fx, fy = _corner_index(xs, ys, h, w, stride)
    # round half up: step to the right/lower neighbour where the fraction reaches one half
    index += (fx >= 0.5).astype(index.dtype) + (fy >= 0.5).astype(index.dtype) * stride
    index = index.reshape(n, -1) + _batch_offsets(n, 1, (h + 3) * stride)[:, 0]
    return padded.take(index).reshape(xs.shape)


def pixel_grid(h: int, w: int, dtype=np.float32):
    """Output pixel coordinates ``(x, y)``, each shaped (1, H, W) to broadcast against per-sample params."""
    ys, xs = np.mgrid[0:h, 0:w].astype(dtype)
    return xs[None], ys[None]


def affine_matrices(angle, scale, shear_x, shear_y) -> np.ndarray:
    """Forward 2x2 matrices (N, 2, 2): ``A = R(angle) @ Shx @ Shy * scale``, angles in degrees.

    ``R(a) = [[cos a, sin a], [-sin a, cos a]]`` in image coordinates (y down) turns content
    counter-clockwise as displayed (like ``np.rot90`` for ``a = 90``); ``Shx = [[1, tan sx], [0, 1]]``,
    ``Shy = [[1, 0], [tan sy, 1]]``.
    """
    a = np.deg2rad(np.asarray(angle, dtype=np.float64))
    cos, sin = np.cos(a), np.sin(a)
    tx, ty = np.tan(np.deg2rad(shear_x)), np.tan(np.deg2rad(shear_y))
    rot = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)
    shx = np.stack([np.stack([np.ones_like(tx), tx], -1), np.stack([np.zeros_like(tx), np.ones_like(tx)], -1)], -2)
    shy = np.stack([np.stack([np.ones_like(ty), np.zeros_like(ty)], -1), np.stack([ty, np.ones_like(ty)], -1)], -2)
    return rot @ shx @ shy * np.asarray(scale, dtype=np.float64)[:, None, None]


def affine_coords(matrices: np.ndarray, translate: np.ndarray, h: int, w: int):
    """Input positions for an affine warp about the image centre ``c = ((W-1)/2, (H-1)/2)``.

    The forward map sends input ``p`` to ``A (p - c) + c + t``; so output pixel ``q`` reads input
    ``A^-1 (q - c - t) + c``. ``matrices`` (N, 2, 2), ``translate`` (N, 2) in pixels ``(tx, ty)``.
    """
    inv = np.linalg.inv(matrices).astype(np.float32)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    gx, gy = pixel_grid(h, w)
    t = translate.astype(np.float32)
    dx = gx - (cx + t[:, 0, None, None])
    dy = gy - (cy + t[:, 1, None, None])
    xs = inv[:, 0, 0, None, None] * dx + inv[:, 0, 1, None, None] * dy + cx
    ys = inv[:, 1, 0, None, None] * dx + inv[:, 1, 1, None, None] * dy + cy
    return xs, ys


def gaussian_kernels(sigma: np.ndarray, radius: int) -> np.ndarray:
    """Normalised 1-D Gaussian kernels (N, 2*radius+1), one per ``sigma``: ``exp(-k^2 / (2 sigma^2))``."""
    taps = np.arange(-radius, radius + 1, dtype=np.float32)
    sigma = np.maximum(np.asarray(sigma, dtype=np.float32), 1e-6)[:, None]
    k = np.exp(-(taps[None] ** 2) / (2 * sigma * sigma))
    return (k / k.sum(axis=1, keepdims=True)).astype(np.float32)


def filter_separable(x: np.ndarray, kernels: np.ndarray, kernels_w: np.ndarray | None = None) -> np.ndarray:
    """Convolve the last two axes of ``x`` (N, ..., H, W) with per-sample 1-D ``kernels`` (N, K) along H and
    ``kernels_w`` (default the same) along W, reflecting at the edges. One loop over the taps; each tap is one
    vectorized multiply-add."""
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    for axis, axis_kernels in ((x.ndim - 2, kernels), (x.ndim - 1, kernels if kernels_w is None else kernels_w)):
        k = axis_kernels.shape[1]
        r = k // 2
        weights = axis_kernels.astype(x.dtype, copy=False)
        size = x.shape[axis]
        widths = [(0, 0)] * x.ndim
        widths[axis] = (r, r)
        padded = np.pad(x, widths, mode="reflect" if size > r else "symmetric")
        out = np.zeros_like(x)
        term = np.empty_like(x)
        for t in range(k):
            window = padded[(slice(None),) * axis + (slice(t, t + size),)]
            np.multiply(window, weights[:, t].reshape(shape), out=term)
            out += term
        x = out
    return x


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Mirror indices into [0, size) the way ``np.pad(mode='reflect')`` does (edge pixel not repeated)."""
    if size == 1:
        return np.zeros_like(index)
    period = 2 * (size - 1)
    index = np.abs(index) % period
    return np.where(index >= size, period - index, index)


def gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """The (size, size) float32 matrix of a 1-D Gaussian blur (std ``sigma``, radius ``ceil(3 sigma)``, reflected
    edges): ``blur(x) = G @ x`` along an axis. One loop over the kernel taps."""
    radius = max(1, int(np.ceil(3.0 * sigma)))
    taps = np.arange(-radius, radius + 1)
    weights = np.exp(-(taps ** 2) / (2.0 * sigma * sigma))
    weights /= weights.sum()
    rows = np.arange(size)
    matrix = np.zeros((size, size), dtype=np.float64)
    for k, wk in zip(taps, weights):
        np.add.at(matrix, (rows, _reflect(rows + k, size)), wk)
    return matrix.astype(np.float32)


def gaussian_smooth(field: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing (std ``sigma`` pixels, reflected edges) of the last two axes of ``field`` as two
    small matrix products, ``G_h @ field @ G_w^T``: BLAS does the whole batch at once."""
    h, w = field.shape[-2:]
    return gaussian_matrix(h, sigma) @ field @ gaussian_matrix(w, sigma).T
