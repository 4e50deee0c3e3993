"""The optimizers' update rules as pure functions on arrays, one parameter at a time.

Notation: θ the parameter, g its gradient, γ the learning rate, λ the weight decay, t the step
(counted from 1, already incremented by the caller), ε the numerical-stability term.

Every rule updates ``param`` and its state arrays **in place**, in their own dtype (float32 stays
float32: all hyperparameters are Python floats), never writes to ``grad``, and returns the scalar
state it changed (if any). Temporaries are written with ``out=`` so 0-d parameters stay arrays.
The arithmetic follows PyTorch 2.13's single-tensor implementations step for step, so the same
gradients give the same parameters.

Shared first step of most rules (:func:`effective_grad`): ``g ← −∇`` if ``maximize``; ``g ← g + λθ``
if ``λ ≠ 0`` (L2 penalty; the "decoupled" variants instead shrink θ by ``1 − γλ``).
"""
from __future__ import annotations

import math

import numpy as np


BLOCK = 1 << 18
"""Elements per block in :func:`blocked` (1 MB of float32 per array: a rule's working set stays in cache)."""


def blocked(rule, param, grad, *state, **hyper):
    """``rule(param, grad, *state, **hyper)`` applied block by block to flat views of the arrays.

    Every rule here is elementwise and makes ~10 passes over its arrays; on arrays of millions of
    elements each pass streams from memory, while on a block of :data:`BLOCK` elements all passes hit
    the cache (2-3x faster). Each element's arithmetic is unchanged, so the result is identical. Small or
    non-contiguous arrays go through in one call. Returns the rule's value for the last block (the
    rules return scalars computed from their scalar inputs, the same for every block).
    """
    arrays = [param, grad, *state]
    n = param.size
    if n <= BLOCK or any(a is not None and (a.size != n or not a.flags.c_contiguous) for a in arrays):
        return rule(param, grad, *state, **hyper)
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    result = None
    for start in range(0, n, BLOCK):
        part = slice(start, start + BLOCK)
        result = rule(*[None if a is None else a[part] for a in flat], **hyper)
    return result


def effective_grad(param: np.ndarray, grad: np.ndarray, weight_decay: float = 0.0,
                   maximize: bool = False) -> np.ndarray:
    """``g = (−∇ if maximize else ∇) + λθ``; a new array whenever it differs from ``grad``."""
    if maximize:
        grad = np.negative(grad)
        if weight_decay != 0:
            grad += weight_decay * param
        return grad
    if weight_decay != 0:
        return grad + weight_decay * param
    return grad


def _decayed_grad(param: np.ndarray, grad: np.ndarray, lr: float, weight_decay: float, decoupled: bool,
                  maximize: bool) -> np.ndarray:
    """Decoupled (AdamW): ``θ ← θ(1 − γλ)`` in place, then ``g = ±∇``; otherwise :func:`effective_grad`."""
    if weight_decay != 0 and decoupled:
        param *= 1.0 - lr * weight_decay
        weight_decay = 0.0
    return effective_grad(param, grad, weight_decay, maximize)


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float, scratch: np.ndarray) -> None:
    """``start ← start + w (end − start)`` in place, rounded as PyTorch's ``lerp_``.

    For ``w >= 0.5`` PyTorch computes ``end − (1 − w)(end − start)``: exact at ``w = 1`` (β₁ = 0), where
    ``start + (end − start)`` would lose a small ``end`` next to a large ``start``.
    """
    np.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        scratch *= weight
        start += scratch
    else:
        scratch *= 1.0 - weight
        np.subtract(end, scratch, out=start)


def _ema_square_(avg: np.ndarray, grad: np.ndarray, beta: float, scratch: np.ndarray) -> None:
    """``avg ← β avg + (1 − β) g²`` in place."""
    avg *= beta
    np.multiply(grad, grad, out=scratch)
    scratch *= 1.0 - beta
    avg += scratch


def _adam_moments_(exp_avg, exp_avg_sq, g, beta1: float, beta2: float) -> np.ndarray:
    """``m ← β₁ m + (1 − β₁) g``; ``v ← β₂ v + (1 − β₂) g²`` in place; returns a scratch array like ``m``."""
    scratch = np.empty_like(exp_avg)
    _lerp_(exp_avg, g, 1.0 - beta1, scratch)
    _ema_square_(exp_avg_sq, g, beta2, scratch)
    return scratch


