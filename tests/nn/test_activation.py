"""Activation layers vs the matching torch.nn modules: outputs, gradients, repr."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import slimgrad.nn as nn
from helpers import check_gradients, compare_with_torch

PAIRS = [
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: nn.LeakyReLU(), lambda: torch.nn.LeakyReLU()),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    (lambda: nn.GELU(approximate="tanh"), lambda: torch.nn.GELU(approximate="tanh")),
    (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    (lambda: nn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
    (lambda: nn.LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1)),
    (lambda: nn.LogSoftmax(dim=0), lambda: torch.nn.LogSoftmax(dim=0)),
    (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    (lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: nn.Softplus(), lambda: torch.nn.Softplus()),
    (lambda: nn.Softplus(beta=2.0, threshold=1.0), lambda: torch.nn.Softplus(beta=2.0, threshold=1.0)),
]
IDS = [repr(make()) for make, _ in PAIRS]


@pytest.mark.parametrize("make,make_torch", PAIRS, ids=IDS)
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple), seed=st.integers(0, 2**31 - 1))
def test_activation_modules_match_torch(make, make_torch, shape, seed):
    x = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(np.float32)
    # GELU's float32 tails (x * Phi(x) for x << 0) differ from torch's by ~1e-6 absolute
    atol = 1e-5 if isinstance(make(), nn.GELU) else 1e-6
    compare_with_torch(make(), make_torch(), [x], rtol=1e-5, atol=atol)


@pytest.mark.parametrize("make,make_torch", PAIRS, ids=IDS)
def test_activation_modules_gradcheck(make, make_torch):
    x = np.random.default_rng(0).standard_normal((3, 4)) + 0.05  # keep relu's kink away from the samples
    check_gradients(make(), [x])


@pytest.mark.parametrize("make,make_torch", PAIRS, ids=IDS)
def test_repr_matches_torch(make, make_torch):
    assert repr(make()) == repr(make_torch())


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_softmax_without_dim_uses_torchs_implicit_dim(ndim):
    x = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim]).astype(np.float32)
    with pytest.warns(UserWarning):
        expected = torch.nn.Softmax()(torch.tensor(x)).numpy()
    compare_with_torch(nn.Softmax(), lambda t: torch.softmax(t, 0 if ndim in (1, 3) else 1), [x])
    np.testing.assert_allclose(nn.LogSoftmax()(nn.Identity()(__import__("slimgrad").tensor(x))).data,
                               np.log(expected), rtol=1e-5, atol=1e-5)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        nn.GELU(approximate="erf")
