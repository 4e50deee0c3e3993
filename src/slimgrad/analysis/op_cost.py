"""Cost rules for the autograd operations found *between* layers: ``x + f(x)``, ``F.relu(x)``, ``x @ w`` written
in a container's ``forward``. Same conventions as :mod:`slimgrad.analysis.cost` (1 MAC = 2 FLOPs). Rules are
keyed by the ``Function`` class name (:func:`register_op_rule` adds or overrides one); an operation without a
rule is shown with a warning and makes the totals partial.
"""
from __future__ import annotations

import math

from .cost import (ACTIVATION_FLOPS, Call, Cost, adaptive_avg_pool_rule, adaptive_max_pool_rule, avg_pool_rule, max_pool_rule,
                   upsample_rule)


def _op(fwd: int, back_per_input: int):
    def rule(fn, call: Call) -> Cost:
        e = call.out_elems
        return Cost(0, fwd * e, back_per_input * e * sum(map(bool, call.needs_input_grad)))
    return rule


def _reduce_op(fwd_per_input: int, back_per_input: int):
    def rule(fn, call: Call) -> Cost:
        e = call.in_elems
        return Cost(0, fwd_per_input * e, back_per_input * e if call.input_needs_grad(0) else 0)
    return rule


def _weighted_op(macs_of):
    def rule(fn, call: Call) -> Cost:
        macs = macs_of(call)
        bias = len(call.input_shapes) > 2
        back = sum(2 * macs for i in (0, 1) if call.input_needs_grad(i))
        back += call.out_elems if bias and call.input_needs_grad(2) else 0
        return Cost(macs, 2 * macs + (call.out_elems if bias else 0), back)
    return rule


def _conv_op_macs(call: Call) -> int:
    n, _, oh, ow = call.output_shape
    return n * oh * ow * math.prod(call.input_shapes[1])


def _conv_transpose_op_macs(call: Call) -> int:
    n, _, ih, iw = call.input_shapes[0]
    return n * ih * iw * math.prod(call.input_shapes[1])


def _matmul_macs(call: Call) -> int:
    return call.out_elems * call.input_shapes[0][-1]


def _linear_op_macs(call: Call) -> int:
    return math.prod(call.output_shape[:-1]) * math.prod(call.input_shapes[1])


class _Window:
    """What the layer rules read from a pooling or resizing module, taken from the Function that ran."""

    def __init__(self, kernel_size=(1, 1), mode="nearest"):
        self.kernel_size, self.mode = kernel_size, mode


def _layer_rule(rule, window):
    """A layer rule of :mod:`slimgrad.analysis.cost` applied to the functional op (F.max_pool2d, ...)."""
    return lambda fn, call: rule(window(fn), call)


def _pool_window(fn):
    return _Window(kernel_size=fn.geometry[0])


def _resize_window(fn):
    return _Window(mode="nearest" if type(fn).__name__ == "ResizeNearest" else "bilinear")


#: autograd ``Function`` class name -> rule for glue operations between layers (``F.relu(x)``, ``x + y``,
#: ``x @ w`` written in a container's ``forward``). Pooling and resizing use the layer rules with the geometry
#: read from the Function (Prod: 1 mul, backward 2; Var: sub, square, add, backward 3; LogSumExp: max, sub,
#: exp, add, backward 2; per input element). Elementwise ops: FLOPs per output element forward, and per
#: output element per input that needs a gradient backward (Add passes the gradient through: 0; Mul forms
#: ``g*b`` / ``g*a``: 1). Reductions count per input element. Data movement (reshape, permute, concat, pad,
#: indexing) is 0. Functional conv / linear / matmul use the layer rules' MAC counts from the weight's shape.
OP_RULES = {
    "Add": _op(1, 0), "Sub": _op(1, 1), "Mul": _op(1, 1), "Div": _op(1, 3), "Neg": _op(1, 1),
    "Pow": _op(1, 3), "PowScalar": _op(1, 2), "Exp": _op(1, 1), "Log": _op(1, 1), "Sqrt": _op(1, 2),
    "Abs": _op(1, 1), "Square": _op(1, 2), "Reciprocal": _op(1, 2), "Maximum": _op(1, 1), "Minimum": _op(1, 1),
    "Clip": _op(2, 1), "Where": _op(1, 1), "MaskMul": _op(1, 1),
    **{name: _op(fwd, back) for name, (fwd, back, _) in ACTIVATION_FLOPS.items()},
    "Softmax": _op(5, 4), "LogSoftmax": _op(5, 4),
    "Sum": _reduce_op(1, 0), "Mean": _reduce_op(1, 1), "AMax": _reduce_op(1, 1),
    "BatchNormTrain": _reduce_op(7, 7), "BatchNormEval": _reduce_op(2, 1),
    "Clone": _op(0, 0), "Cast": _op(0, 0), "Reshape": _op(0, 0), "Permute": _op(0, 0), "Expand": _op(0, 0),
    "Concat": _op(0, 0), "Stack": _op(0, 0), "ConstantPad": _op(0, 0), "IndexPad": _op(0, 0),
    "GetItem": _op(0, 0), "Gather": _op(0, 0),
    "Conv2d": _weighted_op(_conv_op_macs), "ConvTranspose2d": _weighted_op(_conv_transpose_op_macs),
    "Linear": _weighted_op(_linear_op_macs), "MatMul": _weighted_op(_matmul_macs),
    "MaxPool2d": _layer_rule(max_pool_rule, _pool_window), "AvgPool2d": _layer_rule(avg_pool_rule, _pool_window),
    "AdaptiveAvgPool2d": _layer_rule(adaptive_avg_pool_rule, _Window),
    "AdaptiveMaxPool2d": _layer_rule(adaptive_max_pool_rule, _Window),
    "ResizeNearest": _layer_rule(upsample_rule, _resize_window),
    "ResizeBilinear": _layer_rule(upsample_rule, _resize_window),
    "Prod": _reduce_op(1, 2), "Var": _reduce_op(3, 3), "LogSumExp": _reduce_op(4, 2), "SelectAlongDim": _op(0, 0),
}

_user_op_rules: dict = {}


def register_op_rule(function_cls, rule) -> None:
    """Use ``rule(function, call) -> Cost`` for autograd Functions of this class (or class name)."""
    if not callable(rule):
        raise TypeError(f"register_op_rule: rule must be callable, got {rule!r}")
    key = function_cls if isinstance(function_cls, str) else getattr(function_cls, "__name__", None)
    if not key:
        raise TypeError(f"register_op_rule: expected a Function class or its name, got {function_cls!r}")
    _user_op_rules[key] = rule


def get_op_rule(function):
    """The rule for an autograd Function (by class name; user rules first), or None."""
    name = type(function).__name__
    return _user_op_rules.get(name) or OP_RULES.get(name)