def sgd(param, grad, momentum_buffer, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
        nesterov=False, maximize=False):
    """Stochastic gradient descent with momentum (Sutskever et al. 2013; PyTorch's form).

    ``g ← ∇ + λθ``; if ``μ ≠ 0``: ``b ← g`` on the first step, else ``b ← μ b + (1 − τ) g``, then
    ``g ← g + μ b`` (Nesterov) or ``g ← b``; finally ``θ ← θ − γ g``.
    Returns the momentum buffer (``None`` when ``momentum == 0``).
    """
    g = effective_grad(param, grad, weight_decay, maximize)
    if momentum != 0:
        if momentum_buffer is None:
            # an array (0-d too) in the parameter's dtype, whatever the gradient's
            momentum_buffer = np.array(g, dtype=param.dtype, copy=True)
        else:
            momentum_buffer *= momentum
            momentum_buffer += g if dampening == 0 else (1.0 - dampening) * g
        if nesterov:
            update = np.multiply(momentum_buffer, momentum, out=np.empty_like(param))
            update += g
            update *= lr
            param -= update
            return momentum_buffer
        g = momentum_buffer
    param -= lr * g
    return momentum_buffer


def adagrad(param, grad, state_sum, *, step, lr, lr_decay=0.0, weight_decay=0.0, eps=1e-10, maximize=False):
    """Adagrad (Duchi et al. 2011).

    ``γ̃ = γ / (1 + (t − 1) η)``; ``G ← G + g²``; ``θ ← θ − γ̃ g / (√G + ε)``.
    """
    g = effective_grad(param, grad, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    scratch = np.multiply(g, g, out=np.empty_like(param))
    state_sum += scratch
    np.sqrt(state_sum, out=scratch)
    scratch += eps
    np.divide(g, scratch, out=scratch)
    scratch *= -clr
    param += scratch


def adadelta(param, grad, square_avg, acc_delta, *, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    """Adadelta (Zeiler 2012).

    ``v ← ρ v + (1 − ρ) g²``; ``Δ = √(u + ε) / √(v + ε) · g``; ``u ← ρ u + (1 − ρ) Δ²``; ``θ ← θ − γ Δ``.
    """
    g = effective_grad(param, grad, weight_decay, maximize)
    scratch = np.empty_like(param)
    _ema_square_(square_avg, g, rho, scratch)
    std = np.add(square_avg, eps, out=np.empty_like(param))
    np.sqrt(std, out=std)
    delta = np.add(acc_delta, eps, out=np.empty_like(param))
    np.sqrt(delta, out=delta)
    delta /= std
    delta *= g
    _ema_square_(acc_delta, delta, rho, scratch)
    delta *= -lr
    param += delta


def rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, *, lr=1e-2, alpha=0.99, eps=1e-8,
            weight_decay=0.0, momentum=0.0, centered=False, maximize=False):
    """RMSprop (Hinton's lecture 6e; Graves 2013 for the centered form).

    ``v ← α v + (1 − α) g²``; centered: ``ḡ ← α ḡ + (1 − α) g``, ``d = √(v − ḡ²) + ε``, else
    ``d = √v + ε``; with momentum: ``b ← μ b + g / d``, ``θ ← θ − γ b``; without: ``θ ← θ − γ g / d``.
    ``grad_avg`` / ``momentum_buffer`` may be ``None`` when not centered / ``momentum == 0``.
    """
    g = effective_grad(param, grad, weight_decay, maximize)
    avg = np.empty_like(param)
    _ema_square_(square_avg, g, alpha, avg)
    if centered:
        _lerp_(grad_avg, g, 1.0 - alpha, avg)
        np.multiply(grad_avg, grad_avg, out=avg)
        np.subtract(square_avg, avg, out=avg)
        np.sqrt(avg, out=avg)
    else:
        np.sqrt(square_avg, out=avg)
    avg += eps
    np.divide(g, avg, out=avg)
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += avg
        np.multiply(momentum_buffer, -lr, out=avg)
    else:
        avg *= -lr
    param += avg


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999,
         eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False, decoupled_weight_decay=False):
    """Adam (Kingma & Ba 2015), AMSGrad (Reddi et al. 2018), AdamW (Loshchilov & Hutter 2019).

    AdamW: ``θ ← θ(1 − γλ)`` first; Adam: ``g ← g + λθ``. Then
    ``m ← β₁ m + (1 − β₁) g``; ``v ← β₂ v + (1 − β₂) g²``; AMSGrad: ``v̂ ← max(v̂, v)``;
    ``θ ← θ − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)``.
    """
    g = _decayed_grad(param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
    scratch = _adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2)
    step_size = lr / (1.0 - beta1 ** step)
    bias_correction2_sqrt = (1.0 - beta2 ** step) ** 0.5
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        np.sqrt(max_exp_avg_sq, out=scratch)
    else:
        np.sqrt(exp_avg_sq, out=scratch)
    scratch /= bias_correction2_sqrt
    scratch += eps
    np.divide(exp_avg, scratch, out=scratch)
    scratch *= -step_size
    param += scratch


