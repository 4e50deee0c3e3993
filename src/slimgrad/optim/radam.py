"""``RAdam``: Adam with a rectified (variance-aware) adaptive learning rate."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .optimizer import NO_FUSED, Optimizer, check_group, make_defaults


class RAdam(Optimizer):
    """RAdam (Liu et al. 2020): SGD with momentum ``θ ← θ − γm̂`` while ``ρₜ <= 5``, then Adam's step scaled
    by the rectification ``r``. See :func:`slimgrad.optim.functional.radam`.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        defaults = make_defaults("RAdam", dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                               decoupled_weight_decay=decoupled_weight_decay, maximize=maximize),
                                 NO_FUSED, foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        check_group(type(self).__name__, group, betas=True)

    def _init_state(self, param, group):
        return {"step": 0, "exp_avg": np.zeros_like(param.data), "exp_avg_sq": np.zeros_like(param.data)}

    def _update(self, param, grad, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        F.blocked(F.radam, param, grad, state["exp_avg"], state["exp_avg_sq"], step=state["step"], lr=group["lr"],
                beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])
