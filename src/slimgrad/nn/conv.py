"""Convolution layers: ``Conv2d``, ``ConvTranspose2d`` and the MobileNet family composed from ``Conv2d``.

``DepthwiseConv2d`` is ``Conv2d`` with ``groups = channels`` (and ``depth_multiplier`` outputs per channel),
``PointwiseConv2d`` a 1x1 ``Conv2d``, ``SeparableConv2d`` a depthwise then a pointwise convolution: a drop-in
for ``Conv2d(in, out, k, stride, padding, dilation)`` (same output shape) at ``k*k*M + M*N`` instead of
``k*k*M*N`` weights. Output size per axis: ``floor((h + 2p - d(k-1) - 1) / s) + 1``.

Arguments are validated once in ``__init__``; ``forward`` checks the input's rank and channels and names the
layer. Weights use PyTorch's default init: ``kaiming_uniform_(a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), ..),
and the bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from . import init
from .activation import ReLU
from .container import Sequential
from .module import Module
from .norm import BatchNorm2d
from .parameter import Parameter


def _int(value, name: str, layer: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{layer}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _pair(value, name: str, layer: str, minimum: int = 1) -> tuple:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ValueError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}")
    return tuple(_int(v, name, layer, minimum) for v in value)


def _check_device(device, layer: str) -> None:
    """Accept PyTorch's ``device`` argument for the only device there is (None or 'cpu')."""
    if device is not None and not str(device).startswith("cpu"):
        raise ValueError(f"{layer}: only the CPU device is supported, got device={device!r}")


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _same_like_padding(kernel_size: tuple, dilation: tuple) -> tuple:
    """``d * (k - 1) // 2`` per axis: stride 1 keeps the size for odd kernels."""
    return tuple(d * (k - 1) // 2 for k, d in zip(kernel_size, dilation))


class _ConvBase(Module):
    """Shared arguments, validation, parameters, init and repr of ``Conv2d`` and ``ConvTranspose2d``."""

    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        _check_device(device, name)
        self.in_channels = _int(in_channels, "in_channels", name)
        self.out_channels = _int(out_channels, "out_channels", name)
        self.groups = _int(groups, "groups", name)
        if self.in_channels % self.groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups, got in_channels={in_channels}, "
                             f"groups={groups}")
        if self.out_channels % self.groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups, got out_channels={out_channels}, "
                             f"groups={groups}")
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = _pair(stride, "stride", name)
        self.dilation = _pair(dilation, "dilation", name)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {', '.join(map(repr, _PADDING_MODES))}, got "
                             f"{padding_mode!r}")
        if padding_mode != "zeros" and self.transposed:
            raise ValueError(f"{name}: only 'zeros' padding_mode is supported, got {padding_mode!r}")
        self.padding_mode = padding_mode
        if isinstance(padding, str) and not self.transposed:
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of 'same', 'valid'")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions, got "
                                 f"stride={self.stride}")
            self.padding = padding
        else:
            self.padding = _pair(padding, "padding", name, minimum=0)
        self.output_padding = _pair(output_padding, "output_padding", name, minimum=0)
        for a in (0, 1):
            if self.output_padding[a] and not self.output_padding[a] < max(self.stride[a], self.dilation[a]):
                raise ValueError(f"{name}: output_padding must be smaller than either stride or dilation, got "
                                 f"output_padding={self.output_padding}, stride={self.stride}, "
                                 f"dilation={self.dilation}")
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        shape = ((self.in_channels, self.out_channels // self.groups) if self.transposed
                 else (self.out_channels, self.in_channels // self.groups)) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _short_name(self) -> str:
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={k})"

    def _check_input(self, input) -> None:
        if not isinstance(input, Tensor) or input.ndim not in (3, 4) or input.shape[-3] != self.in_channels:
            got = input.shape if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"{self._short_name()}: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {got}")

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvBase):
    """2-D convolution, ``weight`` (out_channels, in_channels/groups, kH, kW), as ``torch.nn.Conv2d``.

    ``padding``: int, pair, ``'valid'`` or ``'same'`` (stride 1); ``padding_mode`` 'zeros', 'reflect',
    'replicate' or 'circular' (the input is padded with :func:`slimgrad.functional.pad`, then convolved
    unpadded). A kernel (dilated) larger than the padded input is an error.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def _pad_widths(self) -> tuple:
        """``(left, right, top, bottom)`` as ``F.pad`` takes them; 'same' puts the odd extra after."""
        if self.padding == "valid":
            return 0, 0, 0, 0
        if self.padding == "same":
            (top, bottom), (left, right) = ((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                                            for k, d in zip(self.kernel_size, self.dilation))
            return left, right, top, bottom
        return self.padding[1], self.padding[1], self.padding[0], self.padding[0]

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        if self.padding != "same":
            padding = (0, 0) if self.padding == "valid" else self.padding
            for a, axis in ((0, "height"), (1, "width")):
                padded = input.shape[-2 + a] + 2 * padding[a]
                kernel = self.dilation[a] * (self.kernel_size[a] - 1) + 1
                if kernel > padded:
                    raise ValueError(f"{self._short_name()}: kernel {axis} {kernel} (dilated) is larger than the "
                                     f"padded input {axis} {padded}; input shape {input.shape}")
        if self.padding_mode != "zeros":
            widths = self._pad_widths()
            if any(widths):
                input = F.pad(input, widths, mode=self.padding_mode)
            return F.conv2d(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvBase):
    """Transposed convolution (the adjoint of ``Conv2d``), ``weight`` (in_channels, out_channels/groups, kH, kW).

    Output size: ``(h - 1)*s - 2p + d(k-1) + output_padding + 1``; ``forward(input, output_size)`` picks the
    ``output_padding`` that gives ``output_size`` (as PyTorch).
    """

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding=output_padding, device=device, dtype=dtype)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-2:]
        result = []
        for a in (0, 1):
            smallest = ((input.shape[-2 + a] - 1) * self.stride[a] - 2 * self.padding[a]
                        + self.dilation[a] * (self.kernel_size[a] - 1) + 1)
            largest = smallest + self.stride[a] - 1
            if not smallest <= size[a] <= largest:
                raise ValueError(f"{self._short_name()}: requested output_size {tuple(output_size)} is not reachable: "
                                 f"axis {a} must lie in [{smallest}, {largest}] for input shape {input.shape}")
            result.append(size[a] - smallest)
        return tuple(result)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._check_input(input)
        output_padding = self._output_padding(input, output_size)
        for a in (0, 1):
            size = ((input.shape[-2 + a] - 1) * self.stride[a] - 2 * self.padding[a]
                    + self.dilation[a] * (self.kernel_size[a] - 1) + output_padding[a] + 1)
            if size < 1:
                raise ValueError(f"{self._short_name()}: output size {size} along axis {a} is not positive for "
                                 f"input shape {input.shape} (padding={self.padding} too large)")
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)


class DepthwiseConv2d(Conv2d):
    """Depthwise convolution: each input channel convolved with its own ``depth_multiplier`` kernels.

    ``Conv2d(channels, channels * depth_multiplier, kernel_size, groups=channels)``. ``padding=None`` (default)
    is ``dilation * (kernel_size - 1) // 2``, so stride 1 keeps the spatial size for odd kernels.
    """

    def __init__(self, channels: int, kernel_size=3, stride=1, padding=None, dilation=1, depth_multiplier: int = 1,
                 bias: bool = True, dtype=None):
        name = type(self).__name__
        channels = _int(channels, "channels", name)
        multiplier = _int(depth_multiplier, "depth_multiplier", name)
        if padding is None:
            padding = _same_like_padding(_pair(kernel_size, "kernel_size", name), _pair(dilation, "dilation", name))
        super().__init__(channels, channels * multiplier, kernel_size, stride, padding, dilation,
                         groups=channels, bias=bias, dtype=dtype)
        self.channels, self.depth_multiplier = channels, multiplier

    def _short_name(self) -> str:
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        return f"{type(self).__name__}({self.channels}, kernel_size={k})"

    def extra_repr(self) -> str:
        s = f"{self.channels}, kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.depth_multiplier != 1:
            s += f", depth_multiplier={self.depth_multiplier}"
        return s + (", bias=False" if self.bias is None else "")


class PointwiseConv2d(Conv2d):
    """1x1 convolution ``Conv2d(in_channels, out_channels, 1)``: mixes channels at each pixel."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, dtype=None):
        super().__init__(in_channels, out_channels, 1, bias=bias, dtype=dtype)

    def _short_name(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}" + (", bias=False" if self.bias is None else "")


