"""``Upsample``: resize layer over :func:`slimgrad.ops.interpolate.interpolate` (PyTorch's arguments and repr)."""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from ..ops.interpolate import _MODES, interpolate
from .module import Module


def _positive(value, name: str, kind) -> bool:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return 1 <= len(values) <= 2 and all(isinstance(v, kind) and not isinstance(v, bool) and v > 0 for v in values)


class Upsample(Module):
    """Resize (N, C, H, W) maps to ``size`` or by ``scale_factor`` with ``mode`` 'nearest', 'nearest-exact',
    'bilinear' (``align_corners`` False/True) or 'area'; (N, C, L) inputs with 'linear' or the others.
    Output size with a scale factor: ``floor(n * s)``."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"Upsample: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: exactly one of size and scale_factor must be given, got size={size!r}, "
                             f"scale_factor={scale_factor!r}")
        if size is not None and not _positive(size, "size", (int, np.integer)):
            raise ValueError(f"Upsample: size must be a positive int or a pair of them, got {size!r}")
        if scale_factor is not None and not _positive(scale_factor, "scale_factor", (int, float, np.number)):
            raise ValueError(f"Upsample: scale_factor must be a positive number or a pair, got {scale_factor!r}")
        if align_corners is not None and mode not in ("bilinear", "linear"):
            raise ValueError(f"Upsample: align_corners can only be set with mode='bilinear' or 'linear', got "
                             f"mode={mode!r}")
        self.size = tuple(int(v) for v in size) if isinstance(size, (tuple, list)) else \
            None if size is None else int(size)
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        ranks, want = {"linear": ((3,), "(N, C, L)"), "bilinear": ((4,), "(N, C, H, W)")}.get(
            self.mode, ((3, 4), "(N, C, H, W) or (N, C, L)"))
        if not isinstance(input, Tensor) or input.ndim not in ranks:
            got = input.shape if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{self!r}: expected input of shape {want}, got {got}")
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"
