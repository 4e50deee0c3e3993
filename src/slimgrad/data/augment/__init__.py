"""Batch data augmentation: vectorized, seeded, composable, segmentation-safe (see ``base`` for the protocol)."""
from .base import Compose, RandomApply, RandomChoice, Transform
from .geometric import (ElasticTransform, RandomAffine, RandomCrop, RandomHorizontalFlip, RandomResizedCrop,
                        RandomRotation, RandomVerticalFlip, affine)
from .grid import show_grid
from .mixing import CutMix, MixUp
from .photometric import ColorJitter, GaussianBlur, GaussianNoise, Normalize, RandomErasing
from .presets import PRESETS, parse_augment

__all__ = [
    "Transform", "Compose", "RandomApply", "RandomChoice",
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "RandomResizedCrop", "RandomRotation",
    "RandomAffine", "ElasticTransform", "affine",
    "ColorJitter", "GaussianNoise", "GaussianBlur", "RandomErasing", "Normalize",
    "MixUp", "CutMix", "PRESETS", "parse_augment", "show_grid",
]
