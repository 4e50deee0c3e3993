"""Indexing: ``x[index]`` (basic slices, None, Ellipsis, integer arrays, boolean masks, Tensor indices),
``narrow``, ``gather``, ``masked_fill`` and in-place ``x[index] = value`` on tensors outside the graph."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, is_grad_enabled


def _as_index(index):
    """Tensors and lists in an index become arrays; report whether an integer array (duplicates possible)
    is present."""
    items = index if isinstance(index, tuple) else (index,)
    out, has_int_array = [], False
    for item in items:
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, list):
            item = np.asarray(item)
        if isinstance(item, np.ndarray):
            if item.dtype != bool and not np.issubdtype(item.dtype, np.integer):
                raise IndexError(f"getitem: tensors used as indices must be integer or boolean, got dtype {item.dtype}")
            has_int_array |= item.dtype != bool
        out.append(item)
    return tuple(out), has_int_array


class GetItem(Function):
    """``a[index]``; backward writes the gradient into zeros of the input's shape — by plain assignment
    for slices and masks, by ``np.add.at`` for integer arrays, where an element may be picked twice."""

    def forward(self, a, index=(), accumulate=False):
        self.shape, self.index, self.accumulate = a.shape, index, accumulate
        return np.asarray(a[index])

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        if self.accumulate:
            np.add.at(grad, self.index, g)
        else:
            grad[self.index] = g
        return grad


def getitem(input: Tensor, index) -> Tensor:
    index, has_int_array = _as_index(index)
    try:
        return GetItem.apply(input, index=index, accumulate=has_int_array)
    except IndexError as exc:
        raise IndexError(f"getitem: index {index!r} is invalid for a tensor of shape {input.shape}: {exc}") from None


def setitem(input: Tensor, index, value) -> None:
    """In-place ``input[index] = value``; allowed only on tensors outside the graph (as PyTorch forbids it
    on leaves that require grad)."""
    if input.requires_grad and is_grad_enabled():
        raise RuntimeError("setitem: in-place assignment into a tensor that requires grad is not supported; "
                           "use torch-style out-of-place ops (where, masked_fill) or wrap it in no_grad()")
    index, _ = _as_index(index)
    input.data[index] = value.data if isinstance(value, Tensor) else value


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements of dim ``dim`` starting at ``start`` (a slice: backward by assignment)."""
    from .shape import _dim
    d = _dim(dim, input.ndim, "narrow")
    n = input.shape[d]
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds the size {n} of dim {dim}")
    index = (slice(None),) * d + (slice(start, start + length),)
    return GetItem.apply(input, index=index, accumulate=False)


class Gather(Function):
    """``out[i][j] = a[index[i][j]][j]`` (dim 0; likewise for other dims). Backward scatter-adds."""

    def forward(self, a, index=None, dim=0):
        grids = list(np.ix_(*[np.arange(n) for n in index.shape]))
        grids[dim] = index
        self.shape, self.full_index = a.shape, tuple(grids)
        return a[self.full_index]

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=g.dtype)
        np.add.at(grad, self.full_index, g)
        return grad


def gather(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """PyTorch's ``gather``: values along ``dim`` at ``index`` (int64, same ndim as ``input``, no larger than
    ``input`` in the other dims)."""
    from .shape import _dim
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"gather: expected an integer index, got dtype {idx.dtype}")
    d = _dim(dim, input.ndim, "gather")
    if idx.ndim != input.ndim:
        raise ValueError(f"gather: index must have the same number of dims as input: input shape {input.shape}, "
                         f"index shape {idx.shape}")
    for i, (ni, na) in enumerate(zip(idx.shape, input.shape)):
        if i != d and ni > na:
            raise ValueError(f"gather: index shape {idx.shape} exceeds input shape {input.shape} at dim {i}")
    if idx.size and (idx.min() < 0 or idx.max() >= input.shape[d]):
        raise IndexError(f"gather: index values must be in [0, {input.shape[d] - 1}] for dim {dim} of size "
                         f"{input.shape[d]}, got min {idx.min()} and max {idx.max()}")
    return Gather.apply(input, index=idx, dim=d)


def masked_fill(input: Tensor, mask, value) -> Tensor:
    """``value`` where ``mask`` is True, ``input`` elsewhere (no gradient flows to the filled places)."""
    from .elementwise import as_tensor, where
    mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"masked_fill: expected a boolean mask, got dtype {mask.dtype}")
    return where(mask, as_tensor(value, like=input), input)
