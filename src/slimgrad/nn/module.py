"""``Module``: the base of every layer. Parameters and sub-modules are found by walking attributes."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd import Tensor
from .parameter import Parameter


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictKeyError(RuntimeError, KeyError):
    """Missing or unexpected keys in ``load_state_dict`` (a RuntimeError as in PyTorch, and a KeyError)."""

    __str__ = RuntimeError.__str__


class StateDictShapeError(RuntimeError, ValueError):
    """A shape mismatch in ``load_state_dict`` (a RuntimeError as in PyTorch, and a ValueError)."""


class Module:
    """Base class for layers and models (PyTorch-shaped).

    Assigning a :class:`Parameter` or a ``Module`` to an attribute registers it; ``parameters()``,
    ``named_parameters()``, ``children()``, ``train()``/``eval()``, ``state_dict()`` and
    ``load_state_dict()`` walk those registrations in assignment order. Buffers (running statistics)
    are registered with :meth:`register_buffer` and saved in the state dict too.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name in self._buffers:  # reassigning a buffer keeps it a buffer
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(value)
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        if name in self._parameters and value is not None and not isinstance(value, Parameter):
            raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} as parameter {name!r} "
                            f"(a Parameter or None expected)")
        if name in self._parameters and value is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
            return
        # replacing a parameter by a parameter (or a module by a module) keeps its place in the order
        store = self._parameters if isinstance(value, Parameter) else self._modules if isinstance(value, Module) else None
        for other in (self._parameters, self._modules, self._buffers):
            if other is not store:
                other.pop(name, None)
        if store is not None:
            store[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value, persistent: bool = True) -> None:
        """Register a non-trainable array (e.g. running mean); saved in the state dict if ``persistent``."""
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value)
        for store in (self._parameters, self._modules):
            store.pop(name, None)
        object.__setattr__(self, name, value)
        self._buffers[name] = value
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            object.__setattr__(self, name, None)
            self._parameters.pop(name, None)
            return
        setattr(self, name, param)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is None:
            object.__setattr__(self, name, None)
            return
        setattr(self, name, module)

    # ----------------------------------------------------------------- hooks
    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` runs after every forward; returns a handle with ``remove()``."""
        return _Handle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """``hook(module, inputs)`` runs before every forward; returns a handle with ``remove()``."""
        return _Handle(self._forward_pre_hooks, hook)

    # ----------------------------------------------------------------- forward
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                hook(self, args)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    # ----------------------------------------------------------------- walking
    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = ""):
        """Every module in the tree, depth first, self first (names dotted: ``features.3.depthwise``)."""
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{n}" if name else n, c) for n, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = ""):
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    # ----------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        """Set training mode on this module and every descendant (dropout active, BN batch stats)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every descendant, children before parents and self last (as PyTorch)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args, dtype=None, **kwargs) -> "Module":
        """Cast floating-point parameters and buffers to ``dtype`` in place (``to('cpu')`` is a no-op)."""
        for arg in args:
            if not (isinstance(arg, str) and arg.startswith("cpu")):
                dtype = arg
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to: only floating-point dtypes are supported, got {dtype}")
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for t in store.values():
                    if t is not None and t.dtype.kind == "f" and t.dtype != dtype:
                        t.data = t.data.astype(dtype)
                        if t.grad is not None:
                            t.grad.data = t.grad.data.astype(dtype)
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    def cpu(self) -> "Module":
        return self

    def get_submodule(self, target: str) -> "Module":
        """The module at dotted path ``target`` (``''`` is self)."""
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules or m._modules[part] is None:
                raise AttributeError(f"{type(m).__name__} has no submodule {part!r} (in path {target!r})")
            m = m._modules[part]
        return m

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # ----------------------------------------------------------------- state
    def _named_state(self):
        """(name, tensor) of every parameter and persistent buffer, module by module (PyTorch's order).

        As in PyTorch, a shared (tied) module or parameter appears under every name it is reachable by.
        """
        stack = [("", self)]
        while stack:
            mname, m = stack.pop()
            entries = list(m._parameters.items()) + [
                (n, b) for n, b in m._buffers.items() if n not in m._non_persistent]
            for name, t in entries:
                if t is not None:
                    yield (f"{mname}.{name}" if mname else name), t
            kids = [(f"{mname}.{n}" if mname else n, c) for n, c in m.named_children()]
            stack.extend(reversed(kids))

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters and persistent buffers by dotted name, as arrays (copies), in PyTorch's key order."""
        return OrderedDict((name, t.data.copy()) for name, t in self._named_state())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays into parameters and buffers (in place); with ``strict`` every key must match exactly.

        Everything is checked before anything is copied: a RuntimeError (also a KeyError) for missing or
        unexpected keys (strict), a RuntimeError (also a ValueError) for a shape mismatch, naming the key.
        Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        own = OrderedDict(self._named_state())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise StateDictKeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        values = {}
        for name, target in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.data if isinstance(value, Tensor) else np.asarray(value)
            if value.shape != target.shape:
                raise StateDictShapeError(
                    f"load_state_dict for {type(self).__name__}: size mismatch for {name!r}: expected shape "
                    f"{target.shape}, got {value.shape}"
                )
            values[name] = value
        for name, value in values.items():
            target = own[name]
            if target.data.flags.writeable:
                np.copyto(target.data, value, casting="unsafe")
            else:
                target.data = value.astype(target.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        """PyTorch's layout: ``Name(extra)`` for a leaf, else one indented line per extra line and child."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self.named_children()]
        if not child_lines:
            return f"{type(self).__name__}({extra})"
        body = "\n  ".join(extra_lines + child_lines)
        return f"{type(self).__name__}(\n  {body}\n)"


class _Handle:
    _next = 0

    def __init__(self, store, hook):
        _Handle._next += 1
        self.key, self.store = _Handle._next, store
        store[self.key] = hook

    def remove(self) -> None:
        self.store.pop(self.key, None)
