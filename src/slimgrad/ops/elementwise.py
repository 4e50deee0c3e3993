"""Elementwise operations, one import for all of them: arithmetic (:mod:`.arithmetic`), exp/log and other
math of one tensor (:mod:`.unary`), maximum/minimum/clamp/where (:mod:`.selection`), copies and dtype casts
(:mod:`.cast`), and the operand conversion they share (:mod:`.operands`).

Each op is a Function (forward on arrays, backward right below it) and a lower-case function that
accepts tensors or Python scalars. Binary ops broadcast; their backward sums the gradient back to each
input's shape (``unbroadcast``).
"""
from __future__ import annotations

from .arithmetic import (Add, Div, Mul, Neg, Pow, PowScalar, Reciprocal, Square, Sub, add, div, mul, neg, pow,
                         reciprocal, rsub, square, sub)
from .cast import Cast, Clone, cast, clone
from .operands import as_tensor
from .selection import Clip, Maximum, Minimum, Where, clamp, clip, maximum, minimum, where
from .unary import Abs, Exp, Log, Sqrt, abs, exp, log, sqrt

__all__ = [
    "as_tensor", "add", "sub", "mul", "div", "rsub", "pow", "neg", "square", "reciprocal", "exp", "log", "sqrt",
    "abs", "clone", "cast", "maximum", "minimum", "clamp", "clip", "where",
    "Add", "Sub", "Mul", "Div", "Pow", "PowScalar", "Neg", "Square", "Reciprocal", "Exp", "Log", "Sqrt", "Abs",
    "Clone", "Cast", "Maximum", "Minimum", "Clip", "Where",
]
