"""Every optimizer against ``torch.optim``: same initial weights, same gradients, same parameters after 50 steps.

Tolerances: float32 rtol 1e-5 / atol 1e-6 (the two sides differ only in float32 rounding order).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.optim as optim
from slimgrad.nn import Parameter
from optim.optim_cases import (CONFIGS, assert_params_close, build_pair, gradient_sequence, initial_arrays,
                               make_groups, set_grads)


def _ids(cases):
    return [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in cases]


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=_ids(CONFIGS))
def test_matches_torch_after_50_steps(name, kwargs):
    sg_params, th_params, sg_opt, th_opt = build_pair(name, kwargs)
    for grads in gradient_sequence(steps=50):
        set_grads(sg_params, th_params, grads)
        sg_opt.step()
        th_opt.step()
    assert_params_close(sg_params, th_params, context=f"{name} {kwargs}")
    moved = [not np.allclose(p.data, a) for p, a in zip(sg_params, initial_arrays())]
    assert all(moved), "every parameter must have been updated"


GROUP_CASES = [
    ("SGD", {"lr": 0.05, "momentum": 0.9}, [([0, 1], {"lr": 0.1}), ([2, 3], {"momentum": 0.5, "weight_decay": 0.1})]),
    ("Adagrad", {}, [([0], {"lr": 0.1}), ([1, 2, 3], {"lr_decay": 0.1})]),
    # PyTorch fills the accumulators of the constructor's groups with the constructor's value
    ("Adagrad", {"initial_accumulator_value": 0.2}, [([0, 1], {"initial_accumulator_value": 0.9}), ([2, 3], {})]),
    ("Adadelta", {}, [([0, 3], {"rho": 0.5}), ([1, 2], {"lr": 0.1})]),
    ("RMSprop", {}, [([0, 1], {"centered": True, "lr": 1e-3}), ([2, 3], {"momentum": 0.9})]),
    ("Adam", {"lr": 1e-2}, [([0, 1], {"amsgrad": True}), ([2], {"lr": 1e-3}), ([3], {"weight_decay": 0.2})]),
    ("AdamW", {}, [([0, 1, 2], {"lr": 3e-3}), ([3], {"weight_decay": 0.0})]),
    ("Adamax", {}, [([0], {"betas": (0.5, 0.9)}), ([1, 2, 3], {"lr": 1e-2})]),
    ("NAdam", {}, [([0, 1], {"momentum_decay": 0.1}), ([2, 3], {"lr": 1e-2, "weight_decay": 0.1})]),
    ("RAdam", {}, [([0, 2], {"lr": 1e-2}), ([1, 3], {"decoupled_weight_decay": True, "weight_decay": 0.1})]),
]


@pytest.mark.parametrize("name,kwargs,groups", GROUP_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(GROUP_CASES)])
def test_param_groups_with_own_options_match_torch(name, kwargs, groups):
    sg_params, th_params, sg_opt, th_opt = build_pair(name, kwargs, groups)
    for g_sg, g_th in zip(sg_opt.param_groups, th_opt.param_groups):
        for key, value in g_sg.items():
            if key != "params":
                assert value == g_th[key], f"group option {key}: {value} != torch {g_th[key]}"
    for grads in gradient_sequence(steps=50):
        set_grads(sg_params, th_params, grads)
        sg_opt.step()
        th_opt.step()
    assert_params_close(sg_params, th_params, context=name)


@settings(max_examples=15)
@given(case=st.sampled_from(CONFIGS),
       shapes=st.lists(st.lists(st.integers(1, 5), min_size=0, max_size=3).map(tuple), min_size=1, max_size=3),
       seed=st.integers(0, 2**16))
def test_matches_torch_on_drawn_shapes(case, shapes, seed):
    name, kwargs = case
    arrays = initial_arrays(shapes, seed)
    sg_params, th_params, sg_opt, th_opt = build_pair(name, kwargs, arrays=arrays)
    for grads in gradient_sequence(shapes, steps=20, seed=seed + 1):
        set_grads(sg_params, th_params, grads)
        sg_opt.step()
        th_opt.step()
    assert_params_close(sg_params, th_params, context=f"{name} {kwargs} {shapes}")


def _mlp_loss(lib, x, y, w1, b1, w2, b2):
    """Squared error of a two-layer ReLU network, written with operations both libraries share."""
    h = x @ w1 + b1
    h = lib.maximum(h, h * 0.0)
    d = h @ w2 + b2 - y
    return (d * d).mean()


@pytest.mark.parametrize("name,kwargs", [("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
                                         ("Adam", {"lr": 1e-2, "amsgrad": True}),
                                         ("RMSprop", {"centered": True, "lr": 1e-3})])
def test_real_gradients_of_the_same_loss(name, kwargs):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in [(5, 8), (8,), (8, 2), (2,)]]
    sg_params = [Parameter(a.copy()) for a in arrays]
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]
    sg_opt = getattr(optim, name)(sg_params, foreach=False, **kwargs)
    th_opt = getattr(torch.optim, name)(th_params, foreach=False, **kwargs)
    first = None
    for _ in range(30):
        sg_opt.zero_grad()
        th_opt.zero_grad()
        loss = _mlp_loss(sg, sg.tensor(x), sg.tensor(y), *sg_params)
        ref = _mlp_loss(torch, torch.tensor(x), torch.tensor(y), *th_params)
        first = loss.item() if first is None else first
        loss.backward()
        ref.backward()
        sg_opt.step()
        th_opt.step()
    assert loss.item() < first, "training must reduce the loss"
    assert_params_close(sg_params, th_params, rtol=1e-4, atol=1e-5, context=name)


def _lion_reference(theta, grads, lr, beta1, beta2, wd):
    """Chen et al. 2023, Algorithm 2, transcribed literally (float64)."""
    theta = theta.astype(np.float64)
    m = np.zeros_like(theta)
    for g in grads:
        g = g.astype(np.float64)
        c = beta1 * m + (1 - beta1) * g
        theta = theta - lr * (np.sign(c) + wd * theta)
        m = beta2 * m + (1 - beta2) * g
    return theta


@pytest.mark.parametrize("kwargs", [{}, {"lr": 1e-3, "weight_decay": 0.1}, {"betas": (0.8, 0.95), "lr": 3e-3}])
def test_lion_matches_the_paper(kwargs):
    arrays = initial_arrays()
    params = [Parameter(a.copy()) for a in arrays]
    opt = optim.Lion(params, **kwargs)
    seq = gradient_sequence(steps=50, with_missing=False)
    for grads in seq:
        set_grads(params, [None] * len(params), grads)
        opt.step()
    lr = kwargs.get("lr", 1e-4)
    beta1, beta2 = kwargs.get("betas", (0.9, 0.99))
    for i, p in enumerate(params):
        ref = _lion_reference(arrays[i], [g[i] for g in seq], lr, beta1, beta2, kwargs.get("weight_decay", 0.0))
        assert p.data.dtype == np.float32
        np.testing.assert_allclose(p.data, ref, rtol=1e-5, atol=1e-6, err_msg=f"Lion param {i}")


def test_lion_maximize_is_descent_on_the_negated_gradient():
    arrays = initial_arrays()
    up = [Parameter(a.copy()) for a in arrays]
    down = [Parameter(a.copy()) for a in arrays]
    opt_up, opt_down = optim.Lion(up, lr=1e-2, maximize=True), optim.Lion(down, lr=1e-2)
    for grads in gradient_sequence(steps=10, with_missing=False):
        set_grads(up, [None] * 4, grads)
        set_grads(down, [None] * 4, [-g for g in grads])
        opt_up.step()
        opt_down.step()
    for p, q in zip(up, down):
        np.testing.assert_array_equal(p.data, q.data)


def test_defaults_equal_torch():
    import inspect
    for name in ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam"]:
        ours = inspect.signature(getattr(optim, name)).parameters
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        for arg, param in ours.items():
            if arg == "params":
                continue
            assert arg in theirs, f"{name}: torch has no argument {arg}"
            assert param.default == theirs[arg].default, f"{name}.{arg}: {param.default} != {theirs[arg].default}"
        params = [Parameter(np.zeros(2, np.float32))]
        ours_defaults = getattr(optim, name)(params).defaults
        theirs_defaults = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))]).defaults
        assert set(ours_defaults) == set(theirs_defaults), name  # every option PyTorch keeps, no other
        for key, value in ours_defaults.items():
            assert theirs_defaults[key] == value, f"{name} default {key}"


def test_update_is_in_place_and_float32():
    arrays = initial_arrays()
    for name, kwargs in CONFIGS:
        params = [Parameter(a.copy()) for a in arrays]
        buffers = [p.data for p in params]
        opt = getattr(optim, name)(params, **kwargs)
        set_grads(params, [None] * 4, gradient_sequence(steps=1, with_missing=False)[0])
        opt.step()
        for p, buf in zip(params, buffers):
            assert p.data is buf, f"{name}: parameter array replaced instead of updated in place"
            assert p.data.dtype == np.float32
        for state in opt.state.values():
            for key, value in state.items():
                if isinstance(value, np.ndarray):
                    assert value.dtype == np.float32, f"{name}: state {key} is {value.dtype}"


def test_gradients_are_not_modified():
    for name, kwargs in CONFIGS:
        params = [Parameter(a.copy()) for a in initial_arrays()]
        opt = getattr(optim, name)(params, **kwargs)
        grads = gradient_sequence(steps=2, with_missing=False)
        for step_grads in grads:
            set_grads(params, [None] * 4, step_grads)
            opt.step()
            for p, g in zip(params, step_grads):
                np.testing.assert_array_equal(p.grad.data, g, err_msg=f"{name} changed a gradient")


@pytest.mark.parametrize("name,kwargs", CONFIGS + [("Lion", {"weight_decay": 0.1})],
                         ids=_ids(CONFIGS + [("Lion", {"weight_decay": 0.1})]))
def test_blockwise_updates_equal_whole_array_updates(name, kwargs, monkeypatch):
    """Large arrays are updated block by block (for cache locality): the result must be bit-identical."""
    import slimgrad.optim.functional as F

    def run():
        params = [Parameter(a.copy()) for a in initial_arrays()]
        opt = getattr(optim, name)(params, **kwargs)
        for grads in gradient_sequence(steps=5):
            set_grads(params, [None] * 4, grads)
            opt.step()
        return [p.data for p in params]

    whole = run()
    monkeypatch.setattr(F, "BLOCK", 5)
    for p, q in zip(run(), whole):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("shape", [(), (3,)])
def test_state_keeps_the_parameter_dtype_when_a_gradient_is_float64(shape):
    for name, kwargs in [("SGD", {"momentum": 0.9, "weight_decay": 0.1}), ("Adam", {"amsgrad": True}),
                         ("RMSprop", {"momentum": 0.5, "centered": True})]:
        w = Parameter(np.ones(shape, np.float32))
        opt = getattr(optim, name)([w], **kwargs)
        for _ in range(3):
            w.grad = sg.Tensor(np.full(shape, 0.5, np.float64))
            opt.step()
        assert w.data.dtype == np.float32
        for key, value in opt.state[w].items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32 and value.shape == shape, (name, key)


def _drawn_options(draw, name):
    """Hyperparameters drawn over PyTorch's valid ranges for ``name`` (zeros and edge values included)."""
    unit = st.sampled_from([0.0, 0.5, 0.9, 0.99]) | st.floats(0.0, 0.999)
    opts = {"lr": draw(st.sampled_from([1, 0.0, 1e-3]) | st.floats(1e-4, 0.3)),
            "weight_decay": draw(st.sampled_from([0, 0.1]) | st.floats(0.0, 0.5)),
            "maximize": draw(st.booleans())}
    if name == "SGD":
        opts["momentum"] = draw(st.sampled_from([0, 0.9]) | st.floats(0.0, 0.99))
        if opts["momentum"] > 0 and draw(st.booleans()):
            opts["nesterov"] = True
        else:
            opts["dampening"] = draw(unit)
    elif name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam"):
        # β₂ near 0 makes m/√v a ratio of single gradients: float32 rounding then grows without bound
        opts["betas"] = (draw(unit), draw(st.sampled_from([0.9, 0.999]) | st.floats(0.5, 0.999)))
        opts["eps"] = draw(st.sampled_from([1e-8, 1e-3, 0.1]))
        if name in ("Adam", "AdamW"):
            opts["amsgrad"] = draw(st.booleans())
        if name in ("Adam", "NAdam", "RAdam"):
            opts["decoupled_weight_decay"] = draw(st.booleans())
        if name == "NAdam":
            opts["momentum_decay"] = draw(st.floats(0.0, 0.1))
    elif name == "Adagrad":
        opts.update(lr_decay=draw(st.floats(0.0, 0.1)), initial_accumulator_value=draw(st.floats(0.0, 1.0)))
    elif name == "Adadelta":
        opts["rho"] = draw(st.floats(0.0, 1.0))
    elif name == "RMSprop":
        opts.update(alpha=draw(st.sampled_from([0.99, 0.5]) | st.floats(0.5, 0.999)),
                    momentum=draw(st.sampled_from([0, 0.9])), centered=draw(st.booleans()))
    return opts


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_drawn_hyperparameters_groups_and_dtypes_match_torch(data):
    """Drawn options per optimizer and per group, float32 or float64 parameters (0-d included), missing
    gradients, a group added mid-run and a state-dict round trip at a drawn step: PyTorch's parameters."""
    name = data.draw(st.sampled_from(["SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop", "NAdam", "RAdam",
                                      "Adamax"]))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    shapes = [(), (3, 2), (4,), (2, 1, 3)]
    arrays = [a.astype(dtype) for a in initial_arrays(shapes, data.draw(st.integers(0, 99)))]
    defaults = _drawn_options(data.draw, name)
    group_opts = [{} if data.draw(st.booleans()) else _drawn_options(data.draw, name) for _ in range(2)]
    groups = [([0, 1], group_opts[0]), ([2, 3], group_opts[1])]
    sg_params = [Parameter(a.copy()) for a in arrays]
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]
    sg_opt = getattr(optim, name)(make_groups(sg_params, groups[:1]), **defaults)
    th_opt = getattr(torch.optim, name)(make_groups(th_params, groups[:1]), foreach=False, **defaults)
    steps, reload_at = 12, data.draw(st.integers(0, 11))
    for t, grads in enumerate(gradient_sequence(shapes, steps=steps, seed=5)):
        if t == 4:
            sg_opt.add_param_group(make_groups(sg_params, groups[1:])[0])
            th_opt.add_param_group(make_groups(th_params, groups[1:])[0])
        set_grads(sg_params, th_params, [None if g is None else g.astype(dtype) for g in grads])
        sg_opt.step()
        th_opt.step()
        if t == reload_at:
            saved = sg_opt.state_dict()
            live = [{"params": g["params"]} for g in sg_opt.param_groups]
            sg_opt = getattr(optim, name)(live, **defaults)
            sg_opt.load_state_dict(saved)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for p, q in zip(sg_params, th_params):
        assert p.data.dtype == dtype
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=tol, atol=tol, err_msg=f"{name} {defaults}")
        for key, value in sg_opt.state.get(p, {}).items():
            assert not isinstance(value, np.ndarray) or value.dtype == dtype, key


