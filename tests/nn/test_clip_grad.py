"""Gradient clipping against ``torch.nn.utils``: the total norm returned and the clipped gradients."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import slimgrad.nn as nn
from slimgrad.autograd import Tensor
from slimgrad.nn import Parameter
from slimgrad.nn.utils import clip_grad_norm_, clip_grad_value_


def _pair(shapes, seed, scale=1.0, missing=()):
    rng = np.random.default_rng(seed)
    sg_params, th_params = [], []
    for i, shape in enumerate(shapes):
        p = Parameter(np.zeros(shape, np.float32))
        q = torch.nn.Parameter(torch.zeros(shape))
        if i not in missing:
            g = (rng.standard_normal(shape) * scale).astype(np.float32)
            p.grad = Tensor(g.copy())
            q.grad = torch.tensor(g)
        sg_params.append(p)
        th_params.append(q)
    return sg_params, th_params


def _assert_grads(sg_params, th_params, rtol=1e-5, atol=1e-7):
    for i, (p, q) in enumerate(zip(sg_params, th_params)):
        if q.grad is None:
            assert p.grad is None
            continue
        assert p.grad.data.dtype == np.float32
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"grad {i}")


shapes_strategy = st.lists(st.lists(st.integers(1, 6), min_size=0, max_size=3).map(tuple), min_size=1, max_size=4)


@given(shapes=shapes_strategy, seed=st.integers(0, 2**16),
       norm_type=st.sampled_from([2.0, 1.0, math.inf, 3.0, 0.5, "inf", 2]),
       max_norm=st.sampled_from([0.0, 0.1, 1.0, 5.0, 1e3]), scale=st.sampled_from([0.01, 1.0, 30.0]),
       foreach=st.sampled_from([None, True, False]), error_if_nonfinite=st.booleans())
def test_clip_grad_norm_matches_torch(shapes, seed, norm_type, max_norm, scale, foreach, error_if_nonfinite):
    missing = (1,) if len(shapes) > 2 else ()
    sg_params, th_params = _pair(shapes, seed, scale, missing)
    total = clip_grad_norm_(sg_params, max_norm, norm_type, error_if_nonfinite, foreach)  # PyTorch's order
    ref = torch.nn.utils.clip_grad_norm_(th_params, max_norm, norm_type=norm_type, foreach=False,
                                         error_if_nonfinite=error_if_nonfinite)
    assert isinstance(total, Tensor) and total.shape == () and total.dtype == np.float32
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-5)
    _assert_grads(sg_params, th_params)


def test_norm_is_at_most_max_norm_after_clipping_and_small_grads_are_untouched():
    sg_params, _ = _pair([(10, 10), (10,)], 0, scale=5.0)
    before = clip_grad_norm_(sg_params, 1.0).item()
    after = clip_grad_norm_(sg_params, 1.0).item()
    assert before > 10 and after == pytest.approx(1.0, rel=1e-5)
    small, _ = _pair([(3,)], 1, scale=1e-3)
    g = small[0].grad.data.copy()
    clip_grad_norm_(small, 1.0)
    np.testing.assert_array_equal(small[0].grad.data, g)


def test_single_tensor_and_empty_inputs():
    sg_params, th_params = _pair([(4, 3)], 2, scale=3.0)
    total = clip_grad_norm_(sg_params[0], 0.5)
    ref = torch.nn.utils.clip_grad_norm_(th_params[0], 0.5)
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-6)
    _assert_grads(sg_params, th_params)
    assert clip_grad_norm_([], 1.0).item() == 0.0
    no_grad = [Parameter(np.ones(3, np.float32))]
    assert clip_grad_norm_(no_grad, 1.0).item() == 0.0


def test_nonfinite_norm():
    sg_params, th_params = _pair([(3,), (2,)], 3)
    sg_params[0].grad.data[1] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(sg_params, 1.0, error_if_nonfinite=True)
    sg_params[0].grad.data[1] = np.inf
    th_params[0].grad[1] = math.inf
    total = clip_grad_norm_(sg_params, 1.0)
    ref = torch.nn.utils.clip_grad_norm_(th_params, 1.0)
    assert math.isinf(total.item()) and math.isinf(ref.item())
    np.testing.assert_array_equal(np.isnan(sg_params[1].grad.data), np.isnan(th_params[1].grad.numpy()))


def test_negative_max_norm_is_rejected():
    sg_params, _ = _pair([(3,)], 0)
    with pytest.raises(ValueError, match="max_norm must be a non-negative number, got -1.0"):
        clip_grad_norm_(sg_params, -1.0)


@given(shapes=shapes_strategy, seed=st.integers(0, 2**16), clip_value=st.sampled_from([0.0, 0.05, 0.5, 2.0, 1e4]))
def test_clip_grad_value_matches_torch(shapes, seed, clip_value):
    sg_params, th_params = _pair(shapes, seed, 1.0, missing=(0,) if len(shapes) > 1 else ())
    assert clip_grad_value_(sg_params, clip_value, True) is None  # foreach accepted, as in PyTorch
    torch.nn.utils.clip_grad_value_(th_params, clip_value, foreach=False)
    _assert_grads(sg_params, th_params, rtol=0, atol=0)


def test_clipping_is_in_place_and_reachable_as_nn_utils():
    sg_params, _ = _pair([(5,)], 4, scale=10.0)
    buf = sg_params[0].grad.data
    nn.utils.clip_grad_norm_(sg_params, 1.0)
    nn.utils.clip_grad_value_(sg_params, 0.1)
    assert sg_params[0].grad.data is buf
    assert np.abs(buf).max() <= 0.1


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    sg_a, th_a = _pair([(4, 5), (3,)], 7, scale=2.0)
    sg_b, th_b = _pair([(6,)], 8, scale=2.0)
    from slimgrad.nn.utils import clip_grads_with_norm_, get_total_norm
    total = get_total_norm([p.grad for p in sg_a + sg_b], norm_type=3.0)
    ref = torch.nn.utils.get_total_norm([q.grad for q in th_a + th_b], norm_type=3.0)
    assert isinstance(total, Tensor)
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-6)
    clip_grads_with_norm_(sg_a, 1.5, total)
    torch.nn.utils.clip_grads_with_norm_(th_a, 1.5, ref)
    _assert_grads(sg_a, th_a)


@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float64, np.float32)])
def test_mixed_precision_gradients_give_a_float64_norm_as_torch(dtypes):
    sg_params = [Parameter(np.zeros(3, d)) for d in dtypes]
    th_params = [torch.nn.Parameter(torch.zeros(3, dtype=getattr(torch, np.dtype(d).name))) for d in dtypes]
    for i, (p, q) in enumerate(zip(sg_params, th_params)):
        g = (np.arange(3) + 1 + i / 3).astype(p.data.dtype)
        p.grad, q.grad = Tensor(g.copy()), torch.tensor(g)
    total = clip_grad_norm_(sg_params, 1.0)
    ref = torch.nn.utils.clip_grad_norm_(th_params, 1.0)
    assert total.dtype == np.float64 and ref.dtype == torch.float64
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-12)
    for p, q, d in zip(sg_params, th_params, dtypes):
        assert p.grad.data.dtype == d
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-6)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("norm_type", [-1.0, -0.5, 0.3])
def test_negative_and_fractional_norm_types_match_torch_without_warnings(norm_type):
    sg_params, th_params = _pair([(3,), (2, 2)], 11, scale=1.0)
    sg_params[0].grad.data[0] = 0.0  # 0^p = inf for p < 0: the norm is 0, quietly
    th_params[0].grad[0] = 0.0
    total = clip_grad_norm_(sg_params, 0.5, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(th_params, 0.5, norm_type=norm_type, foreach=False)
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-5)
    _assert_grads(sg_params, th_params)
