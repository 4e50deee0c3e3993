"""``Optimizer``: the base of every optimizer: parameter groups, per-parameter state, state dicts.

A subclass validates its hyperparameters, passes them as ``defaults`` and implements :meth:`step` by
calling one pure update rule from :mod:`slimgrad.optim.functional` per parameter. Parameters are updated
in place (other code holds references to their arrays), in their own dtype.

``state_dict()`` has PyTorch's structure::

    {"state": {0: {"step": 3, "exp_avg": ndarray, ...}, ...},
     "param_groups": [{"lr": 0.01, ..., "params": [0, 1]}, ...]}

State values are arrays or JSON scalars only (no pickle-only objects), so a checkpoint can hold the
arrays in safetensors and the rest in JSON.
"""
from __future__ import annotations

import copy
import math
from collections import defaultdict
from itertools import chain

import numpy as np

from ..autograd import Tensor, enable_grad


_SCALAR_STATE = {"step": lambda v: int(round(v)), "mu_product": float}
"""State entries kept as Python scalars (PyTorch keeps them as 0-d tensors)."""


class _RequiredParameter:
    """Marks a hyperparameter with no default (it must be given per group or to the constructor)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def check_hyper(owner: str, name: str, value, ok: bool, expected: str) -> None:
    """Raise ``ValueError`` naming the optimizer, the argument, the value and the expected range.

    The text starts as PyTorch's (``"Invalid learning rate: -0.1"``), so code matching its messages works.
    """
    if not ok:
        raise ValueError(f"{owner}: Invalid {name}: {value} (expected {expected})")


def check_betas(owner: str, betas) -> None:
    """``betas`` must be a pair of floats, each in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: Invalid betas: expected a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        check_hyper(owner, f"beta parameter at index {i}", beta, _is_real(beta) and 0.0 <= beta < 1.0,
                    f"0 <= betas[{i}] < 1")


def check_common(owner: str, lr=0.0, eps=0.0, weight_decay=0.0) -> None:
    """The checks every optimizer shares: ``lr >= 0``, ``eps >= 0``, ``weight_decay >= 0``."""
    check_hyper(owner, "learning rate", lr, _is_real(lr) and lr >= 0.0, "lr >= 0")
    check_hyper(owner, "epsilon value", eps, _is_real(eps) and eps >= 0.0, "eps >= 0")
    check_hyper(owner, "weight_decay value", weight_decay, _is_real(weight_decay) and weight_decay >= 0.0,
                "weight_decay >= 0")


