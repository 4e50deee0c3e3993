"""The Optimizer base: parameter groups, zero_grad, closures, state dicts that resume exactly, validation."""
from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

import slimgrad as sg
import slimgrad.optim as optim
from slimgrad.autograd import Tensor
from slimgrad.nn import Parameter
from optim.optim_cases import (FULL_STATE, assert_params_close, build_pair, gradient_sequence, initial_arrays,
                               set_grads)

NO_TORCH = [None] * 4


def _checkpoint_roundtrip(state_dict):
    """Store the optimizer state as a checkpoint would: arrays in safetensors bytes, the rest in JSON."""
    arrays, meta_state = {}, {}
    for index, values in state_dict["state"].items():
        meta_state[index] = {}
        for key, value in values.items():
            if isinstance(value, np.ndarray):
                arrays[f"{index}.{key}"] = value
            else:
                assert isinstance(value, (int, float, bool)), f"state {key} is a {type(value).__name__}"
                meta_state[index][key] = value
    meta = json.loads(json.dumps({"state": meta_state, "param_groups": state_dict["param_groups"]}))
    loaded = st_load(st_save(arrays)) if arrays else {}
    for name, value in loaded.items():
        index, key = name.split(".", 1)
        meta["state"].setdefault(index, {})[key] = value
    return meta


@pytest.mark.parametrize("name", sorted(FULL_STATE))
def test_state_dict_roundtrip_mid_run_reproduces_the_next_steps_exactly(name):
    kwargs = FULL_STATE[name]
    seq = gradient_sequence(steps=50)
    reference = [Parameter(a.copy()) for a in initial_arrays()]
    ref_opt = getattr(optim, name)(reference, **kwargs)
    for grads in seq:
        set_grads(reference, NO_TORCH, grads)
        ref_opt.step()

    params = [Parameter(a.copy()) for a in initial_arrays()]
    opt = getattr(optim, name)(params, **kwargs)
    for grads in seq[:20]:
        set_grads(params, NO_TORCH, grads)
        opt.step()
    saved = _checkpoint_roundtrip(opt.state_dict())
    for grads in seq[20:25]:  # keep training the old run: the saved state must not change
        set_grads(params, NO_TORCH, grads)
        opt.step()

    resumed = [Parameter(np.array(a)) for a in _replay(name, kwargs, seq[:20])]
    fresh = getattr(optim, name)(resumed, lr=0.5) if name != "SGD" else optim.SGD(resumed, lr=0.5, momentum=0.1)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"]
    for grads in seq[20:]:
        set_grads(resumed, NO_TORCH, grads)
        fresh.step()
    for p, q in zip(resumed, reference):
        np.testing.assert_array_equal(p.data, q.data)


def _replay(name, kwargs, seq):
    params = [Parameter(a.copy()) for a in initial_arrays()]
    opt = getattr(optim, name)(params, **kwargs)
    for grads in seq:
        set_grads(params, NO_TORCH, grads)
        opt.step()
    return [p.data.copy() for p in params]


def test_state_dict_has_torch_structure():
    params = [Parameter(a.copy()) for a in initial_arrays()]
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in initial_arrays()]
    groups = [{"params": params[:2], "lr": 0.1}, {"params": params[2:]}]
    th_groups = [{"params": th_params[:2], "lr": 0.1}, {"params": th_params[2:]}]
    opt = optim.Adam(groups, amsgrad=True)
    th_opt = torch.optim.Adam(th_groups, amsgrad=True)
    for grads in gradient_sequence(steps=3):
        set_grads(params, th_params, grads)
        opt.step()
        th_opt.step()
    ours, theirs = opt.state_dict(), th_opt.state_dict()
    assert [g["params"] for g in ours["param_groups"]] == [g["params"] for g in theirs["param_groups"]]
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for index, values in theirs["state"].items():
        assert set(ours["state"][index]) == set(values)
        assert ours["state"][index]["step"] == int(values["step"].item())
        np.testing.assert_allclose(ours["state"][index]["exp_avg"], values["exp_avg"].numpy(), rtol=1e-5, atol=1e-7)
    for g_ours, g_theirs in zip(ours["param_groups"], theirs["param_groups"]):
        assert set(g_ours) == set(g_theirs)  # the same options, foreach/fused/capturable/... included
        for key, value in g_ours.items():
            assert g_theirs[key] == value, key


