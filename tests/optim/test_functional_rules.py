"""The pure update rules of ``slimgrad.optim.functional`` against the papers' algorithms, transcribed
literally in float64 (independent of PyTorch). The rules run in float32, hence rtol 1e-4."""
from __future__ import annotations

import math

import numpy as np
import pytest

import slimgrad.optim.functional as F

STEPS = 25


def _data(shape=(4, 3), seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(STEPS)]
    return theta, grads


def _check(ours, reference):
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6)


def test_adam_is_kingma_ba_algorithm_1():
    theta, grads = _data()
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    p, m, v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    ref, rm, rv = theta.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, 1):
        F.adam(p, g, m, v, None, step=t, lr=lr, beta1=b1, beta2=b2, eps=eps)
        rm = b1 * rm + (1 - b1) * g
        rv = b2 * rv + (1 - b2) * g.astype(np.float64) ** 2
        m_hat, v_hat = rm / (1 - b1 ** t), rv / (1 - b2 ** t)
        ref = ref - lr * m_hat / (np.sqrt(v_hat) + eps)
    _check(p, ref)


def test_amsgrad_uses_the_running_maximum_of_v():
    theta, grads = _data(seed=1)
    grads = [g * (3.0 if t % 5 == 0 else 0.3) for t, g in enumerate(grads)]  # make v shrink sometimes
    lr, b1, b2, eps = 1e-2, 0.9, 0.99, 1e-8
    p, m, v, vmax = theta.copy(), *(np.zeros_like(theta) for _ in range(3))
    ref, rm, rv, rvmax = theta.astype(np.float64), 0.0, 0.0, np.zeros(theta.shape)
    for t, g in enumerate(grads, 1):
        F.adam(p, g, m, v, vmax, step=t, lr=lr, beta1=b1, beta2=b2, eps=eps, amsgrad=True)
        rm = b1 * rm + (1 - b1) * g
        rv = b2 * rv + (1 - b2) * g.astype(np.float64) ** 2
        rvmax = np.maximum(rvmax, rv)
        ref = ref - lr / (1 - b1 ** t) * rm / (np.sqrt(rvmax / (1 - b2 ** t)) + eps)
    _check(p, ref)


def test_adamw_decouples_weight_decay():
    theta, grads = _data(seed=2)
    lr, wd, b1, b2, eps = 1e-2, 0.1, 0.9, 0.999, 1e-8
    p, m, v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    ref, rm, rv = theta.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, 1):
        F.adam(p, g, m, v, None, step=t, lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd,
               decoupled_weight_decay=True)
        ref = ref - lr * wd * ref  # the decay never enters the moments
        rm = b1 * rm + (1 - b1) * g
        rv = b2 * rv + (1 - b2) * g.astype(np.float64) ** 2
        ref = ref - lr * (rm / (1 - b1 ** t)) / (np.sqrt(rv / (1 - b2 ** t)) + eps)
    _check(p, ref)


def test_sgd_nesterov_and_dampening():
    theta, grads = _data(seed=3)
    lr, mu, wd = 0.05, 0.9, 0.01
    p, buf = theta.copy(), None
    ref, rbuf = theta.astype(np.float64), None
    for g in grads:
        buf = F.sgd(p, g, buf, lr=lr, momentum=mu, weight_decay=wd, nesterov=True)
        d = g + wd * ref
        rbuf = d if rbuf is None else mu * rbuf + d
        ref = ref - lr * (d + mu * rbuf)
    _check(p, ref)
    p, buf, ref, rbuf = theta.copy(), None, theta.astype(np.float64), None
    for g in grads:
        buf = F.sgd(p, g, buf, lr=lr, momentum=mu, dampening=0.3)
        rbuf = g.astype(np.float64) if rbuf is None else mu * rbuf + 0.7 * g
        ref = ref - lr * rbuf
    _check(p, ref)


def test_adagrad_with_lr_decay():
    theta, grads = _data(seed=4)
    lr, decay, eps = 0.1, 0.05, 1e-10
    p, acc = theta.copy(), np.full_like(theta, 0.1)
    ref, racc = theta.astype(np.float64), np.full(theta.shape, 0.1)
    for t, g in enumerate(grads, 1):
        F.adagrad(p, g, acc, step=t, lr=lr, lr_decay=decay, eps=eps)
        racc = racc + g.astype(np.float64) ** 2
        ref = ref - lr / (1 + (t - 1) * decay) * g / (np.sqrt(racc) + eps)
    _check(p, ref)


def test_adadelta_is_zeiler_algorithm_1():
    theta, grads = _data(seed=5)
    rho, eps, lr = 0.9, 1e-6, 1.0
    p, eg, edx = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    ref, reg, redx = theta.astype(np.float64), 0.0, 0.0
    for g in grads:
        F.adadelta(p, g, eg, edx, lr=lr, rho=rho, eps=eps)
        reg = rho * reg + (1 - rho) * g.astype(np.float64) ** 2
        dx = -np.sqrt(redx + eps) / np.sqrt(reg + eps) * g
        redx = rho * redx + (1 - rho) * dx ** 2
        ref = ref + lr * dx
    _check(p, ref)


