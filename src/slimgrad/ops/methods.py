"""Bind PyTorch-named methods and operators onto :class:`~slimgrad.autograd.Tensor`.

The ops layer extends the Tensor defined below it; autograd never imports ops.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor, is_grad_enabled
from . import activation as act
from . import compare as cmp
from . import elementwise as ew
from . import indexing, linalg, reduce, shape
from . import unary


def _reflect(fn):
    return lambda self, other: fn(other, self)


def _to(self, *args, dtype=None, **kwargs):
    """``x.to(dtype)``; a device argument ('cpu') is accepted and ignored."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif not (isinstance(arg, str) and arg.startswith("cpu")):
            dtype = arg
    return self if dtype is None else ew.cast(self, dtype)


def _caster(dtype):
    return lambda self: ew.cast(self, dtype)


# ----------------------------------------------------------------- in-place methods (no graph)
def _inplace(name: str, update):
    """An in-place method ``name`` writing ``update(self_array, *args)`` into the tensor.

    As in PyTorch, a tensor that requires grad may be changed in place only under ``no_grad`` (a parameter
    update); the graph is not told, so these are for parameters, gradients and buffers, not for values
    saved by a forward pass.
    """

    def method(self, *args, **kwargs):
        if self.requires_grad and is_grad_enabled():
            kind = "a leaf tensor" if self._ctx is None else "a tensor recorded in the graph"
            raise RuntimeError(f"{name}: {kind} that requires grad can't be changed in place outside "
                               f"slimgrad.no_grad() (wrap parameter updates in `with sg.no_grad():`)")
        value = np.asarray(update(self.data, *args, **kwargs))
        try:
            value = np.broadcast_to(value, self.shape)
        except ValueError:
            raise ValueError(f"{name}: a value of shape {value.shape} can't be written into a tensor of shape "
                             f"{self.shape}") from None
        if self.data.flags.writeable:
            np.copyto(self.data, value, casting="unsafe")
        else:
            self.data = value.astype(self.dtype, copy=True)
        return self

    method.__name__ = name
    return method


def _array(value):
    return value.data if isinstance(value, Tensor) else value


def _clamp(data, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp_: at least one of min and max must be given")
    return np.clip(data, _array(min), _array(max))


_INPLACE = {
    "zero_": lambda data: np.zeros((), data.dtype),
    "fill_": lambda data, value: _array(value),
    "copy_": lambda data, src: _array(src),
    "add_": lambda data, other, alpha=1: data + alpha * _array(other),
    "sub_": lambda data, other, alpha=1: data - alpha * _array(other),
    "mul_": lambda data, other: data * _array(other),
    "div_": lambda data, other: data / _array(other),
    "clamp_": _clamp,
}

# ----------------------------------------------------------------- methods composed from the ops above
def _logical(fn, name: str):
    def method(self, dim=None, keepdim: bool = False):
        axes = reduce.normalize_axes(dim, self.ndim, name)
        return Tensor._wrap(np.asarray(fn(self.data.astype(bool), axis=axes, keepdims=keepdim)))
    method.__name__ = name
    return method


def _check_ndims(self, other, name: str, ndim: int) -> None:
    if self.ndim != ndim or getattr(other, "ndim", None) != ndim:
        raise ValueError(f"{name}: expected two {ndim}-d tensors, got shapes {self.shape} and "
                         f"{getattr(other, 'shape', type(other).__name__)}")


def _mm(self, other, name: str = "mm", ndim: int = 2):
    _check_ndims(self, other, name, ndim)
    return linalg.matmul(self, other)


def _outer(self, other):
    _check_ndims(self, other, "outer", 1)
    return ew.mul(shape.unsqueeze(self, 1), shape.unsqueeze(other, 0))


def _sizes(args, name: str) -> tuple:
    sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in sizes):
        raise ValueError(f"{name}: sizes must be non-negative integers, got {sizes}")
    return sizes