def test_plain_sgd_keeps_no_state_and_momentum_sgd_keeps_a_buffer():
    params = [Parameter(a.copy()) for a in initial_arrays()]
    plain, heavy = optim.SGD(params, lr=0.1), optim.SGD(params, lr=0.1, momentum=0.9)
    set_grads(params, NO_TORCH, gradient_sequence(steps=1, with_missing=False)[0])
    plain.step()
    heavy.step()
    assert plain.state_dict()["state"] == {}
    assert set(heavy.state_dict()["state"][0]) == {"momentum_buffer"}


def test_load_state_dict_rejects_mismatched_groups():
    params = [Parameter(a.copy()) for a in initial_arrays()]
    opt = optim.Adam(params)
    other = optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict(other.state_dict())
    small = optim.Adam(params[:3])
    with pytest.raises(ValueError, match="group 0 has 3 parameters"):
        opt.load_state_dict(small.state_dict())


def test_zero_grad_to_none_and_to_zeros_in_place():
    params = [Parameter(a.copy()) for a in initial_arrays()]
    opt = optim.SGD(params, lr=0.1)
    set_grads(params, NO_TORCH, gradient_sequence(steps=1, with_missing=False)[0])
    buffers = [p.grad.data for p in params]
    opt.zero_grad(set_to_none=False)
    for p, buf in zip(params, buffers):
        assert p.grad.data is buf and not buf.any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    opt.step()  # no gradients: nothing moves
    for p, a in zip(params, initial_arrays()):
        np.testing.assert_array_equal(p.data, a)


def test_step_with_closure_returns_the_loss_and_uses_its_gradients():
    w = Parameter(np.array([1.0, -2.0], np.float32))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.data, [0.5, -1.0])  # w - 0.25 * 2w


def test_add_param_group_fills_defaults_like_torch():
    params = [Parameter(a.copy()) for a in initial_arrays()]
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in initial_arrays()]
    opt = optim.RMSprop(params[:2], lr=1e-3, momentum=0.9, foreach=False)
    th_opt = torch.optim.RMSprop(th_params[:2], lr=1e-3, momentum=0.9, foreach=False)
    opt.add_param_group({"params": params[2:], "lr": 0.1, "centered": True})
    th_opt.add_param_group({"params": th_params[2:], "lr": 0.1, "centered": True})
    for key, value in opt.param_groups[1].items():
        if key != "params":
            assert th_opt.param_groups[1][key] == value
    for grads in gradient_sequence(steps=30):
        set_grads(params, th_params, grads)
        opt.step()
        th_opt.step()
    for p, q in zip(params, th_params):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_named_parameters_are_accepted():
    w = Parameter(np.ones(3, np.float32))
    opt = optim.SGD([("w", w)], lr=0.1)
    assert opt.param_groups[0]["params"] == [w]
    assert opt.param_groups[0]["param_names"] == ["w"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w"]


def test_bad_params_raise():
    w = Parameter(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [w]}, {"params": [w]}])
    with pytest.raises(TypeError, match=r"params\[1\] is a ndarray"):
        optim.Adam([w, np.ones(3)])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.Adam({w})
    y = w * 2.0
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([y], lr=0.1)


