"""nn.Linear: PyTorch's default init, forward and gradients vs torch with copied weights, checks, repr."""
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.nn as nn
from helpers import check_gradients


def test_default_init_bounds_are_one_over_sqrt_fan_in():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.98 * bound
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    ref = torch.nn.Linear(400, 300)
    assert ref.weight.detach().numpy().std() == pytest.approx(layer.weight.data.std(), rel=0.03)


def test_init_is_seeded():
    sg.manual_seed(7)
    a = nn.Linear(5, 4)
    sg.manual_seed(7)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)


@given(lead=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), n_in=st.integers(1, 8),
       n_out=st.integers(1, 8), bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_forward_and_gradients_match_torch(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    layer, ref = nn.Linear(n_in, n_out, bias=bias), torch.nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.data))
        if bias:
            ref.bias.copy_(torch.tensor(layer.bias.data))
    x = rng.standard_normal(lead + (n_in,)).astype(np.float32)
    xs, xt = sg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = layer(xs), ref(xt)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    if bias:
        np.testing.assert_allclose(layer.bias.grad.data, ref.bias.grad.numpy(), rtol=1e-5, atol=1e-5)
    else:
        assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]


def test_gradcheck_float64():
    layer = nn.Linear(3, 2, dtype=np.float64)
    check_gradients(lambda x: layer(x), [np.random.default_rng(0).standard_normal((4, 3))])

    def with_params(x, w, b):
        # plain tensors (bypassing the Parameter-only check) so the gradient flows back to gradcheck's inputs
        object.__setattr__(layer, "weight", w)
        object.__setattr__(layer, "bias", b)
        return layer(x)

    rng = np.random.default_rng(1)
    check_gradients(with_params, [rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)])


def test_wrong_input_size_names_the_layer():
    layer = nn.Linear(784, 10)
    with pytest.raises(ValueError, match=re.escape(
            "Linear(in_features=784, out_features=10): expected input with last dimension 784, got shape (8, 100)")):
        layer(sg.tensor(np.zeros((8, 100), dtype=np.float32)))
    with pytest.raises(ValueError, match="in_features must be a non-negative integer, got -1"):
        nn.Linear(-1, 3)
    with pytest.raises(ValueError, match="out_features must be a non-negative integer, got 2.5"):
        nn.Linear(3, 2.5)




def test_repr_matches_torch():
    assert repr(nn.Linear(784, 10)) == repr(torch.nn.Linear(784, 10))
    assert repr(nn.Linear(3, 4, bias=False)) == repr(torch.nn.Linear(3, 4, bias=False))


def test_zero_in_features_and_device_argument_like_torch():
    layer = nn.Linear(0, 3, device="cpu")
    reference = torch.nn.Linear(0, 3)
    reference.bias.data = torch.tensor(layer.bias.detach().numpy())
    x = np.zeros((2, 0), dtype=np.float32)
    out = layer(sg.tensor(x))
    np.testing.assert_array_equal(out.detach().numpy(), reference(torch.tensor(x)).detach().numpy())
    out.sum().backward()
    assert layer.weight.grad.shape == (3, 0) and layer.bias.grad.numpy().tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="only device='cpu' is supported, got 'cuda'"):
        nn.Linear(2, 3, device="cuda")
