"""2-D convolution and transposed convolution (NCHW, PyTorch layouts), each the other's backward.

``conv2d``: ``out[n, o] = b[o] + sum_{c in group(o), i, j} w[o, c, i, j] * x_pad[n, c, y*s + i*d, x*s + j*d]``,
output size ``floor((h + 2p - d*(k-1) - 1)/s) + 1``. ``conv_transpose2d`` is its adjoint in the input:
``<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>``, output size ``(h-1)*s - 2p + d*(k-1) + output_padding + 1``.

Three array kernels serve both ops (see :mod:`slimgrad.ops.conv_kernels`): ``conv_forward`` (conv2d's forward,
conv_transpose2d's input gradient), ``conv_grad_input`` (conv2d's input gradient, conv_transpose2d's forward)
and ``conv_grad_weight`` (the weight gradient of both, with the roles of input and gradient swapped).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from .conv_kernels import ConvGeometry, bias_grad, conv_backward, conv_forward, conv_grad_input
from .shape import reshape
from .window import conv_padding, conv_output_size, pair, positive_pair


class Conv2d(Function):
    """``conv2d`` on arrays; backward: input grad = transposed conv of the output grad, weight grad via im2col."""

    def forward(self, x, w, b=None, *, geometry: ConvGeometry, out_size: tuple):
        self.geometry, self.out_size = geometry, out_size
        self.x = x if self.needs_input_grad[1] else None
        self.w = w if self.needs_input_grad[0] else None
        self.x_shape, self.w_shape = x.shape, w.shape
        return conv_forward(x, w, geometry, out_size, bias=b)

    def backward(self, g):
        needs = self.needs_input_grad
        gx, gw = conv_backward(self.x, g, self.w, self.geometry, self.x_shape, self.w_shape, needs[0], needs[1]) \
            if needs[0] or needs[1] else (None, None)
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (bias_grad(g) if needs[2] else None)


class ConvTranspose2d(Function):
    """``conv_transpose2d`` on arrays = conv2d's input gradient; its backward is conv2d (and conv2d's weight grad)."""

    def forward(self, y, w, b=None, *, geometry: ConvGeometry, out_shape: tuple):
        self.geometry = geometry
        self.y = y if self.needs_input_grad[1] else None
        self.w = w if self.needs_input_grad[0] else None
        self.y_shape, self.w_shape = y.shape, w.shape
        return conv_grad_input(y, w, geometry, out_shape, bias=b)

    def backward(self, g):
        needs = self.needs_input_grad
        gy = gw = None
        if needs[0] and needs[1]:  # one im2col of g serves both: gy = conv(g, w), dW from g's columns and y
            gy, gw = conv_forward(g, self.w, self.geometry, self.y_shape[2:], grad_weight_from=self.y)
        elif needs[0]:
            gy = conv_forward(g, self.w, self.geometry, self.y_shape[2:])
        elif needs[1]:
            gw = conv_backward(g, self.y, None, self.geometry, g.shape, self.w_shape, need_input=False)[1]
        if len(needs) == 2:
            return gy, gw
        return gy, gw, (bias_grad(g) if needs[2] else None)


# --------------------------------------------------------------------------- validation

def _as_float_tensor(t, name: str, op: str) -> Tensor:
    if not isinstance(t, Tensor):
        t = Tensor(np.asarray(t)) if isinstance(t, np.ndarray) else Tensor(t)
    if not np.issubdtype(t.dtype, np.floating):
        raise TypeError(f"{op}: expected a floating-point {name}, got dtype {t.dtype}")
    return t


def _check_operands(input, weight, bias, op: str):
    input = _as_float_tensor(input, "input", op)
    weight = _as_float_tensor(weight, "weight", op)
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: expected 3D (unbatched) or 4D (batched) input, but got input of shape "
                         f"{tuple(input.shape)}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected a 4D weight, got weight of shape {tuple(weight.shape)}")
    if input.dtype != weight.dtype:
        raise TypeError(f"{op}: input and weight must have the same dtype, got {input.dtype} and {weight.dtype}")
    if bias is not None:
        bias = _as_float_tensor(bias, "bias", op)
        if bias.dtype != input.dtype:
            raise TypeError(f"{op}: bias dtype {bias.dtype} differs from input dtype {input.dtype}")
    return input, weight, bias


def _check_groups(groups, op: str) -> int:
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if groups < 1:
        raise ValueError(f"{op}: non-positive groups is not supported, got groups={groups}")
    return int(groups)


def _check_bias(bias, channels: int, weight_shape, op: str) -> None:
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ValueError(f"{op}: given weight of shape {tuple(weight_shape)}, expected bias to be 1-dimensional "
                         f"with {channels} elements, but got bias of shape {tuple(bias.shape)}")


def _batched(input: Tensor):
    if input.ndim == 4:
        return input, False
    return reshape(input, (1,) + tuple(input.shape)), True


def _unbatched(out: Tensor, squeeze: bool) -> Tensor:
    if not squeeze:
        return out
    return reshape(out, tuple(out.shape[1:]))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution (cross-correlation) over an NCHW input, as ``torch.nn.functional.conv2d``.

    ``weight``: ``(C_out, C_in/groups, kH, kW)``; ``padding``: int, pair, ``'valid'`` or ``'same'`` (stride 1;
    an odd total pads the extra on the bottom/right). Output ``H_out = floor((H + 2p - d*(kH-1) - 1)/s) + 1``.
    """
    op = "conv2d"
    input, weight, bias = _check_operands(input, weight, bias, op)
    stride = positive_pair(stride, "stride", op)
    dilation = positive_pair(dilation, "dilation", op)
    groups = _check_groups(groups, op)
    c_out, c_in_g, kh, kw = weight.shape
    pads = conv_padding(padding, (kh, kw), stride, dilation, op)
    if c_out % groups:
        raise ValueError(f"{op}: given groups={groups}, expected weight to be divisible by {groups} at "
                         f"dimension 0, but got weight of shape {tuple(weight.shape)}")
    channels = input.shape[-3]
    if channels != c_in_g * groups:
        raise ValueError(f"{op}: given groups={groups}, weight of shape {tuple(weight.shape)}, expected input "
                         f"{tuple(input.shape)} to have {c_in_g * groups} channels, but got {channels} channels "
                         f"instead (C_in must be groups * weight.shape[1])")
    _check_bias(bias, c_out, weight.shape, op)
    h, w = input.shape[-2:]
    ph, pw = h + pads[0] + pads[1], w + pads[2] + pads[3]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if eh > ph or ew > pw:
        raise ValueError(f"{op}: calculated padded input size per channel: ({ph} x {pw}); kernel size "
                         f"(dilated): ({eh} x {ew}); kernel size can't be greater than actual input size")
    out_size = (conv_output_size(h, kh, stride[0], pads[0], dilation[0], pads[1]),
                conv_output_size(w, kw, stride[1], pads[2], dilation[1], pads[3]))
    geometry = ConvGeometry((kh, kw), stride, dilation, (pads[0], pads[2]), groups)
    input, squeeze = _batched(input)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    out = Conv2d.apply(*tensors, geometry=geometry, out_size=out_size)
    return _unbatched(out, squeeze)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """2-D transposed convolution, the adjoint of :func:`conv2d`, as ``torch.nn.functional.conv_transpose2d``.

    ``weight``: ``(C_in, C_out/groups, kH, kW)``. Output ``H_out = (H-1)*s - 2p + d*(kH-1) + output_padding + 1``;
    ``output_padding`` must be smaller than the stride or the dilation.
    """
    op = "conv_transpose2d"
    input, weight, bias = _check_operands(input, weight, bias, op)
    stride = positive_pair(stride, "stride", op)
    dilation = positive_pair(dilation, "dilation", op)
    groups = _check_groups(groups, op)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a pair of ints, got {padding!r}")
    ph, pw = pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: negative padding is not supported, got padding={padding!r}")
    oph, opw = pair(output_padding, "output_padding", op)
    if oph < 0 or opw < 0:
        raise ValueError(f"{op}: negative output_padding is not supported, got output_padding={output_padding!r}")
    if not (oph < stride[0] or oph < dilation[0]) or not (opw < stride[1] or opw < dilation[1]):
        raise ValueError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                         f"output_padding={(oph, opw)}, stride={stride}, dilation={dilation}")
    c_in, c_out_g, kh, kw = weight.shape
    channels = input.shape[-3]
    if c_in % groups:
        raise ValueError(f"{op}: given groups={groups}, expected weight to be divisible by {groups} at "
                         f"dimension 0, but got weight of shape {tuple(weight.shape)}")
    if channels != c_in:
        raise ValueError(f"{op}: given transposed weight of shape {tuple(weight.shape)} (C_in, C_out/groups, kH, kW), "
                         f"expected input {tuple(input.shape)} to have {c_in} channels, but got {channels} "
                         f"channels instead")
    _check_bias(bias, c_out_g * groups, weight.shape, op)
    h, w = input.shape[-2:]
    out_h = (h - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + oph + 1
    out_w = (w - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + opw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"{op}: output size ({out_h} x {out_w}) is too small for input {tuple(input.shape)} "
                         f"with padding={(ph, pw)}: (H-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1 "
                         f"must be >= 1")
    geometry = ConvGeometry((kh, kw), stride, dilation, (ph, pw), groups)
    input, squeeze = _batched(input)
    out_shape = (input.shape[0], c_out_g * groups, out_h, out_w)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    out = ConvTranspose2d.apply(*tensors, geometry=geometry, out_shape=out_shape)
    return _unbatched(out, squeeze)
