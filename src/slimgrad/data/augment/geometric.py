"""Geometric transforms: flips, crops, rotation, affine warps and elastic distortion.

All take ``(images, masks)`` batches: images are resampled bilinearly (crops and flips are exact copies),
masks with nearest neighbour at the same positions, so image and mask stay aligned. Per-sample parameters
come from :meth:`get_params` as arrays, then one vectorized warp applies them to the batch.
"""
from __future__ import annotations

import math

import numpy as np

from .base import Transform, as_rng, check_batch, pair
from .sampling import (affine_coords, affine_matrices, gaussian_smooth, pixel_grid, sample_bilinear,
                       sample_nearest)


def _size2(size, name):
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{name}: size must be a positive int or (height, width), got {size!r}")
    return size


class _Flip(Transform):
    axis = -1

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = float(p)

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch(type(self).__name__, images, masks)
        flip = as_rng(rng).random(images.shape[0]) < self.p
        images = np.where(flip[:, None, None, None], np.flip(images, self.axis), images)
        if masks is not None:
            masks = np.where(flip[:, None, None], np.flip(masks, self.axis), masks)
        return images, labels, masks


class RandomHorizontalFlip(_Flip):
    """Mirror left-right (``x -> W-1-x``) each sample with probability ``p``."""
    axis = -1


class RandomVerticalFlip(_Flip):
    """Mirror top-bottom (``y -> H-1-y``) each sample with probability ``p``."""
    axis = -2


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


class RandomCrop(Transform):
    """Pad by ``padding`` then cut a random ``size`` window per sample (torchvision's arguments).

    ``size=None`` keeps the input size (the classic "pad 4, crop back" shift). ``padding``: int, ``(lr, tb)``
    or ``(left, top, right, bottom)``; ``padding_mode``: ``constant`` (with ``fill``), ``edge``, ``reflect``,
    ``symmetric``; masks are padded the same way (class 0 where constant).
    """

    def __init__(self, size=None, padding=None, pad_if_needed: bool = False, fill: float = 0.0,
                 padding_mode: str = "constant"):
        self.size = None if size is None else _size2(size, "RandomCrop")
        if padding is None:
            padding = 0
        padding = (padding,) * 4 if isinstance(padding, (int, np.integer)) else tuple(padding)
        if len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        if len(padding) != 4 or min(padding) < 0:
            raise ValueError(f"RandomCrop: padding must be non-negative int, (lr, tb) or (l, t, r, b), got {padding!r}")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {_PAD_MODES}, got {padding_mode!r}")
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = padding, pad_if_needed, fill, padding_mode

    def _pad(self, x, widths, fill):
        spec = [(0, 0)] * (x.ndim - 2) + [widths[0], widths[1]]
        if self.padding_mode == "constant":
            return np.pad(x, spec, constant_values=fill)
        return np.pad(x, spec, mode=self.padding_mode)

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch("RandomCrop", images, masks)
        n, _, h, w = images.shape
        left, top, right, bottom = self.padding
        th, tw = self.size or (h, w)
        if self.pad_if_needed:
            extra_h, extra_w = max(0, th - (h + top + bottom)), max(0, tw - (w + left + right))
            top, bottom, left, right = top + extra_h, bottom + extra_h, left + extra_w, right + extra_w
        ph, pw = h + top + bottom, w + left + right
        if th > ph or tw > pw:
            raise ValueError(f"RandomCrop: crop size {(th, tw)} is larger than the padded image {(ph, pw)}")
        rng = as_rng(rng)
        oy = rng.integers(0, ph - th + 1, n)
        ox = rng.integers(0, pw - tw + 1, n)
        rows = oy[:, None] + np.arange(th)  # (N, th) row indices per sample: one gather for the batch
        cols = ox[:, None] + np.arange(tw)
        widths = ((top, bottom), (left, right))
        padded = self._pad(images, widths, self.fill)
        idx = np.arange(n)[:, None, None]
        images = padded[idx, :, rows[:, :, None], cols[:, None, :]].transpose(0, 3, 1, 2)
        if masks is not None:
            masks = self._pad(masks, widths, 0)[idx, rows[:, :, None], cols[:, None, :]]
        return np.ascontiguousarray(images), labels, masks


