"""nn.init: PyTorch's gains, fans and distributions (bounds and moments), in place, float32 kept, seeded."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.nn as nn
from slimgrad.nn import init

weight_shapes = st.lists(st.integers(1, 6), min_size=2, max_size=5).map(tuple)


def _weight(shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("conv_transpose2d", None), ("sigmoid", None), ("tanh", None),
    ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None),
])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_calculate_gain_rejects_unknown_names():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "steep")


@given(shape=weight_shapes)
def test_fans_match_torch(shape):
    fans = init._calculate_fan_in_and_fan_out(_weight(shape))
    assert fans == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_grouped_conv_weight_fan_in_counts_in_channels_per_group():
    # Conv2d(8, 16, 3, groups=4) has weight (16, 8/4, 3, 3): fan_in = 2 * 9
    assert init._calculate_fan_in_and_fan_out(_weight((16, 2, 3, 3))) == (18, 144)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(_weight((5,)))


def _torch_fan(shape, mode):
    return torch.nn.init._calculate_correct_fan(torch.zeros(shape), mode)


@pytest.mark.parametrize("a,mode,nonlinearity", [
    (0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"), (0, "fan_out", "relu"),
    (0.1, "fan_out", "leaky_relu"), (0, "fan_in", "tanh"),
])
@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (300, 200)])
def test_kaiming_distributions_follow_torch_formulas(a, mode, nonlinearity, shape):
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(_torch_fan(shape, mode))
    bound = math.sqrt(3.0) * std
    w = init.kaiming_uniform_(_weight(shape), a=a, mode=mode, nonlinearity=nonlinearity).data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(std, rel=0.03) and abs(w.mean()) < 0.03 * std
    w = init.kaiming_normal_(_weight(shape), a=a, mode=mode, nonlinearity=nonlinearity).data
    assert w.std() == pytest.approx(std, rel=0.03) and abs(w.mean()) < 0.03 * std


@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier_distributions_follow_torch_formulas(gain):
    shape = (120, 80, 3)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    w = init.xavier_uniform_(_weight(shape), gain=gain).data
    assert np.abs(w).max() <= math.sqrt(3) * std and np.abs(w).max() > 0.99 * math.sqrt(3) * std
    assert w.std() == pytest.approx(std, rel=0.03)
    assert init.xavier_normal_(_weight(shape), gain=gain).data.std() == pytest.approx(std, rel=0.03)


def test_uniform_normal_constant_zeros_ones():
    w = init.uniform_(_weight((200, 300)), -2.0, 3.0).data
    assert w.min() >= -2 and w.max() < 3 and w.mean() == pytest.approx(0.5, abs=0.02)
    w = init.normal_(_weight((200, 300)), mean=1.5, std=0.5).data
    assert w.mean() == pytest.approx(1.5, abs=0.01) and w.std() == pytest.approx(0.5, rel=0.02)
    assert np.all(init.constant_(_weight((3, 2)), 0.25).data == 0.25)
    assert np.all(init.zeros_(init.ones_(_weight((3, 2)))).data == 0)
    assert np.all(init.ones_(_weight((3, 2))).data == 1)


@pytest.mark.parametrize("fn", [init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
                                init.kaiming_uniform_, init.kaiming_normal_, init.zeros_, init.ones_])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initialisers_work_in_place_keep_dtype_and_are_seeded(fn, dtype):
    w = _weight((4, 5), dtype)
    array = w.data
    assert fn(w) is w and w.data is array and w.dtype == dtype
    sg.manual_seed(3)
    first = fn(_weight((4, 5), dtype)).data.copy()
    sg.manual_seed(3)
    np.testing.assert_array_equal(fn(_weight((4, 5), dtype)).data, first)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_both'"):
        init.kaiming_uniform_(_weight((3, 3)), mode="fan_both")
    with pytest.raises(TypeError, match="expected a floating-point tensor"):
        init.normal_(sg.tensor(np.zeros((2, 2), dtype=np.int64)))
    with pytest.raises(TypeError, match="expected a Tensor or Parameter"):
        init.zeros_(np.zeros(3))
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(_weight((2, 2)), 1.0, 0.0)


def test_trunc_normal_orthogonal_and_eye():
    sg.manual_seed(0)
    w = nn.init.trunc_normal_(sg.zeros(200, 50), std=0.5, a=-0.6, b=0.4)
    values = w.numpy().astype(np.float64)
    assert w.dtype == np.float32 and values.min() >= -0.6 and values.max() <= 0.4
    # the truncated normal's mean and standard deviation (alpha = a/std, beta = b/std), not a clipped normal's
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: (1 + math.erf(z / math.sqrt(2))) / 2  # noqa: E731
    alpha, beta = -0.6 / 0.5, 0.4 / 0.5
    mass = cdf(beta) - cdf(alpha)
    mean = 0.5 * (pdf(alpha) - pdf(beta)) / mass
    std = 0.5 * math.sqrt(1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - ((pdf(alpha) - pdf(beta)) / mass) ** 2)
    assert abs(values.mean() - mean) < 0.01 and abs(values.std() - std) < 0.01
    assert not np.isin(values, [-0.6, 0.4]).any()  # no draws piled up on the bounds
    for shape in [(3, 5), (5, 3), (4, 2, 3)]:
        q = nn.init.orthogonal_(sg.zeros(*shape), gain=2.0).numpy().reshape(shape[0], -1)
        small = q @ q.T if shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(small, 4.0 * np.eye(len(small)), atol=1e-5)
    np.testing.assert_array_equal(nn.init.eye_(sg.ones(2, 3)).numpy(), torch.nn.init.eye_(torch.ones(2, 3)).numpy())
    with pytest.raises(ValueError, match="orthogonal_: only tensors with 2 or more dimensions"):
        nn.init.orthogonal_(sg.zeros(3))
