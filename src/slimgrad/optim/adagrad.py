"""``Adagrad``: per-coordinate learning rates from the sum of squared gradients."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .optimizer import NO_CAPTURABLE, Optimizer, _is_real, check_group, check_hyper, make_defaults


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011): ``G ← G + g²``; ``θ ← θ − γ/(1 + (t−1)η) · g / (√G + ε)``.

    See :func:`slimgrad.optim.functional.adagrad`.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = make_defaults("Adagrad", dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                                 initial_accumulator_value=initial_accumulator_value,
                                                 maximize=maximize), NO_CAPTURABLE,
                                 foreach=foreach, fused=fused, differentiable=differentiable)
        super().__init__(params, defaults)
        # As PyTorch, the parameters given here get their state now (later ones on their first step), and
        # every accumulator starts at the constructor's initial_accumulator_value, whatever a group says.
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._init_state(p, group)

    def _validate_group(self, group):
        name = type(self).__name__
        check_group(name, group)
        for key in ("lr_decay", "initial_accumulator_value"):
            value = group[key]
            check_hyper(name, f"{key} value", value, _is_real(value) and value >= 0.0, f"{key} >= 0")

    def _init_state(self, param, group):
        return {"step": 0, "sum": np.full_like(param.data, self.defaults["initial_accumulator_value"])}

    def _update(self, param, grad, state, group):
        state["step"] += 1
        F.blocked(F.adagrad, param, grad, state["sum"], step=state["step"], lr=group["lr"], lr_decay=group["lr_decay"],
                  weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"])
