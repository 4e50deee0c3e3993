"""Bind PyTorch-named methods and operators onto :class:`~slimgrad.autograd.Tensor`.

The ops layer extends the Tensor defined below it; autograd never imports ops.
"""
from __future__ import annotations

from ..autograd import Tensor
from . import elementwise as ew
from . import linalg, reduce, shape


def _reflect(fn):
    return lambda self, other: fn(other, self)


_METHODS = {
    # operators
    "__add__": ew.add, "__radd__": ew.add,
    "__sub__": ew.sub, "__rsub__": _reflect(ew.sub),
    "__mul__": ew.mul, "__rmul__": ew.mul,
    "__truediv__": ew.div, "__rtruediv__": _reflect(ew.div),
    "__pow__": ew.pow, "__rpow__": _reflect(ew.pow),
    "__neg__": ew.neg, "__abs__": ew.abs,
    "__matmul__": linalg.matmul, "__rmatmul__": _reflect(linalg.matmul),
    # elementwise
    "add": ew.add, "sub": ew.sub, "mul": ew.mul, "div": ew.div, "pow": ew.pow, "neg": ew.neg,
    "exp": ew.exp, "log": ew.log, "sqrt": ew.sqrt, "abs": ew.abs,
    "maximum": ew.maximum, "minimum": ew.minimum, "clamp": ew.clamp, "clip": ew.clamp,
    # linalg
    "matmul": linalg.matmul,
    # reductions
    "sum": reduce.sum, "mean": reduce.mean,
    # shape
    "reshape": shape.reshape, "view": shape.reshape,
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
