"""Shared fixtures of the optimizer tests: a small "model" (parameter arrays of several shapes), a seeded
gradient sequence, and a runner that feeds the same gradients to slimgrad and to ``torch.optim``."""
from __future__ import annotations

import numpy as np
import torch

import slimgrad.optim as optim
from slimgrad.autograd import Tensor
from slimgrad.nn import Parameter

SHAPES = [(3, 4), (4,), (2, 3, 2), (1,)]

# (optimizer name, keyword options): several option combinations per optimizer, PyTorch's names
CONFIGS = [
    ("SGD", {}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.02, "momentum": 0.5, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"eps": 1e-6, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1}),
    ("Adadelta", {"maximize": True, "eps": 1e-4}),
    ("RMSprop", {}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"momentum": 0.9, "centered": True, "weight_decay": 0.1, "alpha": 0.9}),
    ("RMSprop", {"maximize": True, "lr": 1e-3}),
    ("Adam", {}),
    ("Adam", {"amsgrad": True}),
    ("Adam", {"weight_decay": 0.1}),
    ("Adam", {"weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 1e-2, "betas": (0.8, 0.9), "eps": 1e-6}),
    ("Adam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"weight_decay": 0.5, "amsgrad": True, "lr": 1e-2}),
    ("AdamW", {"maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"weight_decay": 0.1, "betas": (0.8, 0.99)}),
    ("Adamax", {"maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"weight_decay": 0.1}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "momentum_decay": 1e-2}),
    ("NAdam", {"maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"weight_decay": 0.1}),
    ("RAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"maximize": True, "betas": (0.9, 0.99)}),
]

# options that make every kind of state exist (for the state-dict round trip)
FULL_STATE = {
    "SGD": {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    "Adagrad": {"lr_decay": 0.01, "initial_accumulator_value": 0.1},
    "Adadelta": {"weight_decay": 0.1},
    "RMSprop": {"momentum": 0.9, "centered": True},
    "Adam": {"amsgrad": True, "weight_decay": 0.1},
    "AdamW": {"amsgrad": True},
    "Adamax": {},
    "NAdam": {"weight_decay": 0.1},
    "RAdam": {},
    "Lion": {"weight_decay": 0.1, "lr": 1e-3},
}


def initial_arrays(shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def gradient_sequence(shapes=SHAPES, steps=50, seed=1, with_missing=True):
    """Random gradients, one list per step; the last parameter gets no gradient every 7th step."""
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(steps):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        if with_missing and t % 7 == 3:
            grads[-1] = None
        seq.append(grads)
    return seq


def set_grads(sg_params, th_params, grads):
    for p, q, g in zip(sg_params, th_params, grads):
        if p is not None:
            p.grad = None if g is None else Tensor(g.copy())
        if q is not None:
            q.grad = None if g is None else torch.tensor(g)


def make_groups(params, groups):
    """``groups``: None (one plain list) or a list of (indices, options)."""
    if groups is None:
        return list(params)
    return [{"params": [params[i] for i in idx], **opts} for idx, opts in groups]


def build_pair(name, kwargs, groups=None, arrays=None):
    arrays = initial_arrays() if arrays is None else arrays
    sg_params = [Parameter(a.copy()) for a in arrays]
    th_params = [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]
    sg_opt = getattr(optim, name)(make_groups(sg_params, groups), foreach=False, **kwargs)
    th_opt = getattr(torch.optim, name)(make_groups(th_params, groups), foreach=False, **kwargs)
    return sg_params, th_params, sg_opt, th_opt


def assert_params_close(sg_params, th_params, rtol=1e-5, atol=1e-6, context=""):
    for i, (p, q) in enumerate(zip(sg_params, th_params)):
        assert p.data.dtype == np.float32, f"{context} param {i} dtype {p.data.dtype}"
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{context} param {i}")
