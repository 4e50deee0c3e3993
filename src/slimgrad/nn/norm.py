"""Batch normalisation layers over :func:`slimgrad.ops.norm.batch_norm`.

``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel. Training uses the batch statistics and
updates the buffers ``running_mean`` / ``running_var`` with ``r = (1 - momentum) * r + momentum * batch``
(``momentum=None``: a cumulative average, factor ``1 / num_batches_tracked``); evaluation uses the running
statistics (the batch ones if ``track_running_stats=False``), exactly as ``torch.nn.BatchNorm*d``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..ops.norm import batch_norm
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    _ranks: tuple = ()
    _layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        if device is not None and not str(device).startswith("cpu"):
            raise ValueError(f"{name}: only the CPU device is supported, got device={device!r}")
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if self.affine and bias:
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim not in self._ranks or input.shape[1] != self.num_features:
            got = input.shape if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected input of shape "
                             f"{self._layout.format(c=self.num_features)}, got {got}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data = self.num_batches_tracked.data + 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs (statistics over N, and L)."""

    _ranks = (2, 3)
    _layout = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs (statistics per channel over N, H and W)."""

    _ranks = (4,)
    _layout = "(N, {c}, H, W)"