class RandomResizedCrop(Transform):
    """Crop a random box of area fraction in ``scale`` and aspect ratio in ``ratio``, resize to ``size``.

    Boxes follow torchvision (10 tries per sample, drawn for the whole batch at once; the first box
    that fits wins, else the central crop of clamped ratio); resizing is bilinear with half-pixel
    centres, ``x_in = left + (x_out + 0.5) * box_w / out_w - 0.5``, clamped to the box.
    ``size=None`` resizes back to the input size.
    """

    def __init__(self, size=None, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
        self.size = None if size is None else _size2(size, "RandomResizedCrop")
        self.scale = pair(scale, "RandomResizedCrop scale")
        self.ratio = pair(ratio, "RandomResizedCrop ratio")
        if self.scale[0] <= 0 or self.ratio[0] <= 0:
            raise ValueError(f"RandomResizedCrop: scale and ratio must be positive, got {scale}, {ratio}")

    def get_params(self, n, h, w, rng):
        """Boxes ``(top, left, height, width)``, each an int array (N,)."""
        tries = 10
        area = h * w * rng.uniform(*self.scale, (n, tries))
        log_r = rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), (n, tries))
        r = np.exp(log_r)
        bw = np.rint(np.sqrt(area * r)).astype(np.int64)
        bh = np.rint(np.sqrt(area / r)).astype(np.int64)
        ok = (bw > 0) & (bw <= w) & (bh > 0) & (bh <= h)
        first = np.argmax(ok, axis=1)
        any_ok = ok.any(axis=1)
        pick = np.arange(n)
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            fw, fh = w, int(round(w / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            fw, fh = int(round(h * self.ratio[1])), h
        else:
            fw, fh = w, h
        bw = np.where(any_ok, bw[pick, first], fw)
        bh = np.where(any_ok, bh[pick, first], fh)
        top = np.floor(rng.random(n) * (h - bh + 1)).astype(np.int64)
        left = np.floor(rng.random(n) * (w - bw + 1)).astype(np.int64)
        top = np.where(any_ok, top, (h - bh) // 2)
        left = np.where(any_ok, left, (w - bw) // 2)
        return top, left, bh, bw

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch("RandomResizedCrop", images, masks)
        n, _, h, w = images.shape
        top, left, bh, bw = self.get_params(n, h, w, as_rng(rng))
        oh, ow = self.size or (h, w)
        gx, gy = pixel_grid(oh, ow)
        s = lambda a: a.astype(np.float32)[:, None, None]  # noqa: E731
        # clamp to the box, as cropping then resizing does (torchvision's resized_crop)
        xs = np.clip(s(left) + (gx + 0.5) * s(bw) / ow - 0.5, s(left), s(left + bw - 1))
        ys = np.clip(s(top) + (gy + 0.5) * s(bh) / oh - 0.5, s(top), s(top + bh - 1))
        out = sample_bilinear(images, xs, ys)
        if masks is not None:
            masks = sample_nearest(masks, xs, ys)
        return out, labels, masks


class RandomAffine(Transform):
    """Random rotation, translation, scale and shear about the image centre, bilinear; outside reads ``fill``.

    Per sample: ``angle ~ U(degrees)`` (counter-clockwise, degrees), ``tx ~ round(U(-a W, a W))``,
    ``ty ~ round(U(-b H, b H))`` for ``translate=(a, b)`` (whole pixels, as torchvision: a pure translation
    is an exact shift), ``scale ~ U(scale)``, ``shear_x ~ U(shear[:2])``,
    ``shear_y ~ U(shear[2:])``. Output pixel ``q`` reads input ``A^-1 (q - c - t) + c`` with
    ``A = R(angle) Shx Shy scale`` (see :func:`~slimgrad.data.augment.sampling.affine_matrices`).
    """

    def __init__(self, degrees=0.0, translate=None, scale=None, shear=None, fill: float = 0.0):
        self.degrees = pair(degrees, "RandomAffine degrees")
        if translate is None:
            translate = (0.0, 0.0)
        translate = (translate, translate) if isinstance(translate, (int, float)) else tuple(translate)
        if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
            raise ValueError(f"RandomAffine: translate must be fractions in [0, 1] (a, b), got {translate!r}")
        self.translate = translate
        self.scale = (1.0, 1.0) if scale is None else pair(scale, "RandomAffine scale", center=1.0)
        if self.scale[0] <= 0:
            raise ValueError(f"RandomAffine: scale must be positive, got {scale!r}")
        if shear is None:
            shear = (0.0, 0.0, 0.0, 0.0)
        elif isinstance(shear, (int, float)):
            shear = (-abs(shear), abs(shear), 0.0, 0.0)
        shear = tuple(float(s) for s in shear)
        if len(shear) == 2:
            shear = shear + (0.0, 0.0)
        if len(shear) != 4:
            raise ValueError(f"RandomAffine: shear must be a number, (min, max) or 4 values, got {shear!r}")
        self.shear, self.fill = shear, float(fill)

    def get_params(self, n, h, w, rng) -> dict:
        """Per-sample arrays ``angle, tx, ty, scale, shear_x, shear_y`` (always drawn in this order)."""
        return {
            "angle": rng.uniform(*self.degrees, n),
            "tx": np.rint(rng.uniform(-1.0, 1.0, n) * self.translate[0] * w),  # whole pixels, as torchvision
            "ty": np.rint(rng.uniform(-1.0, 1.0, n) * self.translate[1] * h),
            "scale": rng.uniform(*self.scale, n),
            "shear_x": rng.uniform(*self.shear[:2], n),
            "shear_y": rng.uniform(*self.shear[2:], n),
        }

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch(type(self).__name__, images, masks)
        n, _, h, w = images.shape
        out, masks = affine(images, masks=masks, fill=self.fill, **self.get_params(n, h, w, as_rng(rng)))
        return out, labels, masks


def affine(images, angle, tx, ty, scale, shear_x=None, shear_y=None, masks=None, fill: float = 0.0):
    """Apply per-sample affine warps with the given parameter arrays (N,); returns ``(images, masks)``."""
    n, _, h, w = images.shape
    zeros = np.zeros(n)
    mats = affine_matrices(np.broadcast_to(angle, (n,)), np.broadcast_to(scale, (n,)),
                           zeros if shear_x is None else np.broadcast_to(shear_x, (n,)),
                           zeros if shear_y is None else np.broadcast_to(shear_y, (n,)))
    translate = np.stack([np.broadcast_to(tx, (n,)), np.broadcast_to(ty, (n,))], axis=1)
    xs, ys = affine_coords(mats, translate, h, w)
    out = sample_bilinear(images, xs, ys, fill=fill)
    return out, (None if masks is None else sample_nearest(masks, xs, ys))


class RandomRotation(RandomAffine):
    """Rotate each sample by ``angle ~ U(degrees)`` (counter-clockwise) about its centre, bilinear."""

    def __init__(self, degrees, fill: float = 0.0):
        super().__init__(degrees=degrees, fill=fill)


class ElasticTransform(Transform):
    """Elastic distortion (Simard et al. 2003, the classic MNIST augmentation).

    Per sample, displacement fields ``dx, dy ~ U(-1, 1)`` per pixel are smoothed by a Gaussian of std
    ``sigma`` pixels (reflected edges) and scaled by ``alpha``; output pixel ``(x, y)`` reads
    ``(x + dx, y + dy)`` bilinearly.
    """

    def __init__(self, alpha: float = 34.0, sigma: float = 4.0, fill: float = 0.0):
        if alpha < 0 or sigma <= 0:
            raise ValueError(f"ElasticTransform: expected alpha >= 0 and sigma > 0, got alpha={alpha}, sigma={sigma}")
        self.alpha, self.sigma, self.fill = float(alpha), float(sigma), float(fill)

    def get_params(self, n, h, w, rng):
        """Displacements ``(dx, dy)``, each float32 (N, H, W) in pixels."""
        field = rng.random((n, 2, h, w), dtype=np.float32) * np.float32(2.0) - np.float32(1.0)
        field = gaussian_smooth(field, self.sigma) * np.float32(self.alpha)
        return field[:, 0], field[:, 1]

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch("ElasticTransform", images, masks)
        n, _, h, w = images.shape
        dx, dy = self.get_params(n, h, w, as_rng(rng))
        gx, gy = pixel_grid(h, w)
        xs, ys = gx + dx, gy + dy
        out = sample_bilinear(images, xs, ys, fill=self.fill)
        return out, labels, (None if masks is None else sample_nearest(masks, xs, ys))
