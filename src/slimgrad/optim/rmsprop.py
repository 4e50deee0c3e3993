"""``RMSprop``: divide the gradient by a running root mean square of recent gradients."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .optimizer import NO_FUSED, Optimizer, _is_real, check_group, check_hyper, make_defaults


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e): ``v ← αv + (1−α)g²``; ``θ ← θ − γ g/(√v + ε)``; optionally centered
    (``√(v − ḡ²)``, Graves 2013) and with momentum. See :func:`slimgrad.optim.functional.rmsprop`.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        defaults = make_defaults("RMSprop", dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                                 momentum=momentum, centered=centered, maximize=maximize),
                                 NO_FUSED, foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _validate_group(self, group):
        name = type(self).__name__
        check_group(name, group)
        momentum, alpha = group["momentum"], group["alpha"]
        check_hyper(name, "momentum value", momentum, _is_real(momentum) and momentum >= 0.0, "momentum >= 0")
        check_hyper(name, "alpha value", alpha, _is_real(alpha) and alpha >= 0.0, "alpha >= 0")

    def _init_state(self, param, group):
        state = {"step": 0, "square_avg": np.zeros_like(param.data)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(param.data)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(param.data)
        return state

    def _update(self, param, grad, state, group):
        state["step"] += 1
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(param)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(param)
        F.blocked(F.rmsprop, param, grad, state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer"),
                  lr=group["lr"], alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                  momentum=group["momentum"], centered=group["centered"], maximize=group["maximize"])
