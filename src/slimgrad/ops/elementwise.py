"""The elementwise ops' lower-case functions in one namespace (what ``slimgrad``, ``slimgrad.functional`` and
the Tensor methods import): arithmetic (:mod:`.arithmetic`), exp/log and other math of one tensor
(:mod:`.unary`), maximum/minimum/clamp/where (:mod:`.selection`), copies and dtype casts (:mod:`.cast`). Each
is defined there next to its Function (forward on arrays, backward right below it) and accepts tensors or
Python scalars; binary ops broadcast, and their backward sums the gradient back to each input's shape.
"""
from __future__ import annotations

from .arithmetic import add, div, mul, neg, pow, reciprocal, rsub, square, sub
from .cast import cast, clone
from .selection import clamp, clip, maximum, minimum, where
from .unary import abs, exp, log, sqrt

__all__ = ["add", "sub", "mul", "div", "rsub", "pow", "neg", "square", "reciprocal", "exp", "log", "sqrt", "abs",
           "clone", "cast", "maximum", "minimum", "clamp", "clip", "where"]
