"""What a layer costs: multiply-adds (MACs), FLOPs, backward FLOPs and parameters, by documented rules.

Conventions (stated once, used everywhere):

* one multiply-add (MAC) = 2 FLOPs; ``flops`` = ``2 * macs`` + the non-MAC work of the layer;
* a transcendental (exp, log, erf, tanh, sqrt) or a division counts as 1 FLOP, like an add;
* a convolution's MACs count every kernel tap at every output position, padded zeros included
  (that is what an im2col / direct kernel executes, and the note's ``k*k*m*n*h'*w'``);
* backward FLOPs count the gradients the real backward computes: a gradient for an input or a parameter
  that does not require grad is skipped, exactly as ``Function.backward`` skips it via
  ``needs_input_grad``. So the first layer of a network, whose input is data, does no ``grad_input``.

A rule is a function ``rule(module, call) -> Cost`` registered for a layer class with :func:`register_rule`
(looked up along the class's MRO, so subclasses inherit it). Glue operations found in the autograd graph
between layers (a residual ``x + f(x)``) are costed by op rules keyed by their ``Function`` class
(:func:`slimgrad.analysis.op_cost.register_op_rule`). Built-in layer rules are listed in :data:`LAYER_RULES`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .rules import lookup_rule


@dataclass
class Call:
    """What a traced call looked like: shapes of its tensor inputs and output, which inputs need a gradient."""

    input_shapes: tuple
    output_shape: tuple
    needs_input_grad: tuple = ()
    training: bool = False

    @property
    def out_elems(self) -> int:
        return math.prod(self.output_shape)

    @property
    def in_elems(self) -> int:
        return math.prod(self.input_shapes[0]) if self.input_shapes else 0

    def input_needs_grad(self, i: int = 0) -> bool:
        return bool(self.needs_input_grad[i]) if i < len(self.needs_input_grad) else False


@dataclass
class Cost:
    """Forward MACs, forward FLOPs (MACs x 2 + other work) and backward FLOPs of one call."""

    macs: int = 0
    flops: int = 0
    backward_flops: int = 0
    notes: list = field(default_factory=list)


# ----------------------------------------------------------------------------- closed forms
def _pair(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, (int, float)) else tuple(int(x) for x in v)


_KINDS = ("standard", "depthwise", "pointwise", "separable")


def conv_cost(in_channels: int, out_channels: int, kernel_size, output_size, kind: str = "standard",
              bias: bool = False, batch_size: int = 1) -> dict:
    """MACs, FLOPs and parameters of one convolution producing ``output_size`` (int or (h', w')) maps.

    * standard:  ``MACs = K_h K_w M N H' W'``, params ``K_h K_w M N`` (+ N bias)
    * depthwise: ``MACs = K_h K_w N H' W'`` (one filter per output channel, each reading one input channel:
      ``N = d M`` for a depth multiplier d, usually 1), params ``K_h K_w N`` (+ N)
    * pointwise: ``MACs = M N H' W'``, params ``M N`` (+ N) (``kernel_size`` is ignored: it is 1)
    * separable: depthwise K x K then pointwise 1 x 1: ``MACs = K_h K_w M H' W' + M N H' W'``,
      params ``K_h K_w M + M N`` (+ M + N with bias on both)

    FLOPs = 2 MACs + one add per output element for each bias.
    """
    if kind not in _KINDS:
        raise ValueError(f"conv_cost: kind must be one of {_KINDS}, got {kind!r}")
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"conv_cost: {name} must be a positive integer, got {v!r}")
    kh, kw = _pair(kernel_size)
    oh, ow = _pair(output_size)
    if min(kh, kw, oh, ow) < 1:
        raise ValueError(f"conv_cost: kernel_size and output_size must be positive, got {kernel_size!r}, "
                         f"{output_size!r}")
    m, n, pos = in_channels, out_channels, batch_size * oh * ow
    if kind == "depthwise" and n % m:
        raise ValueError(f"conv_cost: a depthwise conv has out_channels = depth multiplier x in_channels: "
                         f"out_channels must be a multiple of in_channels={m}, got {n}")
    dw_channels = n if kind == "depthwise" else m  # separable: the depthwise half keeps M channels
    dw_macs, dw_params = kh * kw * dw_channels * pos, kh * kw * dw_channels
    pw_macs, pw_params = m * n * pos, m * n
    if kind == "standard":
        macs, params, bias_params = kh * kw * m * n * pos, kh * kw * m * n, n
    elif kind == "depthwise":
        macs, params, bias_params = dw_macs, dw_params, n
    elif kind == "pointwise":
        macs, params, bias_params = pw_macs, pw_params, n
    else:
        macs, params, bias_params = dw_macs + pw_macs, dw_params + pw_params, m + n
    bias_flops = bias_params * pos if bias else 0
    out = {"kind": kind, "macs": macs, "flops": 2 * macs + bias_flops,
           "params": params + (bias_params if bias else 0), "output_shape": (batch_size, n, oh, ow)}
    if kind == "separable":
        out.update(depthwise_macs=dw_macs, pointwise_macs=pw_macs)
    return out


def compare_separable(M: int, N: int, K: int, D_F: int) -> dict:
    """MobileNet's comparison of a K x K standard conv with its depthwise-separable replacement.

    ``standard = K^2 M N D_F^2``, ``separable = K^2 M D_F^2 + M N D_F^2``;
    ``ratio = separable / standard = 1/N + 1/K^2`` (parameters: ``K^2 M N`` vs ``K^2 M + M N``, no bias).
    """
    std = conv_cost(M, N, K, D_F, "standard")
    sep = conv_cost(M, N, K, D_F, "separable")
    return {
        "standard_macs": std["macs"], "separable_macs": sep["macs"],
        "standard_params": std["params"], "separable_params": sep["params"],
        "ratio": sep["macs"] / std["macs"], "params_ratio": sep["params"] / std["params"],
        "formula": "1/N + 1/K**2", "formula_value": 1 / N + 1 / K ** 2,
    }


# ----------------------------------------------------------------------------- layer rules
def _param_needs_grad(module, name: str) -> bool:
    p = getattr(module, name, None)
    return p is not None and bool(getattr(p, "requires_grad", False))


def _weighted_rule(macs: int, module, call: Call) -> Cost:
    """Shared by conv, transposed conv and linear: forward ``y = W * x (+ b)``.

    backward: ``grad_input`` is the adjoint op with the same MACs (skipped if the input needs no grad),
    ``grad_weight`` correlates input with ``grad_output``: the same MACs again (skipped if frozen),
    ``grad_bias`` sums ``grad_output``: one add per output element.
    """
    has_bias = getattr(module, "bias", None) is not None
    flops = 2 * macs + (call.out_elems if has_bias else 0)
    back = 0
    notes = []
    if call.input_needs_grad(0):
        back += 2 * macs
    else:
        notes.append("no grad_input (input needs no grad)")
    if _param_needs_grad(module, "weight"):
        back += 2 * macs
    if has_bias and _param_needs_grad(module, "bias"):
        back += call.out_elems
    return Cost(macs, flops, back, notes)


def conv_rule(module, call: Call) -> Cost:
    """Conv2d (any groups/dilation; depthwise and pointwise too): ``MACs = N H' W' * C_out * C_in/g * kh kw``,
    i.e. output positions times the weight's size (weight ``(C_out, C_in/g, kh, kw)``)."""
    n, _, oh, ow = call.output_shape
    return _weighted_rule(n * oh * ow * module.weight.data.size, module, call)


