"""``Lion``: evolved sign momentum (not in PyTorch; follows the paper)."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .optimizer import Optimizer, check_betas, check_common, make_defaults


class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2).

    ``c = β₁m + (1−β₁)g``; ``θ ← θ − γ(sign(c) + λθ)``; ``m ← β₂m + (1−β₂)g``.
    Use a learning rate 3-10x smaller than AdamW's and a weight decay 3-10x larger.
    See :func:`slimgrad.optim.functional.lion`.
    """

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0, *, maximize=False):
        defaults = make_defaults("Lion", dict(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize),
                                 flags=())
        super().__init__(params, defaults)

    def _validate_group(self, group):
        name = type(self).__name__
        check_common(name, group["lr"], 0.0, group["weight_decay"])
        check_betas(name, group["betas"])

    def _init_state(self, param, group):
        return {"exp_avg": np.zeros_like(param.data)}

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        F.blocked(F.lion, param, grad, state["exp_avg"], lr=group["lr"], beta1=beta1, beta2=beta2,
               weight_decay=group["weight_decay"], maximize=group["maximize"])
