"""The transform protocol and the combinators ``Compose``, ``RandomApply``, ``RandomChoice``.

Every transform works on a whole batch: images float32 ``(N, C, H, W)`` (values in [0, 1] unless
normalised), optional labels (int64 ``(N,)`` or soft float32 ``(N, K)``) and optional segmentation masks
int64 ``(N, H, W)``. Per-sample random parameters are drawn as arrays from one ``numpy.random.Generator``.

- ``t.apply(images, labels=None, masks=None, rng=None) -> (images, labels, masks)`` is the core, used by
  ``Compose`` and the DataLoader. Geometric transforms move masks with the images (nearest neighbour);
  photometric ones leave masks alone; MixUp/CutMix turn labels into soft labels.
- ``t(images, masks=None, *, labels=None, rng=None)`` is the convenience form: it returns ``images``, or
  ``(images, masks)``, ``(images, labels)`` or ``(images, masks, labels)`` for what was passed.

``rng`` may be a Generator, an int seed, or ``None`` for the global generator (``slimgrad.manual_seed``).
"""
from __future__ import annotations

import numpy as np

from ...backend import default_rng


def as_rng(rng) -> np.random.Generator:
    if rng is None:
        return default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng: expected a numpy Generator, an int seed or None, got {type(rng).__name__}")


def check_batch(name: str, images, masks=None) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"{name}: expected images of shape (N, C, H, W), got shape {images.shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"{name}: expected floating-point images (float32 in [0, 1]), got dtype {images.dtype}")
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != (images.shape[0],) + images.shape[2:]:
            raise ValueError(f"{name}: expected masks of shape (N, H, W) = "
                             f"{(images.shape[0],) + images.shape[2:]}, got {masks.shape}")
    return images


def pair(value, name: str, center: float = 0.0, minimum: float | None = None) -> tuple:
    """``v`` -> ``(center - v, center + v)``; a pair stays a pair. Used for degrees, scale, factors."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        if value < 0:
            raise ValueError(f"{name}: a single number must be non-negative, got {value}")
        lo, hi = center - float(value), center + float(value)
    else:
        try:
            lo, hi = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a number or a (min, max) pair, got {value!r}") from None
        if lo > hi:
            raise ValueError(f"{name}: expected min <= max, got {value!r}")
    if minimum is not None:
        lo = max(lo, minimum)
    return lo, hi


class Transform:
    """Base class of batch transforms; subclasses implement :meth:`apply`."""

    def apply(self, images, labels=None, masks=None, rng=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, images, masks=None, *, labels=None, rng=None):
        images, labels_out, masks_out = self.apply(images, labels, masks, rng=as_rng(rng))
        out = (images,) + ((masks_out,) if masks is not None else ()) + ((labels_out,) if labels is not None else ())
        return out[0] if len(out) == 1 else out

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Compose(Transform):
    """Apply ``transforms`` one after the other, all drawing from the same generator."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not isinstance(t, Transform):
                raise TypeError(f"Compose: every entry must be a Transform, got {type(t).__name__}")

    def apply(self, images, labels=None, masks=None, rng=None):
        rng = as_rng(rng)
        for t in self.transforms:
            images, labels, masks = t.apply(images, labels, masks, rng=rng)
        return images, labels, masks

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        if not self.transforms:
            return "Compose([])"
        return "Compose([\n" + "".join(f"  {t!r},\n" for t in self.transforms) + "])"


def _select(keep: np.ndarray, new, old):
    """Per sample: ``new`` where ``keep``, else ``old`` (either may be None)."""
    if new is None or old is None or new is old:
        return new
    shape = (-1,) + (1,) * (np.ndim(new) - 1)
    return np.where(keep.reshape(shape), new, old)


class RandomApply(Transform):
    """Apply ``transforms`` (a transform or a list, composed) to each sample with probability ``p``.

    The transforms run on the whole batch and a per-sample coin picks the result, so the cost does
    not depend on ``p``. When a mixing transform makes labels soft, the unmixed samples get one-hot rows.
    """

    def __init__(self, transforms, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomApply: p must be in [0, 1], got {p}")
        self.transform = transforms if isinstance(transforms, Transform) else Compose(transforms)
        self.p = float(p)

    def apply(self, images, labels=None, masks=None, rng=None):
        rng = as_rng(rng)
        images = check_batch("RandomApply", images, masks)
        keep = rng.random(images.shape[0]) < self.p
        new_images, new_labels, new_masks = self.transform.apply(images, labels, masks, rng=rng)
        if labels is not None and np.ndim(new_labels) == 2 and np.ndim(labels) == 1:  # mixing made them soft
            labels = np.eye(new_labels.shape[1], dtype=new_labels.dtype)[labels]
        return (_select(keep, new_images, images), _select(keep, new_labels, labels),
                _select(keep, new_masks, masks))


class RandomChoice(Transform):
    """Apply one of ``transforms`` per sample, chosen with probabilities ``p`` (uniform by default)."""

    def __init__(self, transforms, p=None):
        self.transforms = list(transforms)
        if not self.transforms:
            raise ValueError("RandomChoice: expected at least one transform")
        if p is None:
            p = [1.0 / len(self.transforms)] * len(self.transforms)
        p = np.asarray(p, dtype=np.float64)
        if p.shape != (len(self.transforms),) or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"RandomChoice: p must be {len(self.transforms)} non-negative weights, got {p.tolist()}")
        self.p = (p / p.sum()).tolist()

    def apply(self, images, labels=None, masks=None, rng=None):
        rng = as_rng(rng)
        images = check_batch("RandomChoice", images, masks)
        choice = rng.choice(len(self.transforms), size=images.shape[0], p=self.p)
        out_images, out_labels, out_masks = images.copy(), labels, masks
        for k, t in enumerate(self.transforms):  # loop over the few choices; each runs on its own samples
            sel = np.nonzero(choice == k)[0]
            if sel.size == 0:
                continue
            im, lb, mk = t.apply(images[sel], None if labels is None else labels[sel],
                                 None if masks is None else masks[sel], rng=rng)
            out_images[sel] = im
            if labels is not None:
                if lb.ndim != labels.ndim:
                    raise ValueError("RandomChoice: a choice that turns labels into soft labels is not supported")
                out_labels = labels.copy() if out_labels is labels else out_labels
                out_labels[sel] = lb
            if masks is not None:
                out_masks = masks.copy() if out_masks is masks else out_masks
                out_masks[sel] = mk
        return out_images, out_labels, out_masks
