"""A generated segmentation dataset: circles, rectangles and triangles on textured backgrounds.

Every image is RGB float32 in [0, 1], shape ``(3, size, size)``; its mask is int64 ``(size, size)`` with
classes 0 background, 1 circle, 2 rectangle, 3 triangle. Each image holds 1..``max_shapes`` shapes of
several sizes (radius-like extent from ``size/12`` to ``size/4``); later shapes occlude earlier ones. The
background is a random colour gradient plus a low-frequency noise texture and faint stripes, so a
segmenter must use shape, not colour alone. Generation is vectorized over the batch: one loop over the
shape slots, each slot evaluated for every image at once with broadcast comparisons.
"""
from __future__ import annotations

import math

import numpy as np

SHAPE_CLASSES = ("background", "circle", "rectangle", "triangle")


def _smooth_noise(rng, n, size, cells):
    """Value noise: a (cells x cells) random grid bilinearly upsampled to (size x size), per image."""
    grid = rng.random((n, cells + 1, cells + 1), dtype=np.float32)
    t = np.linspace(0.0, cells, size, dtype=np.float32)
    i0 = np.minimum(t.astype(np.int64), cells - 1)
    f = t - i0
    rows = grid[:, i0, :] * (1 - f)[None, :, None] + grid[:, i0 + 1, :] * f[None, :, None]
    return rows[:, :, i0] * (1 - f)[None, None, :] + rows[:, :, i0 + 1] * f[None, None, :]


def generate_shapes(n: int, size: int = 64, seed: int = 0, max_shapes: int = 4) -> tuple:
    """``n`` images ``(n, 3, size, size)`` float32 and masks ``(n, size, size)`` int64, from ``seed``."""
    if n < 0 or size < 16 or max_shapes < 1:
        raise ValueError(f"shapes: expected n >= 0, size >= 16, max_shapes >= 1; got n={n}, size={size}, "
                         f"max_shapes={max_shapes}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy, xx = yy[None], xx[None]

    # background: gradient between two colours + value-noise texture + faint stripes
    c0 = rng.uniform(0.1, 0.6, (n, 3, 1, 1)).astype(np.float32)
    c1 = rng.uniform(0.1, 0.6, (n, 3, 1, 1)).astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi, (n, 1, 1)).astype(np.float32)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / (2 * size) + 0.5
    noise = _smooth_noise(rng, n, size, cells=max(2, size // 8))
    freq = rng.uniform(0.2, 0.8, (n, 1, 1)).astype(np.float32)
    stripes = np.sin(freq * (np.cos(angle + 1.0) * xx + np.sin(angle + 1.0) * yy))
    images = c0 + (c1 - c0) * ramp[:, None] + (0.15 * (noise - 0.5) + 0.05 * stripes)[:, None]
    masks = np.zeros((n, size, size), dtype=np.int64)

    count = rng.integers(1, max_shapes + 1, n)
    shade = 0.9 + 0.1 * noise[:, None]  # shapes carry a little of the texture too
    for slot in range(max_shapes):  # loop over shape slots; each slot is one vectorized pass over the batch
        kind = rng.integers(1, 4, n)[:, None, None]
        extent = rng.uniform(size / 12, size / 4, (n, 1, 1)).astype(np.float32)
        cx = rng.uniform(0, size, (n, 1, 1)).astype(np.float32)
        cy = rng.uniform(0, size, (n, 1, 1)).astype(np.float32)
        dx, dy = xx - cx, yy - cy
        circle = dx * dx + dy * dy <= extent * extent
        aspect = rng.uniform(0.5, 1.0, (n, 1, 1)).astype(np.float32)
        rectangle = (np.abs(dx) <= extent) & (np.abs(dy) <= extent * aspect)
        rot = rng.uniform(0, 2 * math.pi, (n, 1, 1)).astype(np.float32)
        triangle = np.ones_like(circle)
        for k in range(3):  # inside all three edges of an equilateral triangle rotated by rot
            a = rot + k * (2 * math.pi / 3)
            triangle &= np.cos(a) * dx + np.sin(a) * dy <= 0.75 * extent
        inside = np.where(kind == 1, circle, np.where(kind == 2, rectangle, triangle))
        inside &= (slot < count)[:, None, None]
        colour = rng.uniform(0.0, 1.0, (n, 3, 1, 1)).astype(np.float32)
        np.copyto(images, colour * shade, where=inside[:, None])
        np.copyto(masks, kind, where=inside)
    return np.clip(images, 0.0, 1.0).astype(np.float32), masks
