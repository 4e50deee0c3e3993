"""``NAdam``: Adam with Nesterov momentum and a warming momentum schedule."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .optimizer import NO_FUSED, Optimizer, _is_real, check_group, check_hyper, make_defaults


class NAdam(Optimizer):
    """NAdam (Dozat 2016): ``μₜ = β₁(1 − ½·0.96^(tψ))``, ``Πₜ = ∏μᵢ``, ``d = √(v/(1−β₂ᵗ)) + ε``,
    ``θ ← θ − γ(1−μₜ)/(1−Πₜ)·g/d − γμₜ₊₁/(1−Πₜμₜ₊₁)·m/d``. See :func:`slimgrad.optim.functional.nadam`.
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        defaults = make_defaults("NAdam", dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                               momentum_decay=momentum_decay,
                                               decoupled_weight_decay=decoupled_weight_decay, maximize=maximize),
                                 NO_FUSED, foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        name = type(self).__name__
        check_group(name, group, betas=True)
        decay = group["momentum_decay"]
        check_hyper(name, "momentum_decay value", decay, _is_real(decay) and decay >= 0.0,
                    "momentum_decay >= 0")

    def _init_state(self, param, group):
        return {"step": 0, "mu_product": 1.0, "exp_avg": np.zeros_like(param.data),
                "exp_avg_sq": np.zeros_like(param.data)}

    def _update(self, param, grad, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        state["mu_product"] = F.blocked(
            F.nadam, param, grad, state["exp_avg"], state["exp_avg_sq"], step=state["step"],
            mu_product=state["mu_product"], lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])
