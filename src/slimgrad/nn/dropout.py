"""Dropout layers: identity in eval mode, inverted dropout in training mode."""
from __future__ import annotations

from ..ops.random import dropout, dropout2d
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability p has to be between 0 and 1, but got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` during training, scaling the rest by ``1 / (1 - p)``."""

    def forward(self, input):
        return dropout(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) inputs with probability ``p`` during training."""

    def forward(self, input):
        return dropout2d(input, self.p, self.training)
