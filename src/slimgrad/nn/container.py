"""Containers and shape layers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``Flatten``, ``Identity``."""
from __future__ import annotations

from collections import OrderedDict

from ..autograd import Tensor
from .module import Module


def _check_module(value, where: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{where}: expected a Module, got {type(value).__name__}")
    return value


def _normalize_index(idx: int, n: int, where: str) -> int:
    if not -n <= idx < n:
        raise IndexError(f"{where}: index {idx} is out of range for {n} modules")
    return idx % n


class _Indexed(Module):
    """Children ``'0'``, ``'1'``, ...: length, iteration, ``append`` / ``extend`` / ``pop``, and renumbering after
    a deletion or an insertion (as PyTorch's Sequential and ModuleList)."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module):
        self.add_module(str(len(self)), _check_module(module, f"{type(self).__name__}.append"))
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module

    def _renumber(self, modules) -> None:
        """Make ``modules`` the children, named ``'0'`` .. ``'n-1'``."""
        for key in list(self._modules):
            delattr(self, key)
        for i, module in enumerate(modules):
            self.add_module(str(i), module)


class Sequential(_Indexed):
    """Modules applied in order: ``Sequential(m0, m1, ...)`` or ``Sequential(OrderedDict(name=module))``.

    Children are named ``'0'``, ``'1'``, ... (or by the dict's keys); indexable (negative indices too),
    sliceable (a slice is a ``Sequential`` sharing the same modules), iterable, with ``len``.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (dict, OrderedDict)):
            for name, module in args[0].items():
                self.add_module(str(name), _check_module(module, f"Sequential: module {name!r}"))
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), _check_module(module, f"Sequential: argument {i}"))

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_normalize_index(idx, len(keys), "Sequential")]]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_normalize_index(idx, len(keys), "Sequential")], _check_module(module, "Sequential"))

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)
        doomed = keys[idx] if isinstance(idx, slice) else [keys[_normalize_index(idx, len(keys), "Sequential")]]
        for key in doomed:
            delattr(self, key)
        self._renumber(list(self._modules.values()))

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert before ``index`` (negative counts from the end); children are renumbered 0..n-1."""
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} modules")
        modules = list(self._modules.values())
        modules.insert(index, _check_module(module, "Sequential.insert"))  # list semantics, as PyTorch
        self._renumber(modules)
        return self


class ModuleList(_Indexed):
    """A list of modules, registered as children ``'0'``, ``'1'``, ... (no forward of its own)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        modules = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(modules[idx])
        return modules[_normalize_index(idx, len(modules), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        idx = _normalize_index(idx, len(self), "ModuleList")
        setattr(self, str(idx), _check_module(module, "ModuleList"))

    def __delitem__(self, idx) -> None:
        modules = list(self._modules.values())
        del modules[idx if isinstance(idx, slice) else _normalize_index(idx, len(modules), "ModuleList")]
        self._renumber(modules)

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, _check_module(module, "ModuleList.insert"))
        self._renumber(modules)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it and call its modules")


class ModuleDict(Module):
    """Modules by name, registered as children in insertion order (no forward of its own)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(str(key), _check_module(module, f"ModuleDict[{key!r}]"))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        for key, module in (modules.items() if hasattr(modules, "items") else modules):
            self[key] = module

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): look up its modules and call them")


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        shape = input.shape
        ndim = max(len(shape), 1)
        start, end = self.start_dim, self.end_dim
        if not (-ndim <= start < ndim and -ndim <= end < ndim):
            raise IndexError(
                f"{self!r}: dims out of range for input of shape {shape} ({len(shape)} dimensions)"
            )
        start, end = start % ndim, end % ndim
        if start > end:
            raise ValueError(f"{self!r}: start_dim must not come after end_dim for input of shape {shape}")
        if len(shape) == 0:
            return input.reshape(1)
        merged = 1
        for n in shape[start:end + 1]:
            merged *= n
        return input.reshape(shape[:start] + (merged,) + shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (a placeholder layer); constructor arguments are ignored."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input