def adamax(param, grad, exp_avg, exp_inf, *, step, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
           weight_decay=0.0, maximize=False):
    """Adamax, Adam's infinity-norm variant (Kingma & Ba 2015, section 7.1).

    ``m ← β₁ m + (1 − β₁) g``; ``u ← max(β₂ u, |g| + ε)``; ``θ ← θ − γ/(1 − β₁ᵗ) · m / u``.
    """
    g = effective_grad(param, grad, weight_decay, maximize)
    scratch = np.empty_like(param)
    _lerp_(exp_avg, g, 1.0 - beta1, scratch)
    exp_inf *= beta2
    np.abs(g, out=scratch)
    scratch += eps
    np.maximum(exp_inf, scratch, out=exp_inf)
    clr = lr / (1.0 - beta1 ** step)
    np.divide(exp_avg, exp_inf, out=scratch)
    scratch *= -clr
    param += scratch


def nadam(param, grad, exp_avg, exp_avg_sq, *, step, mu_product, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
          weight_decay=0.0, momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    """NAdam, Adam with Nesterov momentum (Dozat 2016), with the momentum schedule of the paper.

    ``μₜ = β₁(1 − ½·0.96^(tψ))``; ``Πₜ = Πₜ₋₁ μₜ``; ``m ← β₁ m + (1 − β₁) g``;
    ``v ← β₂ v + (1 − β₂) g²``; ``d = √(v / (1 − β₂ᵗ)) + ε``;
    ``θ ← θ − γ(1 − μₜ)/(1 − Πₜ) · g/d − γ μₜ₊₁/(1 − Πₜ μₜ₊₁) · m/d``.
    ``mu_product`` is Πₜ₋₁ (kept in float32 as PyTorch does); returns Πₜ.
    """
    bias_correction2 = 1.0 - beta2 ** step
    g = _decayed_grad(param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    mu_product = float(np.float32(mu_product) * np.float32(mu))
    scratch = _adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2)
    denom = np.divide(exp_avg_sq, bias_correction2, out=np.empty_like(param))
    np.sqrt(denom, out=denom)
    denom += eps
    np.divide(g, denom, out=scratch)
    scratch *= -lr * (1.0 - mu) / (1.0 - mu_product)
    param += scratch
    mu_product_next = mu_product * mu_next
    np.divide(exp_avg, denom, out=scratch)
    scratch *= (-lr * mu_next) / (1.0 - mu_product_next)
    param += scratch
    return mu_product


def radam(param, grad, exp_avg, exp_avg_sq, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
          weight_decay=0.0, decoupled_weight_decay=False, maximize=False):
    """RAdam, rectified Adam (Liu et al. 2020).

    ``m ← β₁ m + (1 − β₁) g``; ``v ← β₂ v + (1 − β₂) g²``; ``m̂ = m / (1 − β₁ᵗ)``;
    ``ρ∞ = 2/(1 − β₂) − 1``; ``ρₜ = ρ∞ − 2t β₂ᵗ / (1 − β₂ᵗ)``. If ``ρₜ > 5``:
    ``r = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))``, ``θ ← θ − γ m̂ r √(1 − β₂ᵗ) / (√v + ε)``;
    otherwise (variance not yet tractable) ``θ ← θ − γ m̂``.
    """
    g = _decayed_grad(param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
    scratch = _adam_moments_(exp_avg, exp_avg_sq, g, beta1, beta2)
    bias_correction1 = 1.0 - beta1 ** step
    bias_correction2 = 1.0 - beta2 ** step
    update = np.divide(exp_avg, bias_correction1, out=np.empty_like(param))
    update *= lr
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        np.sqrt(exp_avg_sq, out=scratch)
        scratch += eps
        np.divide(bias_correction2 ** 0.5, scratch, out=scratch)
        update *= scratch
        update *= rect
    param -= update


def lion(param, grad, exp_avg, *, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0, maximize=False):
    """Lion, evolved sign momentum (Chen et al. 2023, Algorithm 2).

    ``c = β₁ m + (1 − β₁) g``; ``θ ← θ − γ (sign(c) + λθ)``; ``m ← β₂ m + (1 − β₂) g``.
    """
    if maximize:
        grad = np.negative(grad)
    update = np.multiply(exp_avg, beta1, out=np.empty_like(param))
    update += (1.0 - beta1) * grad
    np.sign(update, out=update)
    if weight_decay != 0:
        param *= 1.0 - lr * weight_decay
    update *= lr
    param -= update
    exp_avg *= beta2
    exp_avg += (1.0 - beta2) * grad
