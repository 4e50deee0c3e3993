"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from . import functional as F
from .optimizer import NO_CAPTURABLE, Optimizer, _is_real, check_common, check_hyper, make_defaults


class SGD(Optimizer):
    """Stochastic gradient descent (PyTorch's arguments, defaults and update rule).

    ``g ← ∇ + λθ``; with momentum ``b ← μ b + (1 − τ) g`` (``b₁ = g``) and ``g ← g + μ b`` (Nesterov)
    or ``g ← b``; ``θ ← θ − γ g``. See :func:`slimgrad.optim.functional.sgd`.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        defaults = make_defaults("SGD", dict(lr=lr, momentum=momentum, dampening=dampening,
                                             weight_decay=weight_decay, nesterov=nesterov, maximize=maximize),
                                 NO_CAPTURABLE, foreach=foreach, fused=fused, differentiable=differentiable)
        super().__init__(params, defaults)

    def _validate_defaults(self, defaults):
        super()._validate_defaults(defaults)
        momentum, dampening = defaults["momentum"], defaults["dampening"]
        if defaults["nesterov"] and (not momentum > 0 or dampening != 0):  # once, as PyTorch (not per group)
            raise ValueError(f"SGD: Nesterov momentum requires a momentum and zero dampening "
                             f"(momentum > 0, dampening = 0), got momentum={momentum!r}, dampening={dampening!r}")

    def _validate_group(self, group):
        name = type(self).__name__
        check_common(name, group["lr"], 0.0, group["weight_decay"])
        momentum, dampening = group["momentum"], group["dampening"]
        check_hyper(name, "momentum value", momentum, _is_real(momentum) and momentum >= 0.0, "momentum >= 0")
        check_hyper(name, "dampening value", dampening, _is_real(dampening), "a number")

    def _update(self, param, grad, state, group):
        buf = state.get("momentum_buffer")
        hyper = dict(lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
                     weight_decay=group["weight_decay"], nesterov=group["nesterov"], maximize=group["maximize"])
        if buf is None and group["momentum"] != 0:  # the first step creates the buffer: not blockwise
            state["momentum_buffer"] = F.sgd(param, grad, None, **hyper)
        else:
            F.blocked(F.sgd, param, grad, buf, **hyper)
