"""Vectorized resampling and filtering on batches: the kernels every geometric transform shares.

Coordinates are in pixels with pixel centres at integers: ``x`` in ``[0, W-1]`` across, ``y`` in
``[0, H-1]`` down. A warp gives, for every output pixel of every sample, the input position to read
(``xs, ys`` of shape ``(N, Ho, Wo)``); one gather per bilinear corner then reads the whole batch.
"""
from __future__ import annotations

import math

import numpy as np


def _gather(flat: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``flat`` (N, C, P), ``idx`` (N, Q) -> (N, C, Q): per-sample gather broadcast over channels."""
    return np.take_along_axis(flat, idx[:, None, :], axis=2)


def sample_bilinear(images: np.ndarray, xs: np.ndarray, ys: np.ndarray, fill: float = 0.0,
                    padding: str = "zeros") -> np.ndarray:
    """Bilinear read of ``images`` (N, C, H, W) at ``(xs, ys)`` (N, Ho, Wo) -> (N, C, Ho, Wo).

    ``padding='zeros'``: positions outside the image read ``fill`` (blended at the border, like
    ``grid_sample(padding_mode='zeros')`` when fill is 0); ``'border'``: positions are clamped to the edge.
    """
    n, c, h, w = images.shape
    ho, wo = xs.shape[1:]
    if padding == "border":
        xs, ys = np.clip(xs, 0, w - 1), np.clip(ys, 0, h - 1)
    # one pixel of fill around the image: every corner index clipped into [-1, W] reads a real value
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=fill)
    flat = padded.reshape(n, c, (h + 2) * (w + 2))
    x0f, y0f = np.floor(xs), np.floor(ys)
    fx = (xs - x0f).astype(images.dtype).reshape(n, 1, -1)
    fy = (ys - y0f).astype(images.dtype).reshape(n, 1, -1)
    x0 = np.clip(x0f.astype(np.int64), -1, w) + 1
    y0 = np.clip(y0f.astype(np.int64), -1, h) + 1
    x1 = np.minimum(np.clip(x0f.astype(np.int64) + 1, -1, w) + 1, w + 1)
    y1 = np.minimum(np.clip(y0f.astype(np.int64) + 1, -1, h) + 1, h + 1)
    stride = w + 2
    r0, r1 = (y0 * stride).reshape(n, -1), (y1 * stride).reshape(n, -1)
    x0, x1 = x0.reshape(n, -1), x1.reshape(n, -1)
    top = _gather(flat, r0 + x0) * (1 - fx) + _gather(flat, r0 + x1) * fx
    bottom = _gather(flat, r1 + x0) * (1 - fx) + _gather(flat, r1 + x1) * fx
    return (top * (1 - fy) + bottom * fy).reshape(n, c, ho, wo)


def sample_nearest(masks: np.ndarray, xs: np.ndarray, ys: np.ndarray, fill: int = 0,
                   padding: str = "zeros") -> np.ndarray:
    """Nearest-neighbour read of ``masks`` (N, H, W) at ``(xs, ys)``; outside reads ``fill`` (class 0)."""
    n, h, w = masks.shape
    xi = np.floor(xs + 0.5).astype(np.int64)
    yi = np.floor(ys + 0.5).astype(np.int64)
    if padding == "border":
        xi, yi = np.clip(xi, 0, w - 1), np.clip(yi, 0, h - 1)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    idx = (np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)).reshape(n, -1)
    out = np.take_along_axis(masks.reshape(n, h * w), idx, axis=1).reshape(xs.shape)
    return np.where(inside, out, np.asarray(fill, dtype=masks.dtype))


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


def filter_separable(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Convolve the last two axes of ``x`` (N, ..., H, W) with per-sample 1-D ``kernels`` (N, K), along H
    then W, reflecting at the edges. One loop over the K taps; each tap is one vectorized multiply-add."""
    n, k = kernels.shape
    r = k // 2
    shape = (n,) + (1,) * (x.ndim - 1)
    pad = [(0, 0)] * (x.ndim - 2)
    for axis in (x.ndim - 2, x.ndim - 1):
        size = x.shape[axis]
        widths = pad + [(r, r) if a == axis else (0, 0) for a in (x.ndim - 2, x.ndim - 1)]
        padded = np.pad(x, widths, mode="reflect" if size > r else "symmetric")
        out = np.zeros_like(x)
        for t in range(k):
            window = padded[(slice(None),) * axis + (slice(t, t + size),)]
            out += kernels[:, t].reshape(shape) * window
        x = out
    return x


def radius_for(sigma: float) -> int:
    """Kernel radius covering three standard deviations."""
    return max(1, int(math.ceil(3.0 * sigma)))