def _repeat(self, *sizes):
    """``torch.Tensor.repeat``: tile ``sizes[i]`` times along dim i (leading new dims allowed)."""
    sizes = _sizes(sizes, "repeat")
    if len(sizes) < self.ndim:
        raise ValueError(f"repeat: number of repeats {len(sizes)} can't be smaller than the number of "
                         f"dimensions {self.ndim}")
    base = (1,) * (len(sizes) - self.ndim) + self.shape
    x = shape.reshape(self, tuple(v for n in base for v in (1, n)))
    x = shape.expand(x, tuple(v for r, n in zip(sizes, base) for v in (r, n)))
    return shape.reshape(x, tuple(r * n for r, n in zip(sizes, base)))


def _flip(self, *dims):
    dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    axes = reduce.normalize_axes(tuple(dims), self.ndim, "flip")
    return indexing.getitem(self, tuple(slice(None, None, -1) if d in axes else slice(None)
                                        for d in range(self.ndim)))


def _index_select(self, dim: int, index):
    d = reduce.normalize_axes(dim, self.ndim, "index_select")[0]
    index = index.data if isinstance(index, Tensor) else np.asarray(index)
    if index.ndim > 1 or not np.issubdtype(index.dtype, np.integer):
        raise TypeError(f"index_select: index must be a 1-d integer tensor, got dtype {index.dtype} and "
                        f"shape {index.shape}")
    return indexing.getitem(self, (slice(None),) * d + (index.reshape(-1),))


def _unbind(self, dim: int = 0):
    d = reduce.normalize_axes(dim, self.ndim, "unbind")[0]
    return tuple(indexing.getitem(self, (slice(None),) * d + (i,)) for i in range(self.shape[d]))


def _new(fill):
    def method(self, size, *more, dtype=None, requires_grad: bool = False):
        size = _sizes((size,) + more, "new tensor")
        data = np.full(size, fill, dtype=self.dtype if dtype is None else dtype)
        return Tensor(data, requires_grad=requires_grad)
    return method


_COMPOSED = {
    "all": _logical(np.all, "all"), "any": _logical(np.any, "any"),
    "isnan": unary._constant_unary(np.isnan, "isnan"), "isinf": unary._constant_unary(np.isinf, "isinf"),
    "isfinite": unary._constant_unary(np.isfinite, "isfinite"),
    "mm": _mm, "bmm": lambda self, other: _mm(self, other, "bmm", 3),
    "repeat": _repeat, "flip": _flip, "index_select": _index_select, "unbind": _unbind,
    "clamp_min": lambda self, min: ew.clamp(self, min=min), "clamp_max": lambda self, max: ew.clamp(self, max=max),
    "new_zeros": _new(0), "new_ones": _new(1), "nelement": lambda self: self.numel(),
    "dot": lambda self, other: _mm(self, other, "dot", 1), "outer": _outer,
    # more elementwise math (ops/unary.py)
    "log1p": unary.log1p, "expm1": unary.expm1, "sin": unary.sin, "cos": unary.cos, "rsqrt": unary.rsqrt,
    "floor": unary.floor, "ceil": unary.ceil, "round": unary.round, "trunc": unary.trunc,
    "floor_divide": unary.floor_divide, "remainder": unary.remainder, "fmod": unary.fmod,
    "__floordiv__": unary.floor_divide, "__rfloordiv__": _reflect(unary.floor_divide),
    "__mod__": unary.remainder, "__rmod__": _reflect(unary.remainder),
    "logical_and": unary.logical_and, "logical_or": unary.logical_or, "logical_xor": unary.logical_xor,
    "__and__": unary.bitwise_and, "__rand__": _reflect(unary.bitwise_and),
    "__or__": unary.bitwise_or, "__ror__": _reflect(unary.bitwise_or),
    "__xor__": unary.bitwise_xor, "__rxor__": _reflect(unary.bitwise_xor),
}