def conv_transpose_rule(module, call: Call) -> Cost:
    """ConvTranspose2d: each INPUT position scatters ``C_in * C_out/g * kh kw`` products:
    ``MACs = N H_in W_in * C_in * C_out/g * kh kw`` (weight ``(C_in, C_out/g, kh, kw)``)."""
    n, _, ih, iw = call.input_shapes[0]
    return _weighted_rule(n * ih * iw * module.weight.data.size, module, call)


def linear_rule(module, call: Call) -> Cost:
    """Linear: ``MACs = rows * in_features * out_features`` where rows = product of the leading dims."""
    rows = math.prod(call.output_shape[:-1])
    return _weighted_rule(rows * module.weight.data.size, module, call)


def _window_size(module) -> int:
    kh, kw = _pair(module.kernel_size)
    return kh * kw


def max_pool_rule(module, call: Call) -> Cost:
    """MaxPool2d: ``k_h k_w - 1`` comparisons per output; backward routes each output gradient to its
    argmax: one add per output element."""
    k = _window_size(module)
    back = call.out_elems if call.input_needs_grad(0) else 0
    return Cost(0, (k - 1) * call.out_elems, back)


def avg_pool_rule(module, call: Call) -> Cost:
    """AvgPool2d: ``k_h k_w - 1`` adds + 1 divide = ``k_h k_w`` FLOPs per output (padded taps counted as
    in the kernel); backward: 1 divide per output, then 1 add into each of the ``k_h k_w`` window cells."""
    k = _window_size(module)
    back = (k + 1) * call.out_elems if call.input_needs_grad(0) else 0
    return Cost(0, k * call.out_elems, back)