def _norm_act(norm_act, channels: int):
    """The module between depthwise and pointwise: None, 'bn', 'bn_relu' or a factory ``f(channels)``."""
    if norm_act is None:
        return None
    if norm_act == "bn":
        return BatchNorm2d(channels)
    if norm_act == "bn_relu":
        return Sequential(BatchNorm2d(channels), ReLU())
    if callable(norm_act) and not isinstance(norm_act, Module):
        module = norm_act(channels)
        if not isinstance(module, Module):
            raise TypeError(f"SeparableConv2d: norm_act({channels}) must return a Module, got "
                            f"{type(module).__name__}")
        return module
    raise ValueError(f"SeparableConv2d: norm_act must be None, 'bn', 'bn_relu' or a callable channels -> Module, "
                     f"got {norm_act!r}")


class SeparableConv2d(Module):
    """Depthwise-separable convolution: ``depthwise`` (k x k per channel) -> optional ``norm_act`` ->
    ``pointwise`` (1x1). A drop-in for ``Conv2d(in, out, kernel_size, stride, padding, dilation)``: same
    output shape, ``k*k*M + M*N`` weights instead of ``k*k*M*N``.

    ``padding=None`` is ``dilation * (k - 1) // 2`` (size-keeping at stride 1); ints, pairs, 'same' and
    'valid' are passed to the depthwise conv as to ``Conv2d``. The depthwise conv has no bias (a bias there
    is redundant before BN or the linear pointwise conv); ``bias`` is the pointwise conv's.
    ``norm_act``: None, ``'bn'`` (BatchNorm2d), ``'bn_relu'`` (BatchNorm2d + ReLU) or a factory
    ``channels -> Module``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=None, dilation=1,
                 bias: bool = True, norm_act=None, depth_multiplier: int = 1, dtype=None):
        super().__init__()
        self.depthwise = DepthwiseConv2d(in_channels, kernel_size, stride, padding, dilation, depth_multiplier,
                                         bias=False, dtype=dtype)
        middle = self.depthwise.out_channels
        norm = _norm_act(norm_act, middle)
        if norm is not None:
            self.norm_act = norm
        else:
            self.register_parameter("norm_act", None)
        self.pointwise = PointwiseConv2d(middle, out_channels, bias=bias, dtype=dtype)
        self.in_channels, self.out_channels = self.depthwise.in_channels, self.pointwise.out_channels
        self.kernel_size, self.stride = self.depthwise.kernel_size, self.depthwise.stride
        self.padding, self.dilation = self.depthwise.padding, self.depthwise.dilation
        self.depth_multiplier = self.depthwise.depth_multiplier

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor) or input.ndim not in (3, 4) or input.shape[-3] != self.in_channels:
            got = input.shape if isinstance(input, Tensor) else type(input).__name__
            k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
            raise ValueError(f"SeparableConv2d({self.in_channels}, {self.out_channels}, kernel_size={k}): expected "
                             f"input of shape (N, {self.in_channels}, H, W), got {got}")
        out = self.depthwise(input)
        if self.norm_act is not None:
            out = self.norm_act(out)
        return self.pointwise(out)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