_METHODS = {
    # operators
    "__add__": ew.add, "__radd__": _reflect(ew.add),
    "__sub__": ew.sub, "__rsub__": _reflect(ew.sub),
    "__mul__": ew.mul, "__rmul__": _reflect(ew.mul),
    "__truediv__": ew.div, "__rtruediv__": _reflect(ew.div),
    "__pow__": ew.pow, "__rpow__": _reflect(ew.pow),
    "__neg__": ew.neg, "__abs__": ew.abs, "__pos__": lambda self: self,
    "__matmul__": linalg.matmul, "__rmatmul__": _reflect(linalg.matmul),
    "__getitem__": indexing.getitem, "__setitem__": indexing.setitem,
    "__eq__": cmp.eq, "__ne__": cmp.ne, "__lt__": cmp.lt, "__le__": cmp.le, "__gt__": cmp.gt, "__ge__": cmp.ge,
    "__invert__": cmp.logical_not,
    # elementwise
    "add": ew.add, "sub": ew.sub, "subtract": ew.sub, "rsub": ew.rsub, "mul": ew.mul, "multiply": ew.mul,
    "div": ew.div, "divide": ew.div, "pow": ew.pow, "neg": ew.neg, "negative": ew.neg,
    "exp": ew.exp, "log": ew.log, "sqrt": ew.sqrt, "abs": ew.abs, "square": ew.square,
    "reciprocal": ew.reciprocal, "sign": cmp.sign,
    "maximum": ew.maximum, "minimum": ew.minimum, "clamp": ew.clamp, "clip": ew.clamp,
    "where": lambda self, condition, other: ew.where(condition, self, other),
    "eq": cmp.eq, "ne": cmp.ne, "lt": cmp.lt, "le": cmp.le, "gt": cmp.gt, "ge": cmp.ge,
    "logical_not": cmp.logical_not, "clone": ew.clone, "masked_fill": indexing.masked_fill,
    # dtype
    "to": _to, "type_as": lambda self, other: ew.cast(self, other.dtype),
    "float": _caster(np.float32), "double": _caster(np.float64), "half": _caster(np.float16),
    "long": _caster(np.int64), "int": _caster(np.int32), "bool": _caster(np.bool_),
    "contiguous": lambda self: self, "cpu": lambda self: self,
    # linalg
    "matmul": linalg.matmul,
    # reductions
    "sum": reduce.sum, "mean": reduce.mean, "prod": reduce.prod, "max": reduce.max, "min": reduce.min,
    "amax": reduce.amax, "amin": reduce.amin, "var": reduce.var, "std": reduce.std,
    "logsumexp": reduce.logsumexp, "argmax": reduce.argmax, "argmin": reduce.argmin,
    # shape
    "reshape": shape.reshape, "view": shape.view, "flatten": shape.flatten, "unflatten": shape.unflatten,
    "squeeze": shape.squeeze, "unsqueeze": shape.unsqueeze, "permute": shape.permute,
    "transpose": shape.transpose, "t": shape.t, "expand": shape.expand, "broadcast_to": shape.broadcast_to,
    "view_as": lambda self, other: shape.reshape(self, other.shape),
    "reshape_as": lambda self, other: shape.reshape(self, other.shape),
    "expand_as": lambda self, other: shape.expand(self, other.shape),
    "split": shape.split, "chunk": shape.chunk, "narrow": indexing.narrow, "gather": indexing.gather,
    # activations
    "relu": act.relu, "leaky_relu": act.leaky_relu, "elu": act.elu, "sigmoid": act.sigmoid, "tanh": act.tanh,
    "silu": act.silu, "softplus": act.softplus, "gelu": act.gelu,
    "softmax": act.softmax, "log_softmax": act.log_softmax,
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
for _name, _fn in _COMPOSED.items():
    setattr(Tensor, _name, _fn)
for _name, _update in _INPLACE.items():
    setattr(Tensor, _name, _inplace(_name, _update))

Tensor.T = property(lambda self: shape.permute(self, tuple(reversed(range(self.ndim)))))  # all dims reversed
Tensor.mT = property(shape.mT)
Tensor.device = property(lambda self: "cpu")
