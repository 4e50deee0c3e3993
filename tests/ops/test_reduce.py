"""Reductions against PyTorch over hypothesis shapes, dims and keepdim; ties; argmax; bad dims."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import slimgrad as sg
from helpers import compare_with_torch
from op_cases import Case, check_case, distinct, normal, shape_st


@st.composite
def dims_st(draw, shape, single=False, allow_none=True):
    """None, one dim (maybe negative) or a tuple of distinct dims of ``shape``."""
    nd = len(shape)
    if nd == 0 or (allow_none and draw(st.booleans()) and not single):
        return None
    if single or draw(st.booleans()):
        return draw(st.integers(-nd, nd - 1))
    return tuple(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)))


def reduce_case(name, sg_op, torch_op, gen=normal, single=False, allow_none=True, min_dims=0, **kw):
    """A reduction case with drawn ``dim`` and ``keepdim``; the config is drawn in ``make`` and stored."""
    config = {}

    def make(draw, rng):
        shape = draw(shape_st(min_dims=min_dims))
        config["dim"] = draw(dims_st(shape, single=single, allow_none=allow_none))
        config["keepdim"] = draw(st.booleans()) if config["dim"] is not None else False
        return [gen(rng, shape)]

    def call(op):
        def fn(x):
            if config["dim"] is None:
                return op(x)
            return op(x, config["dim"], keepdim=config["keepdim"])
        return fn
    return Case(name, call(sg_op), call(torch_op), make, **kw)


def var_case(name, op, torch_op):
    """var/std with dim, correction and keepdim; at least 2 elements reduced so the result is finite."""
    config = {}

    def make(draw, rng):
        shape = draw(shape_st(min_dims=1, min_side=2))
        config["dim"] = draw(dims_st(shape))
        config["keepdim"] = draw(st.booleans())
        config["correction"] = draw(st.sampled_from([0, 1]))
        return [normal(rng, shape)]

    def call(fn):
        return lambda x: fn(x, config["dim"], correction=config["correction"], keepdim=config["keepdim"])
    return Case(name, call(op), call(torch_op), make, atol=1e-5)


CASES = [
    reduce_case("sum", sg.sum, torch.sum, atol=1e-5),
    reduce_case("mean", sg.mean, torch.mean),
    reduce_case("amax", sg.amax, torch.amax, gen=distinct),
    reduce_case("amin", sg.amin, torch.amin, gen=distinct),
    reduce_case("logsumexp", sg.logsumexp, torch.logsumexp, allow_none=False, min_dims=1, atol=1e-5),
    reduce_case("prod", sg.prod, torch.prod, single=True, gen=lambda rng, s: rng.uniform(0.5, 1.5, s).astype(np.float32)),
    Case("prod_with_zeros", lambda x: x.prod(0), lambda x: x.prod(0),
         lambda draw, rng: [np.where(rng.random(draw(shape_st(1, 3))) < 0.3, 0, rng.uniform(0.5, 1.5)).astype(np.float32)]),
    Case("max_all", lambda x: x.max(), lambda x: x.max(), lambda draw, rng: [distinct(rng, draw(shape_st()))]),
    Case("min_all", lambda x: x.min(), lambda x: x.min(), lambda draw, rng: [distinct(rng, draw(shape_st()))]),
    reduce_case("max_dim_values", lambda x, d=None, keepdim=False: sg.max(x, d, keepdim).values,
                lambda x, d=None, keepdim=False: torch.max(x, d, keepdim).values, gen=distinct, single=True, min_dims=1),
    reduce_case("min_dim_values", lambda x, d=None, keepdim=False: sg.min(x, d, keepdim).values,
                lambda x, d=None, keepdim=False: torch.min(x, d, keepdim).values, gen=distinct, single=True, min_dims=1),
    var_case("var", sg.var, torch.var),
    var_case("std", sg.std, torch.std),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
@given(data=st.data())
def test_matches_torch_and_gradcheck(case, data):
    check_case(case, data)


def test_ties_share_the_gradient_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype=np.float32)
    for fn in [lambda t: t.amax(1), lambda t: t.amin(1), lambda t: t.amax(), lambda t: t.max(), lambda t: t.min(),
               lambda t: t.amax((0, 1), keepdim=True)]:
        compare_with_torch(fn, fn, [x])


def test_max_dim_returns_values_and_indices_like_torch():
    x = np.array([[1.0, 5.0, 3.0], [7.0, 2.0, 2.5]], dtype=np.float32)
    for keepdim in (False, True):
        for dim in (0, 1, -1):
            out, ref = sg.tensor(x).max(dim, keepdim=keepdim), torch.tensor(x).max(dim, keepdim=keepdim)
            values, indices = out  # unpacks like torch's named tuple
            np.testing.assert_array_equal(values.data, ref.values.numpy())
            np.testing.assert_array_equal(indices.data, ref.indices.numpy())
            assert indices.dtype == np.int64 and out.indices is indices
            low = sg.tensor(x).min(dim, keepdim=keepdim)
            np.testing.assert_array_equal(low.indices.data, torch.tensor(x).min(dim, keepdim=keepdim).indices.numpy())


def test_max_with_a_tensor_is_elementwise_maximum():
    a, b = sg.tensor([1.0, 4.0]), sg.tensor([3.0, 2.0])
    np.testing.assert_array_equal(sg.max(a, b).data, [3.0, 4.0])
    np.testing.assert_array_equal(sg.min(a, b).data, [1.0, 2.0])


@given(shape=shape_st(min_dims=1), seed=st.integers(0, 1000), keepdim=st.booleans(), data=st.data())
def test_argmax_argmin_match_torch(shape, seed, keepdim, data):
    x = distinct(np.random.default_rng(seed), shape)
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    for name in ("argmax", "argmin"):
        out = getattr(sg.tensor(x, requires_grad=True), name)(dim, keepdim=keepdim)
        ref = getattr(torch.tensor(x), name)(dim, keepdim=keepdim)
        assert out.dtype == np.int64 and not out.requires_grad
        np.testing.assert_array_equal(out.data, ref.numpy())


def test_var_unbiased_flag_and_defaults_match_torch():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    t = torch.tensor(x)
    np.testing.assert_allclose(sg.tensor(x).var().data, t.var().numpy(), rtol=1e-5)
    np.testing.assert_allclose(sg.tensor(x).var(1, False).data, t.var(1, False).numpy(), rtol=1e-5)
    np.testing.assert_allclose(sg.tensor(x).std(0, unbiased=True, keepdim=True).data,
                               t.std(0, unbiased=True, keepdim=True).numpy(), rtol=1e-5)


def test_logsumexp_is_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32)
    compare_with_torch(lambda t: t.logsumexp(1), lambda t: t.logsumexp(1), [x])


def test_integer_sum_has_no_gradient_and_keeps_integers():
    out = sg.tensor(np.arange(6).reshape(2, 3)).sum(0)
    assert out.dtype == np.int64 and not out.requires_grad
    np.testing.assert_array_equal(out.data, [3, 5, 7])


def test_bad_dims_raise_clear_errors():
    x = sg.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a tensor with 2 dimensions \(expected a value in \[-2, 1\]\)"):
        x.sum(2)
    with pytest.raises(IndexError, match="mean: dim -3 is out of range"):
        x.mean((0, -3))
    with pytest.raises(TypeError, match=r"max: dim must be an int, got \(0, 1\)"):
        x.max((0, 1))
    with pytest.raises(TypeError, match="mean: expected a floating-point input, got dtype int64"):
        sg.tensor(np.arange(3)).mean()
    with pytest.raises(RuntimeError, match=r"amax: expected a non-empty input, got shape \(0,\)"):
        sg.tensor(np.zeros(0, np.float32)).amax()


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_std_of_constant_values_has_zero_gradient_like_torch(dim):
    """sqrt'(0) is infinite; PyTorch's std backward returns 0 where std is 0, and so must we."""
    x = np.full((3, 2), 1.5, dtype=np.float32)
    x[:, 1] = np.arange(3)  # one column constant, one not
    s, t = sg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    sg.std(s, dim).sum().backward()
    torch.std(t, dim).sum().backward()
    assert s.grad.dtype == np.float32
    np.testing.assert_allclose(s.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)
