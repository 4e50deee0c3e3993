"""Every learning-rate schedule against ``torch.optim.lr_scheduler``: the same lr sequence for 100 steps."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.optim.lr_scheduler as TL
from hypothesis import given, settings
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.optim as optim
import slimgrad.optim.lr_scheduler as L
from slimgrad.nn import Parameter

LRS = (0.1, 0.01)

# PyTorch warns when a schedule is stepped without an optimizer step; the lr sequence is what is tested here
pytestmark = [pytest.mark.filterwarnings("ignore:Detected call of:UserWarning"),
              pytest.mark.filterwarnings("ignore:The epoch parameter:UserWarning")]


def _optimizers(name="SGD", lrs=LRS, **kwargs):
    if name == "SGD":
        kwargs.setdefault("momentum", 0.9)
    sg_groups = [{"params": [Parameter(np.ones(2, np.float32))], "lr": lr} for lr in lrs]
    th_groups = [{"params": [torch.nn.Parameter(torch.ones(2))], "lr": lr} for lr in lrs]
    return getattr(optim, name)(sg_groups, **kwargs), getattr(torch.optim, name)(th_groups, **kwargs)


def _lambda(epoch):
    return 0.95 ** epoch


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 10)


# (scheduler name, constructor arguments, optimizer name)
CASES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}, "SGD"),
    ("MultiStepLR", {"milestones": [10, 30, 30, 60], "gamma": 0.3}, "SGD"),
    ("ExponentialLR", {"gamma": 0.97}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 30, "eta_min": 1e-4}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 100}, "Adam"),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 20}, "SGD"),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.05, "total_iters": 50}, "SGD"),
    ("LinearLR", {}, "Adam"),
    ("LambdaLR", {"lr_lambda": _lambda}, "SGD"),
    ("LambdaLR", {"lr_lambda": [_lambda, _warmup]}, "SGD"),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.99}, "SGD"),
    ("ConstantLR", {"factor": 0.25, "total_iters": 12}, "SGD"),
    ("PolynomialLR", {"total_iters": 60, "power": 2.0}, "SGD"),
    ("CosineAnnealingWarmRestarts", {"T_0": 10, "T_mult": 2, "eta_min": 1e-3}, "SGD"),
    ("CosineAnnealingWarmRestarts", {"T_0": 7}, "Adam"),
    ("OneCycleLR", {"max_lr": [1.0, 0.1], "total_steps": 100}, "SGD"),
    ("OneCycleLR", {"max_lr": 0.5, "epochs": 10, "steps_per_epoch": 10, "anneal_strategy": "linear"}, "Adam"),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": 100, "three_phase": True, "pct_start": 0.25}, "SGD"),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": 100, "cycle_momentum": False}, "Adagrad"),
    ("OneCycleLR", {"max_lr": 0.2, "total_steps": 100, "div_factor": 5.0, "final_div_factor": 50.0, "three_phase": True,
                    "anneal_strategy": "linear", "base_momentum": [0.8, 0.7], "max_momentum": 0.9}, "Adam"),
]


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _assert_same(sg_opt, th_opt, sg_sched, th_sched, step):
    np.testing.assert_allclose(sg_sched.get_last_lr(), th_sched.get_last_lr(), rtol=1e-12, atol=0,
                               err_msg=f"get_last_lr at step {step}")
    np.testing.assert_allclose([g["lr"] for g in sg_opt.param_groups], [g["lr"] for g in th_opt.param_groups],
                               rtol=1e-12, atol=0, err_msg=f"group lr at step {step}")
    ours, theirs = _momenta(sg_opt), _momenta(th_opt)
    assert [m is None for m in ours] == [m is None for m in theirs], f"momentum presence at step {step}"
    np.testing.assert_allclose([m for m in ours if m is not None], [m for m in theirs if m is not None],
                               rtol=1e-12, atol=0, err_msg=f"momentum at step {step}")


@pytest.mark.parametrize("name,kwargs,opt_name", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_lr_sequence_matches_torch_for_100_steps(name, kwargs, opt_name):
    sg_opt, th_opt = _optimizers(opt_name)
    sg_sched = getattr(L, name)(sg_opt, **kwargs)
    th_sched = getattr(TL, name)(th_opt, **kwargs)
    assert sg_sched.last_epoch == th_sched.last_epoch == 0
    assert [g["initial_lr"] for g in sg_opt.param_groups] == [g["initial_lr"] for g in th_opt.param_groups]
    _assert_same(sg_opt, th_opt, sg_sched, th_sched, 0)
    lrs = set()
    for step in range(1, 101):
        sg_opt.step()
        th_opt.step()
        sg_sched.step()
        th_sched.step()
        _assert_same(sg_opt, th_opt, sg_sched, th_sched, step)
        lrs.add(round(sg_sched.get_last_lr()[0], 12))
    assert len(lrs) > 1, "the schedule must change the learning rate"


def test_sequential_warmup_then_cosine_matches_torch():
    sg_opt, th_opt = _optimizers()
    sg_sched = L.SequentialLR(sg_opt, [L.LinearLR(sg_opt, start_factor=0.1, total_iters=10),
                                       L.CosineAnnealingLR(sg_opt, T_max=90)], milestones=[10])
    th_sched = TL.SequentialLR(th_opt, [TL.LinearLR(th_opt, start_factor=0.1, total_iters=10),
                                        TL.CosineAnnealingLR(th_opt, T_max=90)], milestones=[10])
    _assert_same(sg_opt, th_opt, sg_sched, th_sched, 0)
    for step in range(1, 101):
        sg_sched.step()
        th_sched.step()
        _assert_same(sg_opt, th_opt, sg_sched, th_sched, step)


def _metrics(seed, n=100):
    """A noisy decreasing curve with long plateaus."""
    rng = np.random.default_rng(seed)
    values = 1.0 / (1.0 + np.arange(n) / 10.0)
    values[30:60] = values[30]
    values[70:] = values[70]
    return [float(v) for v in values + rng.normal(0, 1e-3, n)]


@pytest.mark.parametrize("kwargs", [
    {},
    {"patience": 3, "factor": 0.5},
    {"patience": 2, "cooldown": 3, "threshold": 1e-2, "min_lr": [1e-3, 5e-4]},
    {"mode": "max", "patience": 4, "threshold_mode": "abs", "threshold": 1e-3},
    {"patience": 0, "factor": 0.9, "eps": 1e-3, "min_lr": 0.05},
])
def test_reduce_on_plateau_matches_torch(kwargs):
    sg_opt, th_opt = _optimizers()
    sg_sched = L.ReduceLROnPlateau(sg_opt, **kwargs)
    th_sched = TL.ReduceLROnPlateau(th_opt, **kwargs)
    metrics = _metrics(0)
    if kwargs.get("mode") == "max":
        metrics = [-m for m in metrics]
    changes = 0
    for step, metric in enumerate(metrics, 1):
        before = sg_sched.get_last_lr()
        sg_sched.step(metric)
        th_sched.step(metric)
        changes += sg_sched.get_last_lr() != before
        _assert_same(sg_opt, th_opt, sg_sched, th_sched, step)
        assert sg_sched.num_bad_epochs == th_sched.num_bad_epochs
    assert changes > 0, "the plateaus must trigger a reduction"


@pytest.mark.parametrize("name,kwargs,opt_name", CASES + [("ReduceLROnPlateau", {"patience": 2}, "SGD")],
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES + [("ReduceLROnPlateau",)])])
def test_state_dict_roundtrip_through_json_resumes_the_schedule(name, kwargs, opt_name):
    metrics = _metrics(1)

    def advance(opt, sched, steps):
        for step in steps:
            opt.step()
            sched.step(metrics[step]) if name == "ReduceLROnPlateau" else sched.step()

    ref_opt, _ = _optimizers(opt_name)
    ref = getattr(L, name)(ref_opt, **kwargs)
    advance(ref_opt, ref, range(100))

    opt, _ = _optimizers(opt_name)
    sched = getattr(L, name)(opt, **kwargs)
    advance(opt, sched, range(40))
    opt_state = json.loads(json.dumps(opt.state_dict()["param_groups"]))
    sched_state = json.loads(json.dumps(sched.state_dict()))

    new_opt, _ = _optimizers(opt_name, lrs=(0.7, 0.7))
    new_sched = getattr(L, name)(new_opt, **kwargs)  # build the scheduler first, then load (PyTorch's order)
    new_opt.load_state_dict({"state": {}, "param_groups": opt_state})
    new_sched.load_state_dict(sched_state)
    advance(new_opt, new_sched, range(40, 100))
    assert new_sched.get_last_lr() == ref.get_last_lr()
    assert [g["lr"] for g in new_opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
    assert _momenta(new_opt) == _momenta(ref_opt)


@given(step_size=st.integers(1, 20), gamma=st.floats(0.05, 0.99), t_max=st.integers(1, 40),
       milestones=st.lists(st.integers(1, 99), max_size=5))
def test_drawn_configurations_match_torch(step_size, gamma, t_max, milestones):
    for name, kwargs in [("StepLR", {"step_size": step_size, "gamma": gamma}),
                         ("CosineAnnealingLR", {"T_max": t_max, "eta_min": 1e-3}),
                         ("MultiStepLR", {"milestones": milestones, "gamma": gamma})]:
        sg_opt, th_opt = _optimizers()
        sg_sched, th_sched = getattr(L, name)(sg_opt, **kwargs), getattr(TL, name)(th_opt, **kwargs)
        for step in range(1, 101):
            sg_sched.step()
            th_sched.step()
            _assert_same(sg_opt, th_opt, sg_sched, th_sched, step)


def test_one_cycle_refuses_to_step_past_total_steps():
    sg_opt, _ = _optimizers()
    sched = L.OneCycleLR(sg_opt, max_lr=0.1, total_steps=5)
    for _ in range(5):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 6 times. The specified number of total steps is 5"):
        sched.step()


def test_cosine_annealing_reaches_eta_min_at_t_max():
    sg_opt, _ = _optimizers()
    sched = L.CosineAnnealingLR(sg_opt, T_max=20, eta_min=1e-3)
    for _ in range(20):
        sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(1e-3, abs=1e-12)
    assert sched.get_last_lr()[1] == pytest.approx(1e-3, abs=1e-12)
    assert math.isclose(sched.base_lrs[0], 0.1)


# PyTorch's message text first (code written against it matches on it), then the value received
BAD = [
    (lambda o: L.StepLR(o, step_size=0), ValueError, "step_size must be a positive integer, got 0"),
    (lambda o: L.LinearLR(o, start_factor=0.0), ValueError,
     r"Starting multiplicative factor expected to be greater than 0 and less or equal to 1, got start_factor=0.0"),
    (lambda o: L.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative factor .*end_factor=1.5"),
    (lambda o: L.ConstantLR(o, factor=2.0), ValueError, "Constant multiplicative factor .*factor=2.0"),
    (lambda o: L.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0, got 1.0"),
    (lambda o: L.ReduceLROnPlateau(o, mode="bogus"), ValueError, "mode bogus is unknown!"),
    (lambda o: L.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode x is unknown!"),
    (lambda o: L.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1), ValueError, r"You must define either total_steps OR \(epochs AND"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=0), ValueError, "Expected positive integer total_steps, but got 0"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=0), ValueError,
     "Expected positive integer steps_per_epoch, but got 0"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="x"), ValueError,
     "anneal_strategy must be one of 'cos' or 'linear', instead got 'x'"),
    (lambda o: L.OneCycleLR(o, max_lr=[0.1], total_steps=10), ValueError,
     "max_lr must have the same length as optimizer.param_groups"),
    (lambda o: L.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5), ValueError,
     "Expected float between 0 and 1 pct_start, but got 1.5"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "Expected positive integer T_0, but got 0"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=0), ValueError, "T_mult >= 1, but got 0"),
    (lambda o: L.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be a positive number of steps, got 0"),
    (lambda o: L.LambdaLR(o, lr_lambda=[_lambda]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda o: L.LambdaLR(o, lr_lambda=3), TypeError, "lr_lambda should be a function, but got int"),
    (lambda o: L.StepLR("not an optimizer", step_size=2), TypeError, "must be a slimgrad Optimizer, got str"),
    (lambda o: L.StepLR(o, step_size=2, last_epoch=5), KeyError, "initial_lr"),
]


@pytest.mark.parametrize("build,error,message", BAD, ids=[m[:30] for _, _, m in BAD])
def test_bad_arguments_raise(build, error, message):
    sg_opt, _ = _optimizers()
    with pytest.raises(error, match=message):
        build(sg_opt)


def test_one_cycle_needs_momentum_or_betas():
    opt = optim.Adadelta([Parameter(np.ones(2, np.float32))])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1 .*neither momentum nor betas"):
        L.OneCycleLR(opt, max_lr=0.1, total_steps=10)


def test_deprecated_epoch_argument_jumps_like_torch():
    """``step(epoch)`` (deprecated in PyTorch, still used) jumps with the closed form; it warns as PyTorch."""
    for name, kwargs in [("StepLR", {"step_size": 3, "gamma": 0.5}), ("MultiStepLR", {"milestones": [2, 5, 5, 9]}),
                         ("CosineAnnealingLR", {"T_max": 7}), ("LinearLR", {}), ("ExponentialLR", {"gamma": 0.9})]:
        sg_opt, th_opt = _optimizers()
        sg_sched, th_sched = getattr(L, name)(sg_opt, **kwargs), getattr(TL, name)(th_opt, **kwargs)
        for epoch in [3, 4, None, 10, None, 1]:
            with pytest.warns(UserWarning, match="epoch") if epoch is not None else _no_context():
                sg_sched.step(epoch)
            th_sched.step(epoch)
            _assert_same(sg_opt, th_opt, sg_sched, th_sched, epoch)


class _no_context:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("t_0,t_mult", [(3, 1), (3, 2), (5, 3)])
def test_warm_restarts_with_fractional_epochs_match_torch(t_0, t_mult):
    """PyTorch's documented per-batch use: ``scheduler.step(epoch + i / iters)``, mixed with plain steps."""
    sg_opt, th_opt = _optimizers()
    sg_sched = L.CosineAnnealingWarmRestarts(sg_opt, t_0, t_mult, eta_min=0.01)
    th_sched = TL.CosineAnnealingWarmRestarts(th_opt, t_0, t_mult, eta_min=0.01)
    rng = np.random.default_rng(t_0 * t_mult)
    for i in range(40):
        epoch = None if i % 4 == 3 else (i // 3 + (i % 3) / 3 if i < 30 else float(rng.uniform(0, 40)))
        sg_sched.step(epoch)
        th_sched.step(epoch)
        _assert_same(sg_opt, th_opt, sg_sched, th_sched, i)
        assert sg_sched.last_epoch == th_sched.last_epoch
    with pytest.raises(ValueError, match="non-negative epoch"):
        sg_sched.step(-1)


def test_plateau_accepts_a_metric_tensor_and_the_deprecated_epoch():
    sg_opt, th_opt = _optimizers()
    sg_sched = L.ReduceLROnPlateau(sg_opt, patience=0)
    th_sched = TL.ReduceLROnPlateau(th_opt, patience=0)
    for epoch, metric in enumerate([1.0, 2.0, 2.0, 0.5]):
        with pytest.warns(UserWarning, match="epoch"):
            sg_sched.step(sg.tensor(np.float32(metric)), epoch + 5)
        th_sched.step(torch.tensor(metric), epoch + 5)
        assert sg_sched.last_epoch == th_sched.last_epoch
        np.testing.assert_allclose(sg_sched.get_last_lr(), th_sched.get_last_lr(), rtol=1e-12)


def test_step_size_may_be_a_numpy_integer():
    sg_opt, th_opt = _optimizers()
    sg_sched, th_sched = L.StepLR(sg_opt, step_size=np.int64(3)), TL.StepLR(th_opt, step_size=np.int64(3))
    for step in range(10):
        sg_sched.step()
        th_sched.step()
        _assert_same(sg_opt, th_opt, sg_sched, th_sched, step)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_drawn_one_cycle_configurations_match_torch(data):
    """OneCycleLR over drawn options: total_steps or epochs x steps_per_epoch, both annealings, two or
    three phases, div factors, momentum cycling of SGD's momentum or Adam's beta1."""
    total = data.draw(st.integers(2, 60))
    kwargs = {"max_lr": data.draw(st.sampled_from([0.5, [0.3, 0.05]])),
              "pct_start": data.draw(st.floats(0.05, 0.95)),
              "anneal_strategy": data.draw(st.sampled_from(["cos", "linear"])),
              "three_phase": data.draw(st.booleans()),
              "div_factor": data.draw(st.floats(1.5, 100.0)),
              "final_div_factor": data.draw(st.floats(1.0, 1e5)),
              "cycle_momentum": data.draw(st.booleans()),
              "base_momentum": data.draw(st.floats(0.5, 0.85)),
              "max_momentum": data.draw(st.floats(0.86, 0.99))}
    if data.draw(st.booleans()):
        kwargs["total_steps"] = total
    else:
        kwargs["epochs"], kwargs["steps_per_epoch"] = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 10))
        total = kwargs["epochs"] * kwargs["steps_per_epoch"]
    opt_name = data.draw(st.sampled_from(["SGD", "Adam"]))
    sg_opt, th_opt = _optimizers(opt_name)
    try:  # a phase of zero length (e.g. pct_start * total_steps == 1) divides by zero in PyTorch
        th_sched = TL.OneCycleLR(th_opt, **kwargs)
        for _ in range(1, total):
            th_sched.step()
    except ZeroDivisionError:
        with pytest.raises(ZeroDivisionError):
            sg_sched = L.OneCycleLR(sg_opt, **kwargs)
            for _ in range(1, total):
                sg_sched.step()
        return
    sg_opt, th_opt = _optimizers(opt_name)
    sg_sched, th_sched = L.OneCycleLR(sg_opt, **kwargs), TL.OneCycleLR(th_opt, **kwargs)
    _assert_same(sg_opt, th_opt, sg_sched, th_sched, 0)
    for step in range(1, total):
        sg_sched.step()
        th_sched.step()
        _assert_same(sg_opt, th_opt, sg_sched, th_sched, step)