def check_flags(owner: str, foreach=None, fused=None, capturable=False, differentiable=False) -> dict:
    """PyTorch's implementation switches, accepted where PyTorch accepts them; returns them for the defaults.

    ``foreach`` and ``fused`` only choose PyTorch's kernels (the update is the same), so any value is
    accepted and ignored, with PyTorch's errors for the combinations it refuses. ``capturable`` (CUDA
    graphs) and ``differentiable`` (autograd through the update) have no meaning for in-place NumPy
    updates: ``True`` raises ``NotImplementedError`` (a ``RuntimeError``, as PyTorch raises on CPU leaves).
    """
    if fused and differentiable:
        raise RuntimeError(f"{owner}: `fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError(f"{owner}: `fused` and `foreach` cannot be `True` together.")
    if capturable:
        raise NotImplementedError(f"{owner}: capturable=True (CUDA graph capture) is not supported; "
                                  "slimgrad updates parameters in place on NumPy arrays")
    if differentiable:
        raise NotImplementedError(f"{owner}: differentiable=True (autograd through the optimizer step) is not "
                                  "supported; slimgrad updates parameters in place, outside the graph")
    return dict(foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused)


ALL_FLAGS = ("foreach", "capturable", "differentiable", "fused")
NO_FUSED = ("foreach", "capturable", "differentiable")
NO_CAPTURABLE = ("foreach", "differentiable", "fused")
"""PyTorch's implementation switches: all of them, or all but ``fused`` / ``capturable`` (per optimizer)."""


def make_defaults(owner: str, hyper: dict, flags=ALL_FLAGS, *,
                  foreach=None, fused=None, capturable=False, differentiable=False) -> dict:
    """An optimizer's ``defaults``: ``hyper`` (a ``betas`` list made a tuple), then the implementation switches
    in ``flags`` (those PyTorch accepts for this optimizer), checked by :func:`check_flags`."""
    defaults = dict(hyper)
    if isinstance(defaults.get("betas"), list):
        defaults["betas"] = tuple(defaults["betas"])
    checked = check_flags(owner, foreach, fused, capturable, differentiable)
    defaults.update((key, value) for key, value in checked.items() if key in flags)
    return defaults


def check_group(owner: str, group: dict, betas: bool = False) -> None:
    """:func:`check_common` on the group's ``lr``, ``eps``, ``weight_decay``, and :func:`check_betas` if ``betas``."""
    check_common(owner, group["lr"], group["eps"], group["weight_decay"])
    if betas:
        check_betas(owner, group["betas"])


def _python_scalars(value):
    """NumPy scalars become Python scalars: a float64 ``lr`` would otherwise promote float32 updates."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_python_scalars(v) for v in value)
    return value


def _is_real(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and not math.isnan(x)


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts (parameter groups)
    each with a ``"params"`` entry and optional per-group hyperparameters overriding ``defaults``.
    """

    def __init__(self, params, defaults: dict):
        self._validate_defaults(defaults)  # hyperparameters first, then the parameters (PyTorch's order)
        self.defaults = {k: _python_scalars(v) for k, v in defaults.items()}
        self.state: defaultdict = defaultdict(dict)  # per-parameter state, keyed by the parameter
        self.param_groups: list[dict] = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got a single Tensor of shape {params.shape}"
            )
        if isinstance(params, dict):
            raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts, got a dict")
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets changes between runs; use a list")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(dict(group))

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (a dict with ``"params"`` and optional hyperparameters)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets changes between runs; use a list")
        else:
            params = list(params)
        names = []
        if params and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in params):
            names = [p[0] for p in params]
            params = [p[1] for p in params]
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, but params[{i}] is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (params[{i}] has a grad_fn)")
        group = {"params": params}
        if names:
            group["param_names"] = names
        for key, value in param_group.items():
            if key not in ("params",) and not (key == "param_names" and names):
                group[key] = _python_scalars(value)
        for key, default in self.defaults.items():
            if default is required and key not in group:
                raise ValueError(f"{name}: parameter group didn't specify a value of required "
                                 f"optimization parameter {key!r}")
            group.setdefault(key, default)
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter group contains the same parameter more than once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self._validate_group(group)
        self.param_groups.append(group)

    def _validate_group(self, group: dict) -> None:
        """Check one group's hyperparameters (subclasses override; the constructor checks the defaults)."""

    def _validate_defaults(self, defaults: dict) -> None:
        """Check the constructor's hyperparameters: as a group, plus any check PyTorch makes only once."""
        self._validate_group(defaults)

    # ----------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters: to ``None`` (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure=None):
        """Perform one update of every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if not state:
                    state = self._init_state(p, group)
                    self._update(p.data, p.grad.data, state, group)
                    if state:  # stateless rules (plain SGD) keep no entry, as in PyTorch
                        self.state[p] = state
                else:
                    self._update(p.data, p.grad.data, state, group)
        return loss

    def _init_state(self, param: Tensor, group: dict) -> dict:
        """The state of ``param`` before its first update (created lazily on the first step)."""
        return {}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        """Apply the update rule to one parameter array, in place."""
        raise NotImplementedError(f"{type(self).__name__}._update")

    # ----------------------------------------------------------------- state dict
    def state_dict(self) -> dict:
        """The optimizer state: per-parameter state keyed by parameter index, and the groups' options.

        Arrays are copies, so saving mid-run and continuing to train does not change what was saved.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in values.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state saved by :meth:`state_dict` (from an optimizer over parameters of the same shapes)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has a different number of parameter "
                             f"groups: {len(saved_groups)} parameter groups, the optimizer has {len(self.param_groups)}")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"{name}.load_state_dict: loaded state dict contains a parameter group that "
                                 f"doesn't match the size of optimizer's group: parameter group {i} has "
                                 f"{len(saved['params'])} parameters in the loaded state dict, "
                                 f"{len(group['params'])} in the optimizer")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in self.param_groups)))
        state = {}
        for key, values in state_dict["state"].items():
            key = int(key)  # JSON turns integer keys into strings
            if key not in id_map:
                continue
            param = id_map[key]
            state[param] = {k: self._load_state_value(param, k, v) for k, v in values.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            if isinstance(new.get("betas"), list):
                new["betas"] = tuple(new["betas"])
            for key, default in self.defaults.items():  # options missing from older state dicts
                new.setdefault(key, default)
            new["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                new["param_names"] = group["param_names"]
            new_groups.append(new)
        self.state = defaultdict(dict, state)
        self.param_groups = new_groups

    @staticmethod
    def _load_state_value(param: Tensor, key: str, value):
        """A copy of a saved state value; floating arrays take the parameter's dtype (as PyTorch casts).

        PyTorch's own state dicts load too: their tensors become arrays, their 0-d ``step`` and
        ``mu_product`` tensors Python scalars.
        """
        if isinstance(value, Tensor):
            value = value.data
        elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch.Tensor
            value = value.detach().cpu().numpy()
        if key in _SCALAR_STATE and np.ndim(value) == 0:
            return _SCALAR_STATE[key](np.asarray(value).item())
        if isinstance(value, np.ndarray):
            if value.shape != param.shape and value.ndim != 0:
                raise ValueError(f"load_state_dict: state {key!r} has shape {value.shape}, but its parameter "
                                 f"has shape {param.shape}")
            if np.issubdtype(value.dtype, np.floating):
                return value.astype(param.dtype, copy=True)
            return value.copy()
        return value
