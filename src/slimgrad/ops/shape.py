"""Shape operations: reshape/view, flatten, squeeze/unsqueeze, transpose/permute, expand, cat/stack,
split/chunk, pad. Indexing and gather live in :mod:`slimgrad.ops.indexing`."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor, unbroadcast


def _sizes(shape, op: str) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both give ``(2, 3)``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{op}: sizes must be ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def _dim(dim, ndim: int, op: str, extra: int = 0) -> int:
    """Validate one dim against ``ndim + extra`` axes (``extra=1`` for unsqueeze/stack) and make it >= 0."""
    n = ndim + extra
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    lo, hi = -max(n, 1), max(n, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected a value in [{lo}, {hi}])")
    return int(dim) % max(n, 1)


class Reshape(Function):
    def forward(self, a, shape=()):
        self.in_shape = a.shape
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """The same elements in a new ``shape`` (one entry may be -1). Also ``view``."""
    shape = _sizes(shape, "reshape")
    try:  # resolve -1 and validate on a zero-cost broadcast view
        target = np.broadcast_to(np.empty((), dtype=np.int8), input.shape).reshape(shape).shape
    except ValueError:
        raise ValueError(f"reshape: shape {shape} is invalid for input of shape {input.shape} "
                         f"({input.numel()} elements)") from None
    return Reshape.apply(input, shape=target)


view = reshape


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a 0-d tensor becomes shape (1,))."""
    if input.ndim == 0:
        return reshape(input, (1,))
    start, end = _dim(start_dim, input.ndim, "flatten"), _dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    shape = input.shape
    return reshape(input, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1)."""
    d = _dim(dim, input.ndim, "unflatten")
    return reshape(input, input.shape[:d] + tuple(sizes) + input.shape[d + 1:])


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all, or those in ``dim``; a listed dim whose size is not 1 is left alone)."""
    if dim is None:
        dims = [i for i, s in enumerate(input.shape) if s == 1]
    else:
        dims = [_dim(d, input.ndim, "squeeze") for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
        dims = [d for d in dims if input.ndim and input.shape[d] == 1]
    return reshape(input, tuple(s for i, s in enumerate(input.shape) if i not in dims))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (in ``[-ndim-1, ndim]``)."""
    d = _dim(dim, input.ndim, "unsqueeze", extra=1)
    return reshape(input, input.shape[:d] + (1,) + input.shape[d:])


class Permute(Function):
    def forward(self, a, dims=()):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        return g.transpose(np.argsort(self.dims))


def permute(input: Tensor, *dims) -> Tensor:
    """Reorder the dims: output dim i is input dim ``dims[i]``."""
    dims = _sizes(dims, "permute")
    if len(dims) != input.ndim:
        raise ValueError(f"permute: expected {input.ndim} dims for input of shape {input.shape}, got {dims}")
    dims = tuple(_dim(d, input.ndim, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise ValueError(f"permute: dims must be a permutation of 0..{input.ndim - 1}, got {dims}")
    return Permute.apply(input, dims=dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dims ``dim0`` and ``dim1``."""
    if input.ndim == 0:
        _dim(dim0, 0, "transpose"), _dim(dim1, 0, "transpose")
        return reshape(input, ())
    d0, d1 = _dim(dim0, input.ndim, "transpose"), _dim(dim1, input.ndim, "transpose")
    dims = list(range(input.ndim))
    dims[d0], dims[d1] = d1, d0
    return Permute.apply(input, dims=tuple(dims))


def t(input: Tensor) -> Tensor:
    """Transpose of a tensor with at most 2 dims (``x.T`` for 2-D, identity below)."""
    if input.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {input.shape}")
    return transpose(input, 0, 1) if input.ndim == 2 else reshape(input, input.shape)


def mT(input: Tensor) -> Tensor:  # noqa: N802  (PyTorch's name)
    """Swap the last two dims (batched matrix transpose)."""
    if input.ndim < 2:
        raise ValueError(f"mT: expects a tensor with >= 2 dimensions, got shape {input.shape}")
    return transpose(input, -2, -1)


class Expand(Function):
    def forward(self, a, shape=()):
        self.in_shape = a.shape
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return unbroadcast(g, self.in_shape)


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to ``sizes`` without copying; -1 keeps that dim; new dims may be added in front."""
    sizes = _sizes(sizes, "expand")
    if len(sizes) < input.ndim:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be >= the number of dims of input "
                         f"shape {input.shape}")
    lead = len(sizes) - input.ndim
    target = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise ValueError(f"expand: -1 is not allowed for a new leading dim, got sizes {sizes}")
            s = input.shape[i - lead]
        elif i >= lead and input.shape[i - lead] not in (1, s):
            raise ValueError(f"expand: the expanded size {s} must match the existing size "
                             f"{input.shape[i - lead]} at dim {i} (size 1 can be expanded), input shape {input.shape}")
        target.append(s)
    return Expand.apply(input, shape=tuple(target))


def broadcast_to(input: Tensor, shape) -> Tensor:
    """NumPy/PyTorch broadcasting of ``input`` to ``shape``."""
    try:
        np.broadcast_shapes(input.shape, tuple(shape))
    except ValueError:
        raise ValueError(f"broadcast_to: input of shape {input.shape} can't be broadcast to {tuple(shape)}") from None
    return expand(input, *shape)


class Concat(Function):
    """Join along ``dim``; the gradient is split back into the pieces."""

    def forward(self, *arrays, dim=0):
        self.bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        self.dtypes, self.dim = [a.dtype for a in arrays], dim
        return np.concatenate(arrays, axis=dim)

    def backward(self, g):
        pieces = np.split(g, self.bounds, axis=self.dim)
        return tuple(p.astype(dt, copy=False) if need else None
                     for p, dt, need in zip(pieces, self.dtypes, self.needs_input_grad))


class Stack(Function):
    """Join along a new ``dim``; the gradient of piece i is ``g`` at index i of that dim."""

    def forward(self, *arrays, dim=0):
        self.dtypes, self.dim = [a.dtype for a in arrays], dim
        return np.stack(arrays, axis=dim)

    def backward(self, g):
        return tuple(np.take(g, i, axis=self.dim).astype(dt, copy=False) if need else None
                     for i, (dt, need) in enumerate(zip(self.dtypes, self.needs_input_grad)))


def _check_sequence(tensors, op: str) -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing ``dim``; all other sizes must match."""
    tensors = _check_sequence(tensors, "cat")
    ref = tensors[0]
    d = _dim(dim, ref.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or t.shape[:d] + t.shape[d + 1:] != ref.shape[:d] + ref.shape[d + 1:]:
            raise ValueError(f"cat: sizes must match except in dim {dim}: tensor 0 has shape {ref.shape}, "
                             f"tensor {i} has shape {t.shape}")
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    return Concat.apply(*tensors, dim=d)


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack equal-shaped tensors along a new ``dim``."""
    tensors = _check_sequence(tensors, "stack")
    ref = tensors[0]
    for i, t in enumerate(tensors):
        if t.shape != ref.shape:
            raise ValueError(f"stack: expects each tensor to be equal size, but got {ref.shape} at entry 0 "
                             f"and {t.shape} at entry {i}")
    return Stack.apply(*tensors, dim=_dim(dim, ref.ndim, "stack", extra=1))


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of size ``split_size`` (the last may be smaller) or of the listed sizes, along ``dim``."""
    from .indexing import narrow
    d = _dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split_size must be positive, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, n - s) for s in range(0, n, split_size_or_sections)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: split_sizes {sizes} must sum to the size of dim {dim} ({n})")
    starts = np.cumsum([0] + sizes[:-1])
    return tuple(narrow(tensor, d, int(s), size) for s, size in zip(starts, sizes))


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of size ``ceil(n / chunks)`` along ``dim``."""
    if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    d = _dim(dim, input.ndim, "chunk")
    return split(input, max(1, -(-input.shape[d] // chunks)), d)


# ----------------------------------------------------------------- padding
_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class ConstantPad(Function):
    """Pad (or crop, for negative widths) with a constant; backward slices the gradient back out."""

    def forward(self, a, pairs=(), value=0.0):
        crop = tuple(slice(-min(lo, 0), a.shape[i] + min(hi, 0)) for i, (lo, hi) in enumerate(pairs))
        widths = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
        self.in_shape, self.crop, self.widths = a.shape, crop, widths
        return np.pad(a[crop], widths, mode="constant", constant_values=value)

    def backward(self, g):
        inner = tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(self.widths))
        grad = np.zeros(self.in_shape, dtype=g.dtype)
        grad[self.crop] = g[inner]
        return grad


class IndexPad(Function):
    """Reflect / replicate / circular padding as a gather along each padded axis; backward scatter-adds.
    ``pairs`` (the widths per axis) is kept for the graph's readers (the receptive-field rule)."""

    def forward(self, a, index=(), pairs=()):
        self.in_shape, self.index, self.pairs = a.shape, index, pairs
        out = a
        for axis, idx in index:
            out = np.take(out, idx, axis=axis)
        return out

    def backward(self, g):
        for axis, idx in reversed(self.index):
            moved = np.moveaxis(g, axis, 0)
            acc = np.zeros((self.in_shape[axis],) + moved.shape[1:], dtype=g.dtype)
            np.add.at(acc, idx, moved)
            g = np.moveaxis(acc, 0, axis)
        return g


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """PyTorch's ``F.pad``: ``pad = (last_left, last_right, 2nd_last_left, 2nd_last_right, ...)``;
    negative widths crop. Modes: 'constant' (with ``value``, default 0), 'reflect', 'replicate', 'circular'."""
    if not isinstance(pad, (tuple, list)) or not all(isinstance(p, (int, np.integer)) for p in pad):
        raise TypeError(f"pad: expected a tuple of ints, got {pad!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: expected an even number of widths, at most 2 * input.ndim = {2 * input.ndim}, "
                         f"got {len(pad)} ({tuple(pad)}) for input of shape {input.shape}")
    pairs = [(0, 0)] * input.ndim
    for k in range(len(pad) // 2):
        pairs[input.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    for i, (lo, hi) in enumerate(pairs):
        if input.shape[i] + lo + hi < 0 or (lo < 0 and -lo > input.shape[i]) or (hi < 0 and -hi > input.shape[i]):
            raise ValueError(f"pad: widths {(lo, hi)} crop more than the size {input.shape[i]} of dim {i}")
    if mode == "constant":
        return ConstantPad.apply(input, pairs=tuple(pairs), value=0.0 if value is None else value)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value not in (None, 0, 0.0):
        raise ValueError(f"pad: value is only used with mode='constant', got value={value} with mode={mode!r}")
    index = []
    for axis, (lo, hi) in enumerate(pairs):
        if lo == hi == 0:
            continue
        n = input.shape[axis]
        if lo < 0 or hi < 0:
            raise ValueError(f"pad: negative widths are only supported with mode='constant', got {(lo, hi)} "
                             f"with mode={mode!r}")
        limit = n - 1 if mode == "reflect" else n
        if mode != "replicate" and (lo > limit or hi > limit):
            raise ValueError(f"pad: {mode} padding widths must be at most {limit} for dim {axis} of size {n}, "
                             f"got {(lo, hi)}")
        if n == 0:
            raise ValueError(f"pad: can't {mode}-pad dim {axis} of size 0")
        index.append((axis, np.pad(np.arange(n), (lo, hi), mode=_PAD_MODES[mode])))
    return IndexPad.apply(input, index=tuple(index), pairs=tuple(pairs))
