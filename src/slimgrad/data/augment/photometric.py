"""Photometric transforms: colour jitter, noise, blur, erasing (cutout) and normalisation.

They change pixel values only; masks pass through unchanged. Images are float32 in [0, 1]; jitter and
noise clip back to [0, 1].
"""
from __future__ import annotations

import math

import numpy as np

from .base import Transform, as_rng, check_batch, pair
from .sampling import filter_separable, gaussian_kernels

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 (torchvision rounds 0.299 to 0.2989; these keep grey grey)


def _gray(images):
    if images.shape[1] == 3:
        r, g, b = images[:, 0:1], images[:, 1:2], images[:, 2:3]
        return _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b
    return images.mean(axis=1, keepdims=True)


class ColorJitter(Transform):
    """Random brightness, contrast and saturation, per sample, applied in that order.

    Factors ``f ~ U(max(0, 1-v), 1+v)`` for ``v`` (or ``U(min, max)`` for a pair): brightness ``x f``;
    contrast ``m + f (x - m)`` with ``m`` the sample's mean grey level; saturation (RGB only)
    ``g + f (x - g)`` with ``g`` the pixel's grey value. As torchvision's ``adjust_*`` functions, each step
    clips to [0, 1] before the next one reads the image.
    """

    def __init__(self, brightness=0.0, contrast=0.0, saturation=0.0):
        self.brightness = pair(brightness, "ColorJitter brightness", center=1.0, minimum=0.0)
        self.contrast = pair(contrast, "ColorJitter contrast", center=1.0, minimum=0.0)
        self.saturation = pair(saturation, "ColorJitter saturation", center=1.0, minimum=0.0)

    def get_params(self, n, rng):
        return (rng.uniform(*self.brightness, n).astype(np.float32),
                rng.uniform(*self.contrast, n).astype(np.float32),
                rng.uniform(*self.saturation, n).astype(np.float32))

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch("ColorJitter", images, masks)
        b, c, s = (f.reshape(-1, 1, 1, 1) for f in self.get_params(images.shape[0], as_rng(rng)))
        out = images
        if self.brightness != (1.0, 1.0):  # skip what is off: zero strength is the exact identity
            out = np.clip(out * b, 0.0, 1.0)
        if self.contrast != (1.0, 1.0):
            mean = _gray(out).mean(axis=(1, 2, 3), keepdims=True)
            out = np.clip(mean + c * (out - mean), 0.0, 1.0)
        if images.shape[1] == 3 and self.saturation != (1.0, 1.0):
            gray = _gray(out)
            out = np.clip(gray + s * (out - gray), 0.0, 1.0)
        return out.astype(images.dtype, copy=False), labels, masks


class GaussianNoise(Transform):
    """Add ``N(mean, std^2)`` noise per pixel; ``clip`` back to [0, 1]."""

    def __init__(self, std: float = 0.1, mean: float = 0.0, clip: bool = True):
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be non-negative, got {std}")
        self.std, self.mean, self.clip = float(std), float(mean), bool(clip)

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch("GaussianNoise", images, masks)
        noise = as_rng(rng).standard_normal(images.shape, dtype=np.float32) * np.float32(self.std)
        out = images + (noise + np.float32(self.mean)).astype(images.dtype, copy=False)
        return (np.clip(out, 0.0, 1.0) if self.clip else out), labels, masks


