"""Pooling layers: thin modules over :mod:`slimgrad.ops.pool` (PyTorch names, arguments and reprs).

Arguments are validated once here; ``forward`` checks the input's rank and names the layer.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from ..ops import pool as P
from .module import Module


def _check_input(layer: Module, input: Tensor) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{layer!r}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise ValueError(f"{layer!r}: expected input of shape (N, C, H, W) or (C, H, W), got {input.shape}")


def _check_fits(layer: Module, input: Tensor, dilation=1) -> None:
    """A window larger than the padded input is an error naming the layer (PyTorch: 'output size is too small')."""
    name = type(layer).__name__
    kernel = P._pair(layer.kernel_size, "kernel_size", name)
    stride = P._pair(layer.stride, "stride", name)
    padding, dilation = P._pair(layer.padding, "padding", name, 0), P._pair(dilation, "dilation", name)
    out = tuple(P.pool_output_size(input.shape[-2 + a], kernel[a], stride[a], padding[a], dilation[a],
                                   layer.ceil_mode) for a in (0, 1))
    if min(out) < 1:
        raise ValueError(f"{layer!r}: input of shape {input.shape} is too small: the output would be "
                         f"{out[0]}x{out[1]}")


class MaxPool2d(Module):
    """Max over ``kernel_size`` windows (see :func:`slimgrad.ops.pool.max_pool2d`); stride defaults to the kernel.

    Output size per axis: ``floor_or_ceil((n + 2p - d(k-1) - 1) / s) + 1``.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        kernel = P._pair(kernel_size, "kernel_size", "MaxPool2d")
        stride = None if isinstance(stride, (tuple, list)) and not stride else stride  # [] means the kernel
        P._pair(kernel_size if stride is None else stride, "stride", "MaxPool2d")
        padding_pair = P._pair(padding, "padding", "MaxPool2d", minimum=0)
        P._pair(dilation, "dilation", "MaxPool2d")
        if padding_pair[0] > kernel[0] // 2 or padding_pair[1] > kernel[1] // 2:
            raise ValueError(f"MaxPool2d: padding should be at most half of kernel_size, got padding={padding!r} "
                             f"with kernel_size={kernel_size!r}")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, input: Tensor):
        _check_input(self, input)
        _check_fits(self, input, self.dilation)
        return P.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over ``kernel_size`` windows with PyTorch's divisor rules (see :func:`slimgrad.ops.pool.avg_pool2d`)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        kernel = P._pair(kernel_size, "kernel_size", "AvgPool2d")
        stride = None if isinstance(stride, (tuple, list)) and not stride else stride  # [] means the kernel
        P._pair(kernel_size if stride is None else stride, "stride", "AvgPool2d")
        padding_pair = P._pair(padding, "padding", "AvgPool2d", minimum=0)
        if padding_pair[0] > kernel[0] // 2 or padding_pair[1] > kernel[1] // 2:
            raise ValueError(f"AvgPool2d: padding should be at most half of kernel_size, got padding={padding!r} "
                             f"with kernel_size={kernel_size!r}")
        if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(
                divisor_override, (int, np.integer)) or divisor_override == 0):
            raise ValueError(f"AvgPool2d: divisor_override must be a non-zero int, got {divisor_override!r}")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, bool(ceil_mode)
        self.count_include_pad, self.divisor_override = bool(count_include_pad), divisor_override

    def forward(self, input: Tensor) -> Tensor:
        _check_input(self, input)
        _check_fits(self, input)
        return P.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _check_output_size(output_size, layer: str):
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size,)
    if not 1 <= len(sizes) <= 2 or not all(
            s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0) for s in sizes):
        raise ValueError(f"{layer}: output_size must be a non-negative int, None or a pair of them, "
                         f"got {output_size!r}")
    return tuple(output_size) if isinstance(output_size, list) else output_size


class AdaptiveAvgPool2d(Module):
    """Average over PyTorch's adaptive bins to a fixed ``output_size`` (int, pair; None keeps that axis)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _check_output_size(output_size, "AdaptiveAvgPool2d")

    def forward(self, input: Tensor) -> Tensor:
        _check_input(self, input)
        return P.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max over PyTorch's adaptive bins to a fixed ``output_size``."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = _check_output_size(output_size, "AdaptiveMaxPool2d")
        self.return_indices = bool(return_indices)

    def forward(self, input: Tensor):
        _check_input(self, input)
        return P.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(Module):
    """Mean over all of H and W: (N, C, H, W) -> (N, C, 1, 1) like ``AdaptiveAvgPool2d(1)``,
    or (N, C) with ``flatten=True`` (ready for a ``Linear`` head)."""

    def __init__(self, flatten: bool = False):
        super().__init__()
        self.flatten = bool(flatten)

    def forward(self, input: Tensor) -> Tensor:
        _check_input(self, input)
        out = P.adaptive_avg_pool2d(input, 1)
        return out.reshape(out.shape[:-2]) if self.flatten else out

    def extra_repr(self) -> str:
        return "flatten=True" if self.flatten else ""
