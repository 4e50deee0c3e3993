"""Batch-level mixing: MixUp and CutMix, which turn labels into soft labels.

Each sample ``i`` is mixed with partner ``perm[i]`` (a random permutation of the batch) with its own
``lam ~ Beta(alpha, alpha)``. Soft labels ``lam onehot(y_i) + (1 - lam) onehot(y_perm[i])`` are float32
``(N, num_classes)``, rows summing to 1: the class-probability targets ``F.cross_entropy`` accepts.
"""
from __future__ import annotations

import numpy as np

from .base import Transform, as_rng, check_batch


def _soft(labels, num_classes, name):
    labels = np.asarray(labels)
    if labels.ndim == 2:
        if num_classes is not None and labels.shape[1] != num_classes:
            raise ValueError(f"{name}: soft labels have {labels.shape[1]} classes, expected num_classes={num_classes}")
        return labels.astype(np.float32, copy=False)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{name}: expected int labels (N,) or soft labels (N, K), got {labels.dtype} {labels.shape}")
    if num_classes is None:
        raise ValueError(f"{name}: num_classes is needed to one-hot integer labels")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name}: labels must lie in [0, {num_classes}), got range "
                         f"[{labels.min()}, {labels.max()}]")
    return np.eye(num_classes, dtype=np.float32)[labels]


class _Mix(Transform):
    def __init__(self, alpha: float = 1.0, num_classes: int | None = None):
        if alpha <= 0:
            raise ValueError(f"{type(self).__name__}: alpha must be positive, got {alpha}")
        self.alpha, self.num_classes = float(alpha), num_classes

    def __call__(self, images, labels, *, rng=None):
        """``(images, labels) -> (mixed images, soft labels (N, num_classes) float32)``."""
        images, labels, _ = self.apply(images, labels, None, rng=as_rng(rng))
        return images, labels

    def _prepare(self, images, labels, masks, rng):
        name = type(self).__name__
        images = check_batch(name, images)
        if labels is None:
            raise ValueError(f"{name}: needs labels to mix")
        if masks is not None:
            raise ValueError(f"{name}: mixing segmentation masks is not supported")
        soft = _soft(labels, self.num_classes, name)
        n = images.shape[0]
        perm = rng.permutation(n)
        lam = rng.beta(self.alpha, self.alpha, n).astype(np.float32)
        return images, soft, perm, lam


class MixUp(_Mix):
    """MixUp (Zhang et al. 2018): ``x = lam x_i + (1 - lam) x_perm[i]``, labels mixed with the same ``lam``."""

    def apply(self, images, labels=None, masks=None, rng=None):
        rng = as_rng(rng)
        images, soft, perm, lam = self._prepare(images, labels, masks, rng)
        w = lam.reshape(-1, 1, 1, 1)
        mixed = w * images + (1 - w) * images[perm]
        lam = lam[:, None]
        return mixed.astype(images.dtype, copy=False), lam * soft + (1 - lam) * soft[perm], None


class CutMix(_Mix):
    """CutMix (Yun et al. 2019): paste a box of area fraction ``1 - lam`` from the partner image.

    The box (side ratio ``sqrt(1 - lam)``, random centre, clipped to the image) sets the label weight
    actually used: ``lam = 1 - box_area / (H W)``.
    """

    def apply(self, images, labels=None, masks=None, rng=None):
        rng = as_rng(rng)
        images, soft, perm, lam = self._prepare(images, labels, masks, rng)
        n, _, h, w = images.shape
        cut = np.sqrt(1.0 - lam)
        ch, cw = (cut * h).astype(np.int64), (cut * w).astype(np.int64)
        cy, cx = rng.integers(0, h, n), rng.integers(0, w, n)
        y0, y1 = np.clip(cy - ch // 2, 0, h), np.clip(cy + ch - ch // 2, 0, h)
        x0, x1 = np.clip(cx - cw // 2, 0, w), np.clip(cx + cw - cw // 2, 0, w)
        rows = np.arange(h)[None, :, None]
        cols = np.arange(w)[None, None, :]
        v = lambda a: a[:, None, None]  # noqa: E731
        box = (rows >= v(y0)) & (rows < v(y1)) & (cols >= v(x0)) & (cols < v(x1))
        mixed = np.where(box[:, None], images[perm], images)
        lam = (1.0 - box.mean(axis=(1, 2), dtype=np.float32))[:, None]
        return mixed, lam * soft + (1 - lam) * soft[perm], None
