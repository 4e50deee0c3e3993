"""Tensors and reverse-mode automatic differentiation (backpropagation).

A :class:`Tensor` wraps an array. Every differentiable operation is a :class:`Function` subclass whose
``forward`` computes the output from raw arrays and whose ``backward``, right below it, maps the gradient
of the output to the gradients of the inputs. Applying a Function records it as the output's ``_ctx``;
:meth:`Tensor.backward` sorts that graph topologically (iteratively: no recursion limit) and replays the
backward rules in reverse order, accumulating gradients into the leaves, then frees the graph.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np

from . import backend

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Sets graph recording to ``_mode`` inside the block and restores the previous setting after it."""

    _mode: bool

    def _recreate_cm(self):
        """A fresh instance for each call of a decorated function (so a recursive one keeps its own ``_prev``)."""
        fresh = object.__new__(type(self))
        fresh._mode = self._mode
        return fresh

    def __enter__(self):
        global _grad_enabled
        self.__dict__.setdefault("_prev", _grad_enabled)  # set_grad_enabled(...) recorded it when called
        _grad_enabled = self._mode
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.__dict__.pop("_prev")
        return False


class no_grad(_GradMode):
    """Context manager (and decorator) in which operations record no graph."""

    _mode = False


class enable_grad(_GradMode):
    """Context manager that turns graph recording back on inside ``no_grad``."""

    _mode = True


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off: as a call (``set_grad_enabled(False)``) or as a context manager.

    The call itself switches (as PyTorch's); leaving the block restores the setting from before the call.
    """

    def __init__(self, mode: bool):
        global _grad_enabled
        self._mode = bool(mode)
        self._prev, _grad_enabled = _grad_enabled, self._mode

    def __call__(self, func):
        """As a decorator it switches only inside the function (the call that made it is undone, as PyTorch)."""
        global _grad_enabled
        _grad_enabled = self.__dict__.pop("_prev")
        return super().__call__(func)


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


class Function:
    """One differentiable operation: ``forward`` on arrays, ``backward`` on the output's gradient.

    Subclasses implement ``forward(self, *arrays, **params) -> array`` and
    ``backward(self, grad_output) -> grad or tuple of grads`` (one per tensor input, ``None`` where no
    gradient is needed: see ``self.needs_input_grad``). Whatever backward needs is saved on ``self``.
    """

    __slots__ = ("parents", "needs_input_grad", "freed", "__dict__")

    @classmethod
    def apply(cls, *inputs: "Tensor", **params) -> "Tensor":
        ctx = cls()
        needs = tuple([t.requires_grad for t in inputs])
        ctx.needs_input_grad = needs
        out = ctx.forward(*[t.data for t in inputs], **params)
        requires_grad = _grad_enabled and True in needs
        result = Tensor._wrap(out, requires_grad)
        if requires_grad:
            ctx.parents = inputs
            ctx.freed = False
            result._ctx = ctx
        return result

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, grad_output):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def free(self) -> None:
        """Drop the saved arrays and the links to the inputs (the graph is freed after backward)."""
        self.parents = None
        self.freed = True
        self.__dict__.clear()


def _topological_order(roots, grad_only: bool = True) -> list:
    """Tensors reachable from ``roots`` through recorded Functions, inputs before outputs (iterative DFS).

    ``grad_only`` (the backward pass) follows only inputs that require grad and refuses a graph already
    freed by a backward; otherwise (graph inspection) every input is followed and a freed graph ends there.
    """
    order, visited = [], set()
    stack = [(root, False) for root in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            if ctx.freed and grad_only:
                raise RuntimeError(
                    "backward: trying to backward through the graph a second time (its saved values were "
                    "freed by the first backward); pass retain_graph=True to the first call if you need this"
                )
            for parent in ctx.parents or ():
                if (parent.requires_grad or not grad_only) and id(parent) not in visited:
                    stack.append((parent, False))
    return order


class Tensor:
    """An n-dimensional array that can record the operations applied to it for backpropagation."""

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # make ndarray <op> Tensor defer to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        arr = backend.xp.asarray(data, dtype=dtype)
        if dtype is None and not isinstance(data, (np.ndarray, np.generic)) and arr.dtype == np.float64:
            arr = arr.astype(backend.get_default_dtype())  # Python floats become the default dtype
        if requires_grad and not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype {arr.dtype}"
            )
        self.data = arr
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._ctx = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, array, requires_grad: bool = False) -> "Tensor":
        """Wrap an array without copying or converting it (used by Function.apply)."""
        t = cls.__new__(cls)
        t.data = array if isinstance(array, np.ndarray) else backend.xp.asarray(array)
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = None
        t._retains_grad = False
        return t

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def size(self, dim: int | None = None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy(): can't call numpy() on a Tensor that requires grad; use .detach().numpy()")
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python scalar, got shape {self.shape}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor._wrap(self.data, False)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(f"requires_grad_: only floating-point tensors can require gradients, got {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retains_grad = True

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, prefix="tensor(")
        extra = ""
        if self.data.dtype != backend.get_default_dtype() and self.data.dtype != np.int64:
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"bool(): the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def __hash__(self):
        return id(self)

    # ----------------------------------------------------------------- backward
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor: accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is d(loss)/d(self); it may be omitted only for single-element tensors.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs; this tensor has shape "
                    f"{self.shape}: pass gradient= of that shape"
                )
            grad = np.ones_like(self.data)
        else:
            grad = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient, dtype=self.dtype)
            if grad.shape != self.shape:
                raise RuntimeError(f"backward: gradient has shape {grad.shape}, expected {self.shape}")
            grad = grad.astype(self.dtype, copy=False)
        order = _topological_order([self])
        grads = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            if ctx is None or node._retains_grad:
                _accumulate(node, g)
            if ctx is None:
                continue
            in_grads = ctx.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for parent, pg in zip(ctx.parents, in_grads):
                if pg is None or not parent.requires_grad:
                    continue
                if pg.shape != parent.data.shape:
                    raise RuntimeError(
                        f"backward: {type(ctx).__name__}.backward returned a gradient of shape {pg.shape} for an "
                        f"input of shape {parent.data.shape}"
                    )
                if pg.dtype != parent.data.dtype:
                    pg = pg.astype(parent.data.dtype)
                key = id(parent)
                prev = grads.get(key)
                grads[key] = pg if prev is None else prev + pg
            in_grads = pg = None  # only ``grads`` holds them now (see _accumulate)
            if not retain_graph:
                ctx.free()


def _refs_of_a_local() -> int:
    """``sys.getrefcount`` of an array one local name of the caller holds, as the callee sees it."""
    g = np.empty(1)
    return (lambda a: sys.getrefcount(a))(g)


_SOLE_REFS = _refs_of_a_local()
"""``sys.getrefcount`` of an array held by one local name of the caller, as seen in the callee (measured:
the count differs between Python versions)."""


def _sole_owner(g: np.ndarray, refs: int) -> bool:
    """``g`` owns its memory and no one else can reach it (no view of it, no saved value, no caller's array,
    no work buffer): ``refs`` (its reference count in :func:`_accumulate`) is the bare minimum."""
    return g.flags.owndata and g.flags.writeable and refs <= _SOLE_REFS


def _accumulate(leaf: Tensor, g: np.ndarray) -> None:
    """Add ``g`` into ``leaf.grad``. Called from :meth:`Tensor.backward` only, with ``g`` held by exactly one of
    its local names (the reference count below relies on it; the root gradient's own local keeps it copied)."""
    if g.dtype != leaf.data.dtype:
        g = g.astype(leaf.data.dtype)
    if leaf.grad is None:
        # own the buffer: the gradient array may alias saved forward values, the caller's gradient or another
        # leaf's; a fresh array nobody else holds (a conv's input gradient) is taken as it is, as PyTorch does
        refs = sys.getrefcount(g)  # before ``g`` is passed on (an argument in flight is a reference too)
        leaf.grad = Tensor._wrap(g if _sole_owner(g, refs) else np.array(g, copy=True))
    else:
        leaf.grad.data = leaf.grad.data + g


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Create a tensor (copying ``data``). Python floats become float32; NumPy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        data = data.copy() if dtype is None else data.astype(dtype)
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