class GaussianBlur(Transform):
    """Blur with a Gaussian of std ``sigma`` per sample, reflecting at the edges (torchvision's arguments).

    ``kernel_size``: an odd int, or ``(kx, ky)`` (width, then height, as torchvision); ``sigma``: a number
    (fixed) or ``(min, max)`` drawn uniformly per sample. Weights ``w_k = exp(-k^2 / (2 sigma^2)) / sum``,
    ``k = -r..r``, applied along H then W.
    """

    def __init__(self, kernel_size=3, sigma=(0.1, 2.0)):
        sizes = (kernel_size, kernel_size) if isinstance(kernel_size, (int, np.integer)) else tuple(kernel_size)
        if len(sizes) != 2 or not all(isinstance(k, (int, np.integer)) and k >= 1 and k % 2 for k in sizes):
            raise ValueError(f"GaussianBlur: kernel_size must be a positive odd integer or a pair of them, "
                             f"got {kernel_size!r}")
        self.kernel_size = (int(sizes[0]), int(sizes[1]))
        if isinstance(sigma, (int, float, np.integer, np.floating)):
            sigma = (float(sigma), float(sigma))  # a single number is a fixed sigma, as in torchvision
        self.sigma = pair(sigma, "GaussianBlur sigma")
        if self.sigma[0] <= 0:
            raise ValueError(f"GaussianBlur: sigma must be positive, got {sigma!r}")

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch("GaussianBlur", images, masks)
        sigma = as_rng(rng).uniform(*self.sigma, images.shape[0])
        kx, ky = self.kernel_size
        kernels_h = gaussian_kernels(sigma, ky // 2).astype(images.dtype)
        kernels_w = kernels_h if kx == ky else gaussian_kernels(sigma, kx // 2).astype(images.dtype)
        out = filter_separable(images, kernels_h, kernels_w)
        # a blur is a convex combination: keep float rounding from leaving the input's range
        return np.clip(out, images.min(), images.max()), labels, masks


class RandomErasing(Transform):
    """Cutout: with probability ``p`` per sample, set a random rectangle to ``value``.

    Area fraction ``~ U(scale)``, aspect ratio log-uniform in ``ratio`` (torchvision's arguments); the
    box is clipped to fit. ``value``: a number, one per channel, or ``'random'`` (standard normal noise);
    ``inplace`` is accepted for torchvision's signature (batches are never modified in place). Built as one
    broadcast comparison of row/column indices against per-sample bounds.
    """

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0, inplace: bool = False):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        if isinstance(value, str):
            if value != "random":
                raise ValueError(f"RandomErasing: value must be a number, one per channel or 'random', got {value!r}")
        elif isinstance(value, (int, float, np.integer, np.floating)):
            value = float(value)
        else:
            value = tuple(float(v) for v in value)  # one per channel
        self.p, self.value = float(p), value
        self.scale = pair(scale, "RandomErasing scale")
        self.ratio = pair(ratio, "RandomErasing ratio")
        if self.ratio[0] <= 0 or not 0 <= self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"RandomErasing: expected 0 <= scale <= 1 and ratio > 0, got {scale}, {ratio}")

    def get_params(self, n, h, w, rng):
        """Per-sample ``(apply, top, left, height, width)`` int arrays (N,)."""
        on = rng.random(n) < self.p
        area = h * w * rng.uniform(*self.scale, n)
        r = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), n))
        eh = np.clip(np.rint(np.sqrt(area * r)), 1, h).astype(np.int64)
        ew = np.clip(np.rint(np.sqrt(area / r)), 1, w).astype(np.int64)
        top = np.floor(rng.random(n) * (h - eh + 1)).astype(np.int64)
        left = np.floor(rng.random(n) * (w - ew + 1)).astype(np.int64)
        return on, top, left, eh, ew

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch("RandomErasing", images, masks)
        n, _, h, w = images.shape
        rng = as_rng(rng)
        on, top, left, eh, ew = self.get_params(n, h, w, rng)
        rows = np.arange(h)[None, :, None]
        cols = np.arange(w)[None, None, :]
        v = lambda a: a[:, None, None]  # noqa: E731
        box = (rows >= v(top)) & (rows < v(top + eh)) & (cols >= v(left)) & (cols < v(left + ew)) & v(on)
        if self.value == "random":  # torchvision's value='random': standard normal noise in the box
            fill = rng.standard_normal(images.shape, dtype=np.float32).astype(images.dtype, copy=False)
        elif isinstance(self.value, tuple):
            if len(self.value) not in (1, images.shape[1]):
                raise ValueError(f"RandomErasing: {len(self.value)} fill values for {images.shape[1]} channels")
            fill = np.asarray(self.value, dtype=images.dtype).reshape(1, -1, 1, 1)
        else:
            fill = images.dtype.type(self.value)
        return np.where(box[:, None], fill, images), labels, masks


class Normalize(Transform):
    """Per channel ``(x - mean[c]) / std[c]`` (float32); :func:`slimgrad.data.channel_stats` gives the numbers."""

    def __init__(self, mean, std):
        self.mean = [float(m) for m in np.atleast_1d(mean)]
        self.std = [float(s) for s in np.atleast_1d(std)]
        if len(self.mean) != len(self.std) or min(self.std) <= 0:
            raise ValueError(f"Normalize: mean and std need one positive std per channel, got {mean}, {std}")

    def apply(self, images, labels=None, masks=None, rng=None):
        images = check_batch("Normalize", images, masks)
        c = images.shape[1]
        if len(self.mean) not in (1, c):
            raise ValueError(f"Normalize: has {len(self.mean)} channel statistics, images have {c} channels")
        mean = np.asarray(self.mean, dtype=images.dtype).reshape(1, -1, 1, 1)
        std = np.asarray(self.std, dtype=images.dtype).reshape(1, -1, 1, 1)
        return (images - mean) / std, labels, masks