# PyTorch's message first (code written against torch.optim matches on it), then what was expected
BAD_HYPERPARAMETERS = [
    (optim.SGD, {"lr": -0.1}, r"SGD: Invalid learning rate: -0.1 \(expected lr >= 0\)"),
    (optim.SGD, {"momentum": -0.5}, r"Invalid momentum value: -0.5 \(expected momentum >= 0\)"),
    (optim.SGD, {"weight_decay": -1e-4}, r"Invalid weight_decay value: -0.0001 \(expected weight_decay >= 0\)"),
    (optim.SGD, {"nesterov": True}, r"Nesterov momentum requires a momentum and zero dampening.*got momentum=0"),
    (optim.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, r"dampening=0.1"),
    (optim.Adam, {"betas": (1.0, 0.999)}, r"Invalid beta parameter at index 0: 1.0 \(expected 0 <= betas\[0\] < 1\)"),
    (optim.Adam, {"betas": (0.9, -0.1)}, r"Invalid beta parameter at index 1: -0.1"),
    (optim.Adam, {"betas": 0.9}, r"Invalid betas: expected a pair"),
    (optim.Adam, {"eps": -1e-8}, r"Adam: Invalid epsilon value: -1e-08 \(expected eps >= 0\)"),
    (optim.AdamW, {"lr": float("nan")}, r"AdamW: Invalid learning rate: nan"),
    (optim.Adagrad, {"lr_decay": -1}, r"Invalid lr_decay value: -1 \(expected lr_decay >= 0\)"),
    (optim.Adagrad, {"initial_accumulator_value": -1}, r"Invalid initial_accumulator_value value: -1"),
    (optim.Adadelta, {"rho": 1.5}, r"Adadelta: Invalid rho value: 1.5 \(expected 0 <= rho <= 1\)"),
    (optim.RMSprop, {"alpha": -0.1}, r"RMSprop: Invalid alpha value: -0.1 \(expected alpha >= 0\)"),
    (optim.RMSprop, {"momentum": -1}, r"Invalid momentum value: -1"),
    (optim.NAdam, {"momentum_decay": -1}, r"Invalid momentum_decay value: -1"),
    (optim.RAdam, {"weight_decay": -1}, r"RAdam: Invalid weight_decay value"),
    (optim.Adamax, {"betas": (0.9, 1.0)}, r"Adamax: Invalid beta parameter at index 1"),
    (optim.Lion, {"betas": (0.9, 1.2)}, r"Lion: Invalid beta parameter at index 1"),
    (optim.Lion, {"lr": -1}, r"Lion: Invalid learning rate: -1"),
]


@pytest.mark.parametrize("cls,kwargs,message", BAD_HYPERPARAMETERS,
                         ids=[f"{c.__name__}-{k}" for c, k, _ in BAD_HYPERPARAMETERS])