@pytest.mark.parametrize("name,kwargs", [("Adam", {"betas": (0.0, 0.99), "lr": 1.0}),
                                         ("Adamax", {"betas": (0.2, 0.99), "lr": 1.0}),
                                         ("RMSprop", {"alpha": 0.3, "centered": True, "lr": 0.1})])
def test_moving_averages_round_like_torch_lerp_for_weights_above_one_half(name, kwargs):
    """``lerp_`` with weight ``1 − β >= 0.5`` is ``end − (1 − w)(end − start)`` in PyTorch: with β₁ = 0 the
    first moment is exactly the gradient, even a small one after a large one."""
    shapes = [(50,)]
    scales = [1e-3 if t % 2 else 1e3 for t in range(20)]  # ends on a small gradient after a large one
    grads = [[g[0] * np.float32(s)] for g, s in zip(gradient_sequence(shapes, steps=20, with_missing=False), scales)]
    sg_params, th_params, sg_opt, th_opt = build_pair(name, kwargs, arrays=initial_arrays(shapes))
    for g in grads:
        set_grads(sg_params, th_params, g)
        sg_opt.step()
        th_opt.step()
    assert_params_close(sg_params, th_params, rtol=2e-6, atol=1e-6)
    key = "grad_avg" if name == "RMSprop" else "exp_avg"
    np.testing.assert_allclose(sg_opt.state[sg_params[0]][key], th_opt.state[th_params[0]][key].numpy(),
                               rtol=1e-5, atol=0)
