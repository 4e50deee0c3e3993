"""``Adadelta``: learning rates from running averages of squared gradients and squared updates."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .optimizer import NO_FUSED, Optimizer, _is_real, check_group, check_hyper, make_defaults


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012): ``v ← ρv + (1−ρ)g²``; ``Δ = √(u+ε)/√(v+ε)·g``; ``u ← ρu + (1−ρ)Δ²``;
    ``θ ← θ − γΔ``. See :func:`slimgrad.optim.functional.adadelta`.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        defaults = make_defaults("Adadelta", dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                                  maximize=maximize), NO_FUSED,
                                 foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        name = type(self).__name__
        check_group(name, group)
        rho = group["rho"]
        check_hyper(name, "rho value", rho, _is_real(rho) and 0.0 <= rho <= 1.0, "0 <= rho <= 1")

    def _init_state(self, param, group):
        return {"step": 0, "square_avg": np.zeros_like(param.data), "acc_delta": np.zeros_like(param.data)}

    def _update(self, param, grad, state, group):
        state["step"] += 1
        F.blocked(F.adadelta, param, grad, state["square_avg"], state["acc_delta"], lr=group["lr"], rho=group["rho"],
                   eps=group["eps"], weight_decay=group["weight_decay"], maximize=group["maximize"])