@pytest.mark.parametrize("centered,momentum", [(False, 0.0), (True, 0.0), (True, 0.9)])
def test_rmsprop(centered, momentum):
    theta, grads = _data(seed=6)
    lr, alpha, eps = 1e-2, 0.99, 1e-8
    p, v, gbar, buf = theta.copy(), *(np.zeros_like(theta) for _ in range(3))
    ref, rv, rg, rbuf = theta.astype(np.float64), 0.0, 0.0, 0.0
    for g in grads:
        F.rmsprop(p, g, v, gbar, buf, lr=lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered)
        g64 = g.astype(np.float64)
        rv = alpha * rv + (1 - alpha) * g64 ** 2
        rg = alpha * rg + (1 - alpha) * g64
        denom = (np.sqrt(rv - rg ** 2) if centered else np.sqrt(rv)) + eps
        if momentum:
            rbuf = momentum * rbuf + g64 / denom
            ref = ref - lr * rbuf
        else:
            ref = ref - lr * g64 / denom
    _check(p, ref)


def test_radam_switches_from_sgd_to_rectified_adam():
    theta, grads = _data(seed=7)
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    p, m, v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    ref, rm, rv = theta.astype(np.float64), 0.0, 0.0
    rho_inf = 2 / (1 - b2) - 1
    rectified = []
    for t, g in enumerate(grads, 1):
        F.radam(p, g, m, v, step=t, lr=lr, beta1=b1, beta2=b2, eps=eps)
        rm = b1 * rm + (1 - b1) * g
        rv = b2 * rv + (1 - b2) * g.astype(np.float64) ** 2
        m_hat = rm / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        rectified.append(rho_t > 5)
        if rho_t > 5:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            ref = ref - lr * r * m_hat * math.sqrt(1 - b2 ** t) / (np.sqrt(rv) + eps)
        else:
            ref = ref - lr * m_hat
    assert not rectified[0] and rectified[-1]
    _check(p, ref)


def test_nadam_momentum_schedule():
    theta, grads = _data(seed=8)
    lr, b1, b2, eps, psi = 2e-3, 0.9, 0.999, 1e-8, 4e-3
    p, m, v, prod = theta.copy(), np.zeros_like(theta), np.zeros_like(theta), 1.0
    ref, rm, rv, rprod = theta.astype(np.float64), 0.0, 0.0, 1.0
    for t, g in enumerate(grads, 1):
        prod = F.nadam(p, g, m, v, step=t, mu_product=prod, lr=lr, beta1=b1, beta2=b2, eps=eps,
                       momentum_decay=psi)
        g64 = g.astype(np.float64)
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        rprod *= mu_t
        rm = b1 * rm + (1 - b1) * g64
        rv = b2 * rv + (1 - b2) * g64 ** 2
        denom = np.sqrt(rv / (1 - b2 ** t)) + eps
        ref = ref - lr * (1 - mu_t) / (1 - rprod) * g64 / denom - lr * mu_next / (1 - rprod * mu_next) * rm / denom
    assert prod == pytest.approx(rprod, rel=1e-6)
    _check(p, ref)


def test_adamax_infinity_norm():
    theta, grads = _data(seed=9)
    lr, b1, b2, eps = 2e-3, 0.9, 0.999, 1e-8
    p, m, u = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    ref, rm, ru = theta.astype(np.float64), 0.0, np.zeros(theta.shape)
    for t, g in enumerate(grads, 1):
        F.adamax(p, g, m, u, step=t, lr=lr, beta1=b1, beta2=b2, eps=eps)
        rm = b1 * rm + (1 - b1) * g
        ru = np.maximum(b2 * ru, np.abs(g) + eps)
        ref = ref - lr / (1 - b1 ** t) * rm / ru
    _check(p, ref)


def test_rules_work_on_zero_dimensional_parameters():
    g = np.array(0.5, np.float32)
    # one step from p = 1 with g = 0.5 and zero state, by each rule's formula
    adadelta_step = np.sqrt(1e-6) / np.sqrt(0.1 * 0.25 + 1e-6) * 0.5  # rho = 0.9, eps = 1e-6, lr = 1
    for rule, state, expected in [
            (F.adagrad, dict(state_sum=np.zeros((), np.float32), step=1, lr=0.1), 1 - 0.1 * 0.5 / 0.5),
            (F.adadelta, dict(square_avg=np.zeros((), np.float32), acc_delta=np.zeros((), np.float32)),
             1 - adadelta_step),
            (F.lion, dict(exp_avg=np.zeros((), np.float32), lr=0.1), 1 - 0.1)]:  # sign(0.05) = 1
        p = np.array(1.0, np.float32)
        rule(p, g, **state)
        assert p.shape == () and p.dtype == np.float32
        np.testing.assert_allclose(p, expected, rtol=1e-6, err_msg=rule.__name__)
