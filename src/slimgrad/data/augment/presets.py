"""Augmentation presets and the spec parser behind ``--augment`` / ``--transforms``.

``parse_augment("standard")`` returns a preset; ``parse_augment("rotate=15,translate=0.1,erase=0.25")``
builds a pipeline from ``key=value`` pairs; a spec may start from a preset (``"light,mixup=0.2"``).
Keys (all optional), applied in this order:

==============  ===================================================================
``crop=P``      RandomCrop keeping the size after padding ``P`` pixels (int)
``resized=S``   RandomResizedCrop back to the input size, area fraction in ``[S, 1]``
``hflip=P``     RandomHorizontalFlip with probability ``P``
``vflip=P``     RandomVerticalFlip with probability ``P``
``rotate=D``    rotation in ``[-D, D]`` degrees  \\
``translate=F`` shift up to ``F`` of width/height  | one RandomAffine
``scale=F``     zoom in ``[1-F, 1+F]``             |
``shear=D``     x-shear in ``[-D, D]`` degrees     /
``elastic=A``   ElasticTransform with ``alpha=A`` (sigma 4) on half the samples
``jitter=F``    ColorJitter brightness = contrast = saturation = ``F``
``blur=S``      GaussianBlur (kernel 5) with sigma in ``[0.1, S]`` on half the samples
``noise=S``     GaussianNoise with std ``S``
``erase=P``     RandomErasing with probability ``P``
``mixup=A``     MixUp with ``alpha=A`` (needs ``num_classes``)
``cutmix=A``    CutMix with ``alpha=A`` (needs ``num_classes``)
==============  ===================================================================

The presets avoid flips, so they are safe for digits:
``light`` = ``translate=0.1``; ``standard`` = ``rotate=10,translate=0.1,scale=0.1,erase=0.25``;
``heavy`` = ``rotate=20,translate=0.15,scale=0.2,shear=10,elastic=34,noise=0.05,erase=0.5``.
"""
from __future__ import annotations

from .base import Compose, RandomApply
from .geometric import (ElasticTransform, RandomAffine, RandomCrop, RandomHorizontalFlip, RandomResizedCrop,
                        RandomVerticalFlip)
from .mixing import CutMix, MixUp
from .photometric import ColorJitter, GaussianBlur, GaussianNoise, RandomErasing

PRESETS = {
    "none": "",
    "light": "translate=0.1",
    "standard": "rotate=10,translate=0.1,scale=0.1,erase=0.25",
    "heavy": "rotate=20,translate=0.15,scale=0.2,shear=10,elastic=34,noise=0.05,erase=0.5",
}

_KEYS = ("crop", "resized", "hflip", "vflip", "rotate", "translate", "scale", "shear", "elastic", "jitter",
         "blur", "noise", "erase", "mixup", "cutmix")
_PROBABILITIES = ("hflip", "vflip", "erase", "resized")


def _parse_pairs(spec: str) -> dict:
    values = {}
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if item in PRESETS:
            values.update(_parse_pairs(PRESETS[item]))
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"parse_augment: expected key=value or a preset {sorted(PRESETS)}, got {item!r}")
        if key not in _KEYS:
            raise ValueError(f"parse_augment: unknown key {key!r}; known keys: {', '.join(_KEYS)}")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"parse_augment: {key} needs a number, got {raw!r}") from None
        if value < 0 or (key in _PROBABILITIES and value > 1):
            raise ValueError(f"parse_augment: {key} must be {'in [0, 1]' if key in _PROBABILITIES else '>= 0'}, "
                             f"got {value}")
        values[key] = value
    return values


def parse_augment(spec: str | None, num_classes: int | None = None, size=None) -> Compose:
    """Build a :class:`Compose` from a preset name or a ``key=value,...`` spec (see the module docstring).

    ``num_classes`` is passed to MixUp/CutMix; ``size`` ``(H, W)`` fixes RandomResizedCrop's output
    (by default the pipeline keeps each batch's own size).
    """
    if spec is None:
        spec = "none"
    if not isinstance(spec, str):
        raise TypeError(f"parse_augment: expected a preset name or a spec string, got {type(spec).__name__}")
    v = _parse_pairs(spec)
    steps = []
    if v.get("crop"):
        steps.append(RandomCrop(padding=int(v["crop"])))
    if v.get("resized"):
        steps.append(RandomResizedCrop(size, scale=(v["resized"], 1.0)))
    if v.get("hflip"):
        steps.append(RandomHorizontalFlip(v["hflip"]))
    if v.get("vflip"):
        steps.append(RandomVerticalFlip(v["vflip"]))
    if any(v.get(k) for k in ("rotate", "translate", "scale", "shear")):
        t = v.get("translate", 0.0)
        steps.append(RandomAffine(degrees=v.get("rotate", 0.0), translate=(t, t) if t else None,
                                  scale=v.get("scale") or None, shear=v.get("shear") or None))
    if v.get("elastic"):
        steps.append(RandomApply(ElasticTransform(alpha=v["elastic"], sigma=4.0), p=0.5))
    if v.get("jitter"):
        steps.append(ColorJitter(brightness=v["jitter"], contrast=v["jitter"], saturation=v["jitter"]))
    if v.get("blur"):
        steps.append(RandomApply(GaussianBlur(kernel_size=5, sigma=(0.1, max(v["blur"], 0.1))), p=0.5))
    if v.get("noise"):
        steps.append(GaussianNoise(std=v["noise"]))
    if v.get("erase"):
        steps.append(RandomErasing(p=v["erase"]))
    if v.get("mixup"):
        steps.append(MixUp(alpha=v["mixup"], num_classes=num_classes))
    if v.get("cutmix"):
        steps.append(CutMix(alpha=v["cutmix"], num_classes=num_classes))
    return Compose(steps)