def _adaptive_windows(size_in: int, size_out: int) -> int:
    """Sum of PyTorch's adaptive window lengths ``ceil((i+1) in/out) - floor(i in/out)`` over outputs."""
    return sum(-(-((i + 1) * size_in) // size_out) - (i * size_in) // size_out for i in range(size_out))


def adaptive_avg_pool_rule(module, call: Call) -> Cost:
    """AdaptiveAvgPool2d / GlobalAvgPool2d: each output averages its window (PyTorch's adaptive windows):
    FLOPs = taps (adds, one per window cell minus one, + 1 divide) summed over outputs; backward: the same."""
    shape_in, shape_out = call.input_shapes[0], call.output_shape
    lead = math.prod(shape_in[:-2])
    if len(shape_out) < 2 or math.prod(shape_out) != lead * math.prod(shape_out[-2:]):
        oh = ow = 1  # global pooling that drops the spatial axes: (N, C, H, W) -> (N, C)
    else:
        oh, ow = shape_out[-2:]
    taps = lead * _adaptive_windows(shape_in[-2], oh) * _adaptive_windows(shape_in[-1], ow)
    back = taps + call.out_elems if call.input_needs_grad(0) else 0
    return Cost(0, taps, back)


def adaptive_max_pool_rule(module, call: Call) -> Cost:
    """AdaptiveMaxPool2d: window cells - 1 comparisons per output; backward: 1 add per output (argmax)."""
    taps = adaptive_avg_pool_rule(module, call).flops
    return Cost(0, taps - call.out_elems, call.out_elems if call.input_needs_grad(0) else 0)


def upsample_rule(module, call: Call) -> Cost:
    """Upsample / interpolate. nearest: 0 FLOPs (a copy); backward sums each output gradient into its source:
    1 add per output element. bilinear: 4 multiplies + 3 adds = 7 FLOPs per output (weights precomputed);
    backward: 4 multiplies + 4 adds = 8 per output."""
    mode = getattr(module, "mode", "nearest")
    per_fwd, per_back = (0, 1) if mode == "nearest" else (7, 8)
    back = per_back * call.out_elems if call.input_needs_grad(0) else 0
    return Cost(0, per_fwd * call.out_elems, back)


def batch_norm_rule(module, call: Call) -> Cost:
    """BatchNorm1d/2d, per element of the input.

    eval: scale and shift folded (``y = x * a + b``): 2 FLOPs; backward: ``grad_input = g * a``: 1, and for
    trainable affine parameters ``grad_beta = sum g`` (1) and ``grad_gamma = inv_std (sum g x - mean sum g)``
    (a dot product: 2; the rest is per channel): 3.
    train: mean (1 add) + centre (1 sub) + variance (square + add: 2) + normalise (1 mul) + affine (2) = 7;
    backward: ``dx = inv_std/m * (m g - sum g - x_hat sum(g x_hat))``: the two reductions (1 + 2) + 4
    per element for dx; the reductions give grad_beta/grad_gamma for free (so 3 without grad_input).
    Per-channel work (inv_std, running statistics) is O(C) and not counted.
    """
    e = call.out_elems
    affine = _param_needs_grad(module, "weight") or _param_needs_grad(module, "bias")
    need_x = call.input_needs_grad(0)
    if call.training:
        back = (3 if (affine or need_x) else 0) + (4 if need_x else 0)
        return Cost(0, 7 * e, back * e)
    back = (1 if need_x else 0) + (3 if affine else 0)
    return Cost(0, 2 * e, back * e)


def _elementwise(fwd: int, back: int, doc: str):
    def rule(module, call: Call) -> Cost:
        e = call.out_elems
        return Cost(0, fwd * e, back * e if call.input_needs_grad(0) else 0)

    rule.__doc__ = doc
    return rule


def dropout_rule(module, call: Call) -> Cost:
    """Dropout (train): multiply by the pre-scaled mask: 1 FLOP per element, backward 1; eval: 0."""
    if not call.training or getattr(module, "p", 0.5) == 0:
        return Cost()
    e = call.out_elems
    return Cost(0, e, e if call.input_needs_grad(0) else 0)


def free_rule(module, call: Call) -> Cost:
    """Layers that only move or view data (Flatten, Identity, Unflatten): 0 FLOPs both ways."""
    return Cost()


def softmax_rule(module, call: Call) -> Cost:
    """Softmax: max (1), subtract (1), exp (1), sum (1), divide (1) = 5 per element;
    backward ``s * (g - sum(g s))``: 4 per element. LogSoftmax: 5 forward, backward ``g - softmax sum g``: 4."""
    e = call.out_elems
    return Cost(0, 5 * e, 4 * e if call.input_needs_grad(0) else 0)


#: activation name -> (forward FLOPs, backward FLOPs) per element and how they are counted; the layers' rules
#: below and the functional calls' (:mod:`op_cost`) both read it.
ACTIVATION_FLOPS = {
    "ReLU": (1, 1, "ReLU: 1 compare per element; backward: 1 masked select."),
    "ReLU6": (2, 1, "ReLU6: 2 compares per element; backward: 1 masked select."),
    "LeakyReLU": (2, 2, "LeakyReLU: compare + multiply; backward: compare + multiply."),
    "Sigmoid": (4, 3, "Sigmoid 1/(1+exp(-x)): neg, exp, add, divide; backward g s (1-s): 3."),
    "Tanh": (1, 3, "Tanh: 1 (transcendental); backward g (1 - t^2): 3."),
    "GELU": (5, 8, "GELU x Phi(x): scale, erf, add, 2 mul = 5; backward Phi + x phi: 8."),
    "ELU": (3, 2, "ELU: compare, exp, multiply-subtract = 3; backward: compare + multiply = 2."),
    "SiLU": (5, 5, "SiLU x sigmoid(x): sigmoid (4) + multiply = 5; backward s (1 + x (1 - s)): 5."),
    "Softplus": (3, 3, "Softplus log(1 + exp(x)): exp, add, log = 3; backward g sigmoid(x): 3."),
}

#: layer class name -> rule; resolved against ``slimgrad.nn`` when first needed (layers may be added later).
LAYER_RULES = {
    "Conv2d": conv_rule, "DepthwiseConv2d": conv_rule, "PointwiseConv2d": conv_rule,
    "ConvTranspose2d": conv_transpose_rule,
    "Linear": linear_rule,
    "MaxPool2d": max_pool_rule, "AvgPool2d": avg_pool_rule,
    "AdaptiveAvgPool2d": adaptive_avg_pool_rule, "GlobalAvgPool2d": adaptive_avg_pool_rule,
    "AdaptiveMaxPool2d": adaptive_max_pool_rule,
    "Upsample": upsample_rule, "UpsamplingNearest2d": upsample_rule, "UpsamplingBilinear2d": upsample_rule,
    "BatchNorm1d": batch_norm_rule, "BatchNorm2d": batch_norm_rule,
    **{name: _elementwise(fwd, back, doc) for name, (fwd, back, doc) in ACTIVATION_FLOPS.items()},
    "Softmax": softmax_rule, "LogSoftmax": softmax_rule,
    "Dropout": dropout_rule, "Dropout2d": dropout_rule,
    "Flatten": free_rule, "Identity": free_rule, "Unflatten": free_rule,
}

_user_rules: dict = {}


def register_rule(cls, rule) -> None:
    """Use ``rule(module, call) -> Cost`` for layers of class ``cls`` (and its subclasses).

    A module with a rule is treated as one layer: its children are not traced separately.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_rule: cls must be a class, got {cls!r}")
    if not callable(rule):
        raise TypeError(f"register_rule: rule must be callable, got {rule!r}")
    _user_rules[cls] = rule


def get_rule(module):
    """The rule for ``module``'s class (user rules first, then built-ins, along the MRO), or None."""
    return lookup_rule(module, _user_rules, LAYER_RULES)
