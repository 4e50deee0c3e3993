"""Inverted dropout: statistics, scaling, gradients, reproducibility, channel-wise dropout2d, validation."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import slimgrad as sg
import slimgrad.functional as F
from helpers import check_gradients
from op_cases import shape_st


@given(p=st.sampled_from([0.1, 0.5, 0.8]), seed=st.integers(0, 100))
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p, seed):
    sg.manual_seed(seed)
    x = np.random.default_rng(seed).uniform(1.0, 2.0, (200, 100)).astype(np.float32)
    out = F.dropout(sg.tensor(x), p)
    kept = out.data != 0
    assert out.dtype == np.float32
    assert abs(1 - kept.mean() - p) < 0.02  # 20,000 draws: std of the fraction < 0.0036
    np.testing.assert_allclose(out.data[kept], x[kept] / (1 - p), rtol=1e-6)
    # unbiased: E[out] = x; the mean's standard error is rms(x) sqrt(p / (1 - p) / n): allow 5 of them
    sigma = np.sqrt(np.mean(x.astype(np.float64) ** 2) * p / (1 - p) / x.size)
    assert abs(out.data.mean(dtype=np.float64) - x.mean(dtype=np.float64)) < 5 * sigma


@given(shape=shape_st(min_dims=1), p=st.floats(0.05, 0.95))
def test_dropout_gradient_is_the_scaled_mask(shape, p):
    sg.manual_seed(0)
    x = sg.tensor(np.ones(shape, np.float32), requires_grad=True)
    out = F.dropout(x, p)
    out.backward(np.ones(shape, np.float32))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, out.data)  # x = 1: output and gradient are both mask / (1 - p)
    kept = x.grad.data != 0
    np.testing.assert_allclose(x.grad.data[kept], np.float32(1 / (1 - p)), rtol=1e-6)


def test_dropout_gradcheck_with_a_fixed_mask():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)

    def fixed(t):
        sg.manual_seed(3)  # gradcheck calls fn repeatedly: reseed so every call draws the same mask
        return F.dropout(t, 0.4)
    check_gradients(fixed, [x])
    check_gradients(lambda t: (sg.manual_seed(3), F.dropout2d(t, 0.4))[1], [x.reshape(1, 2, 2, 5)])


def test_dropout_is_reproducible_with_manual_seed():
    x = sg.tensor(np.ones((10, 10), np.float32))
    sg.manual_seed(7)
    a = F.dropout(x, 0.5).data
    b = F.dropout(x, 0.5).data
    sg.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).data, a)
    assert not np.array_equal(a, b)


def test_dropout_identity_cases():
    x = sg.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    out = F.dropout(x, 1.0)
    out.sum().backward()
    assert not out.data.any() and not x.grad.data.any()  # as torch: all zero, zero gradient


@given(n=st.integers(1, 4), c=st.integers(1, 8), batched=st.booleans(), seed=st.integers(0, 100))
def test_dropout2d_zeroes_whole_channels(n, c, batched, seed):
    sg.manual_seed(seed)
    shape = (n, c, 3, 4) if batched else (c, 3, 4)
    x = np.random.default_rng(seed).uniform(1.0, 2.0, shape).astype(np.float32)
    t = sg.tensor(x, requires_grad=True)
    out = F.dropout2d(t, 0.5)
    flat = out.data.reshape(-1, 12)
    zero_rows = (flat == 0).all(axis=1)
    kept_rows = (flat != 0).all(axis=1)
    assert np.all(zero_rows | kept_rows)  # every channel all-zero or all-kept
    np.testing.assert_allclose(flat[kept_rows], x.reshape(-1, 12)[kept_rows] * 2, rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(t.grad.data.reshape(-1, 12)[kept_rows], 2.0)
    assert not t.grad.data.reshape(-1, 12)[zero_rows].any()


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d])
@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", None])
def test_bad_p_raises_value_error_naming_it(fn, p):
    with pytest.raises(ValueError, match=rf"{fn.__name__}: dropout probability p has to be between 0 and 1, but got"):
        fn(sg.tensor(np.ones((1, 1, 2, 2), np.float32)), p)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match=r"dropout2d: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) input, got shape \(2, 3\)"):
        F.dropout2d(sg.tensor(np.ones((2, 3), np.float32)))
    with pytest.raises(TypeError, match="dropout: expected a floating-point input, got dtype int64"):
        F.dropout(sg.tensor(np.ones(3, np.int64)))
