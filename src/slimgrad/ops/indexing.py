"""Indexing: ``x[index]`` (basic slices, None, Ellipsis, integer arrays, boolean masks, Tensor indices),
``narrow``, ``gather``, ``masked_fill`` and in-place ``x[index] = value`` on tensors outside the graph."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor, is_grad_enabled
from .operands import as_tensor
from .selection import where


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


def _split_ints_from_arrays(index: tuple, ndim: int):
    """PyTorch applies integer scalars as basic indexing *before* array indices; NumPy treats them as advanced
    indices too, which moves dims differently (``x[0, :, [0, 1]]`` is (3, 2) in torch, (2, 3) in NumPy).
    Where both kinds occur, return ``(basic, advanced)`` so ``a[basic][advanced]`` follows PyTorch; else None."""
    has_int = any(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index)
    if not has_int or not any(isinstance(i, np.ndarray) and i.ndim > 0 for i in index):
        return None
    consumed = sum(i.ndim if isinstance(i, np.ndarray) and i.dtype == bool else (0 if i is None else 1)
                   for i in index if i is not Ellipsis)
    basic, advanced = [], []
    for item in index:
        if item is Ellipsis:
            basic.append(Ellipsis)
            advanced += [slice(None)] * (ndim - consumed)
        elif isinstance(item, np.ndarray) and item.ndim > 0:
            width = item.ndim if item.dtype == bool else 1
            basic += [slice(None)] * width
            advanced.append(item)
        elif isinstance(item, (int, np.integer)) or (isinstance(item, np.ndarray) and item.ndim == 0):
            basic.append(item)
        else:  # slice or None: one output dim either way
            basic.append(item)
            advanced.append(slice(None))
    return tuple(basic), tuple(advanced)


class GetItem(Function):
    """``a[index]``; backward writes the gradient into zeros of the input's shape — by plain assignment
    for slices and masks, by ``np.add.at`` for integer arrays, where an element may be picked twice."""

    def forward(self, a, index=(), accumulate=False, then=None):
        self.shape, self.index, self.accumulate, self.then = a.shape, index, accumulate, then
        out = a[index]
        if then is not None:  # two-step indexing (see _split_ints_from_arrays)
            self.mid_shape = out.shape
            out = out[then]
        return np.asarray(out)

    def backward(self, g):
        if self.then is not None:
            g = _scatter(g, self.mid_shape, self.then, self.accumulate)
            return _scatter(g, self.shape, self.index, False)
        return _scatter(g, self.shape, self.index, self.accumulate)


def _scatter(g, shape, index, accumulate):
    grad = np.zeros(shape, dtype=g.dtype)
    if accumulate:
        np.add.at(grad, index, g)
    else:
        grad[index] = g
    return grad


def getitem(input: Tensor, index) -> Tensor:
    index, has_int_array = _as_index(index)
    try:
        split = _split_ints_from_arrays(index, input.ndim)
        if split is not None:
            return GetItem.apply(input, index=split[0], accumulate=has_int_array, then=split[1])
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
    mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"masked_fill: expected a boolean mask, got dtype {mask.dtype}")
    return where(mask, as_tensor(value, like=input), input)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """PyTorch's ``F.one_hot``: int64 indices (*) -> int64 one-hot (*, num_classes) (inferred as max + 1 if -1)."""
    data = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if not np.issubdtype(data.dtype, np.integer):
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got dtype {data.dtype}")
    if num_classes == -1:
        if data.size == 0:
            raise ValueError("one_hot: can not infer the number of classes from an empty tensor")
        num_classes = int(data.max()) + 1
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes - 1}] for num_classes={num_classes}, "
                         f"got values in [{int(data.min())}, {int(data.max())}]")
    out = np.zeros(data.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, data[..., None].astype(np.intp), 1, axis=-1)
    return Tensor._wrap(out)
