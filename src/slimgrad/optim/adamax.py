"""``Adamax``: Adam with the infinity norm of past gradients in place of their second moment."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .optimizer import NO_FUSED, Optimizer, check_group, make_defaults


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, section 7.1): ``m ← β₁m + (1−β₁)g``; ``u ← max(β₂u, |g| + ε)``;
    ``θ ← θ − γ/(1−β₁ᵗ) · m/u``. See :func:`slimgrad.optim.functional.adamax`.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        defaults = make_defaults("Adamax", dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                                maximize=maximize), NO_FUSED,
                                 foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        check_group(type(self).__name__, group, betas=True)

    def _init_state(self, param, group):
        return {"step": 0, "exp_avg": np.zeros_like(param.data), "exp_inf": np.zeros_like(param.data)}

    def _update(self, param, grad, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        F.blocked(F.adamax, param, grad, state["exp_avg"], state["exp_inf"], step=state["step"], lr=group["lr"],
                 beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                 maximize=group["maximize"])