def test_bad_hyperparameters_raise_value_error_naming_them(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([Parameter(np.ones(2, np.float32))], **kwargs)
    if cls is not optim.Lion:  # PyTorch refuses the same values (a lone float for betas: a TypeError there)
        with pytest.raises((ValueError, TypeError)):
            getattr(torch.optim, cls.__name__)([torch.nn.Parameter(torch.ones(2))], **kwargs)


def test_bad_options_in_a_group_raise_too():
    w, b = Parameter(np.ones(2, np.float32)), Parameter(np.ones(1, np.float32))
    with pytest.raises(ValueError, match="got -0.5|: -0.5"):
        optim.Adam([{"params": [w]}, {"params": [b], "lr": -0.5}])


def test_nesterov_is_checked_on_the_constructor_arguments_only_as_in_torch():
    """PyTorch checks ``nesterov`` against the constructor's momentum/dampening only; a group may set
    its own momentum (0 turns Nesterov off) or dampening, and the update follows the group's options."""
    arrays = initial_arrays()
    groups = [([0, 1], {"momentum": 0}), ([2, 3], {"dampening": 0.3})]
    sg_params, th_params, sg_opt, th_opt = build_pair("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True},
                                                      groups, arrays)
    for grads in gradient_sequence(steps=10):
        set_grads(sg_params, th_params, grads)
        sg_opt.step()
        th_opt.step()
    assert_params_close(sg_params, th_params)


FLAG_CASES = [(name, flag) for name in ["SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop", "NAdam", "RAdam",
                                        "Adamax"]
              for flag in ["foreach", "fused", "capturable", "differentiable"]]


@pytest.mark.parametrize("name,flag", FLAG_CASES, ids=[f"{n}-{f}" for n, f in FLAG_CASES])
def test_torch_implementation_flags_are_accepted_or_refused_like_torch(name, flag):
    """``foreach``/``fused`` pick PyTorch kernels: accepted wherever PyTorch has them, the update unchanged;
    ``capturable``/``differentiable`` have no NumPy meaning: ``False`` accepted, ``True`` a RuntimeError."""
    th_cls = getattr(torch.optim, name)
    w = Parameter(np.ones(2, np.float32))
    if flag not in inspect.signature(th_cls.__init__).parameters:
        with pytest.raises(TypeError):
            getattr(optim, name)([w], **{flag: False})
        return
    opt = getattr(optim, name)([w], **{flag: False})
    assert opt.param_groups[0][flag] is False
    if flag in ("foreach", "fused"):
        opt = getattr(optim, name)([w], **{flag: True})
        w.grad = Tensor(np.ones(2, np.float32))
        opt.step()
        assert not np.allclose(w.data, 1.0)
    else:
        with pytest.raises(RuntimeError, match=flag):
            getattr(optim, name)([w], **{flag: True})
    if flag == "fused":
        with pytest.raises(RuntimeError, match="cannot be `True` together"):
            getattr(optim, name)([w], fused=True, foreach=True)


def test_positional_arguments_follow_torch_signatures():
    for name in ["SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop", "NAdam", "RAdam", "Adamax"]:
        ours = inspect.signature(getattr(optim, name).__init__).parameters
        theirs = inspect.signature(getattr(torch.optim, name).__init__).parameters
        assert list(ours) == list(theirs), name
        for key, p in theirs.items():
            assert ours[key].kind == p.kind, (name, key)
            if p.default is not inspect.Parameter.empty:
                assert ours[key].default == p.default, (name, key)


def test_repr_lists_groups():
    opt = optim.Adam([Parameter(np.ones(2, np.float32))], lr=0.01)
    text = repr(opt)
    assert text.startswith("Adam (") and "Parameter Group 0" in text and "lr: 0.01" in text


def test_optimizer_trains_a_model_through_module_parameters():
    from slimgrad.nn import Module

    class Line(Module):
        def __init__(self):
            super().__init__()
            self.w = Parameter(np.zeros(1, np.float32))
            self.b = Parameter(np.zeros(1, np.float32))

    model = Line()
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = sg.tensor(np.linspace(-1, 1, 20, dtype=np.float32))
    y = sg.tensor(3.0 * x.data - 1.0)
    for _ in range(300):
        opt.zero_grad()
        d = x * model.w + model.b - y
        loss = (d * d).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
    assert isinstance(model.w.grad, Tensor)


def test_numpy_scalar_hyperparameters_keep_float32():
    for cls, kwargs in [(optim.SGD, {"lr": np.float64(0.1), "momentum": np.float64(0.9)}),
                        (optim.Adam, {"lr": np.float64(1e-3), "betas": (np.float64(0.9), np.float64(0.99))})]:
        params = [Parameter(a.copy()) for a in initial_arrays()]
        opt = cls(params, **kwargs)
        assert all(type(v) is not np.float64 for v in opt.param_groups[0].values() if not isinstance(v, list))
        set_grads(params, NO_TORCH, gradient_sequence(steps=1, with_missing=False)[0])
        opt.step()
        assert all(p.data.dtype == np.float32 for p in params)
        json.dumps(opt.state_dict()["param_groups"])


def test_state_of_a_parameter_without_steps_is_an_empty_dict():
    w = Parameter(np.ones(2, np.float32))
    opt = optim.Adam([w])
    assert opt.state[w] == {}
    w.grad = Tensor(np.ones(2, np.float32))
    opt.step()
    assert opt.state[w]["step"] == 1


@pytest.mark.parametrize("name", ["SGD", "Adam", "NAdam", "RMSprop", "Adagrad"])
def test_a_torch_state_dict_loads_and_continues_like_torch(name):
    """A ``torch.optim`` state dict (0-d tensor steps, tensor buffers) loads: the next steps agree."""
    kwargs = FULL_STATE[name]
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in initial_arrays()]
    th_opt = getattr(torch.optim, name)(th_params, foreach=False, **kwargs)
    seq = gradient_sequence(steps=20)
    for grads in seq[:10]:
        set_grads(NO_TORCH, th_params, grads)
        th_opt.step()
    params = [Parameter(q.detach().numpy().copy()) for q in th_params]
    opt = getattr(optim, name)(params, **kwargs)
    opt.load_state_dict(th_opt.state_dict())
    for values in opt.state.values():
        assert all(isinstance(v, (int, float, np.ndarray)) for v in values.values())
    for grads in seq[10:]:
        set_grads(params, th_params, grads)
        opt.step()
        th_opt.step()
    assert_params_close(params, th_params)