def test_numpy_scalars_from_a_lambda_become_python_floats():
    """A lambda returning NumPy scalars leaves Python floats in the groups: JSON-safe, no dtype promotion."""
    sg_opt, _ = _optimizers()
    sched = L.LambdaLR(sg_opt, lr_lambda=lambda epoch: np.float32(0.9) ** epoch)
    for _ in range(3):
        sched.step()
    assert all(type(g["lr"]) is float for g in sg_opt.param_groups)
    assert all(type(lr) is float for lr in sched.get_last_lr())
    json.dumps(sg_opt.state_dict()["param_groups"])


def test_a_custom_schedule_subclassing_the_base_steps_like_torch():
    """A user's schedule written for PyTorch (``get_lr`` from ``last_epoch`` and ``base_lrs``) works as is,
    also under the older base name ``_LRScheduler``."""
    def make(base):
        class Halving(base):
            def get_lr(self):
                return [lr * 0.5 ** (self.last_epoch // 2) for lr in self.base_lrs]
        return Halving

    sg_opt, th_opt = _optimizers()
    sg_sched, th_sched = make(L._LRScheduler)(sg_opt), make(TL._LRScheduler)(th_opt)
    for step in range(8):
        sg_sched.step()
        th_sched.step()
        _assert_same(sg_opt, th_opt, sg_sched, th_sched, step)
