"""Elementwise ops against PyTorch (outputs and gradients, broadcasting, size-1 dims) and gradcheck."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import slimgrad as sg
import slimgrad.functional as F
from helpers import check_gradients, compare_with_torch
from op_cases import Case, away_from_zero, broadcast_shapes_st, check_case, normal, positive, shape_st


def unary(gen=normal, **kw):
    def make(draw, rng):
        return [gen(rng, draw(shape_st()), **kw)]
    return make


def binary(gen_a=normal, gen_b=normal):
    def make(draw, rng):
        sa, sb = draw(broadcast_shapes_st())
        return [gen_a(rng, sa), gen_b(rng, sb)]
    return make


def apart(rng, shape):
    """Values on a grid 0.25 apart plus small jitter, so two draws are never (nearly) equal."""
    return (rng.integers(-8, 8, shape) * 0.25 + rng.uniform(0.02, 0.06, shape)).astype(np.float32)


def apart_other(rng, shape):
    return (rng.integers(-8, 8, shape) * 0.25 + rng.uniform(0.1, 0.14, shape)).astype(np.float32)


def clamp_input(rng, shape):
    """Values kept 0.05 away from the clamp bounds -0.5 and 0.7."""
    x = normal(rng, shape)
    return np.where(np.abs(x + 0.5) < 0.05, x + 0.1, np.where(np.abs(x - 0.7) < 0.05, x + 0.1, x)).astype(np.float32)


CASES = [
    Case("add", lambda a, b: a + b, lambda a, b: a + b, binary()),
    Case("sub", lambda a, b: a - b, lambda a, b: a - b, binary()),
    Case("mul", lambda a, b: a * b, lambda a, b: a * b, binary()),
    Case("div", lambda a, b: a / b, lambda a, b: a / b, binary(normal, away_from_zero)),
    Case("pow_tensor", lambda a, b: a ** b, lambda a, b: a ** b, binary(positive, normal)),
    Case("pow_scalar", lambda a: a ** 3, lambda a: a ** 3, unary()),
    Case("pow_fractional", lambda a: a.pow(1.5), lambda a: a.pow(1.5), unary(positive)),
    Case("rpow", lambda a: 2.0 ** a, lambda a: 2.0 ** a, unary()),
    Case("rsub", lambda a: 1.5 - a, lambda a: 1.5 - a, unary()),
    Case("rtruediv", lambda a: 2.0 / a, lambda a: 2.0 / a, unary(away_from_zero)),
    Case("radd_rmul", lambda a: 2.0 * (1.0 + a), lambda a: 2.0 * (1.0 + a), unary()),
    Case("neg", lambda a: -a, lambda a: -a, unary()),
    Case("exp", F.exp, torch.exp, unary()),
    Case("log", F.log, torch.log, unary(positive)),
    Case("sqrt", F.sqrt, torch.sqrt, unary(positive)),
    Case("abs", F.abs, torch.abs, unary(away_from_zero)),
    Case("square", F.square, torch.square, unary()),
    Case("reciprocal", F.reciprocal, torch.reciprocal, unary(away_from_zero)),
    Case("maximum", F.maximum, torch.maximum, binary(apart, apart_other)),
    Case("minimum", F.minimum, torch.minimum, binary(apart, apart_other)),
    Case("clamp", lambda a: F.clamp(a, -0.5, 0.7), lambda a: torch.clamp(a, -0.5, 0.7), unary(clamp_input)),
    Case("clamp_min", lambda a: a.clamp(min=-0.5), lambda a: a.clamp(min=-0.5), unary(clamp_input)),
    Case("where", lambda a, b: F.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b), binary(away_from_zero)),
    Case("clone", lambda a: a.clone() * 2, lambda a: a.clone() * 2, unary()),
    Case("cast_f64", lambda a: a.double() * 2, lambda a: a.double() * 2, unary(), gradcheck=False),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
@given(data=st.data())
def test_matches_torch_and_gradcheck(case, data):
    check_case(case, data)


def test_maximum_ties_split_gradient_like_torch():
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    y = np.array([1.0, 0.0, 3.0], dtype=np.float32)
    from helpers import compare_with_torch
    compare_with_torch(F.maximum, torch.maximum, [x, y])
    compare_with_torch(F.minimum, torch.minimum, [x, y])


def test_clamp_gradient_passes_at_the_bounds_like_torch():
    from helpers import compare_with_torch
    x = np.array([-1.0, -0.5, 0.0, 0.7, 1.0], dtype=np.float32)
    compare_with_torch(lambda a: a.clamp(-0.5, 0.7), lambda a: a.clamp(-0.5, 0.7), [x])


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
@given(shapes=broadcast_shapes_st(), seed=st.integers(0, 1000))
def test_comparisons_match_torch(name, shapes, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, shapes[0]).astype(np.float32)
    b = rng.integers(-2, 3, shapes[1]).astype(np.float32)
    out = getattr(sg.tensor(a, requires_grad=True), name)(sg.tensor(b))
    ref = getattr(torch.tensor(a), name)(torch.tensor(b))
    assert out.dtype == np.bool_ and not out.requires_grad
    np.testing.assert_array_equal(out.data, ref.numpy())


def test_comparison_operators_and_scalars():
    x = sg.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((x == 2.0).data, [False, True, False])
    np.testing.assert_array_equal((x != 2.0).data, [True, False, True])
    np.testing.assert_array_equal((x < 2).data, [True, False, False])
    np.testing.assert_array_equal((x <= 2).data, [True, True, False])
    np.testing.assert_array_equal((2 < x).data, [False, False, True])  # reflected: x > 2
    np.testing.assert_array_equal((x >= 2).data, [False, True, True])
    np.testing.assert_array_equal((~(x > 1)).data, [True, False, False])
    assert len({x, sg.tensor([1.0, 2.0, 3.0])}) == 2  # hashing stays by identity


def test_sign_matches_torch_and_has_no_gradient():
    a = np.array([-2.0, 0.0, 3.0], dtype=np.float32)
    out = sg.tensor(a, requires_grad=True).sign()
    np.testing.assert_array_equal(out.data, torch.tensor(a).sign().numpy())
    assert not out.requires_grad


def test_int_and_float_promote_like_torch():
    i = sg.tensor(np.array([1, 2, 3]))
    f = sg.tensor([0.5, 0.5, 0.5])
    for out, ref in [(i + f, torch.tensor([1, 2, 3]) + torch.tensor([0.5, 0.5, 0.5])),
                     (i * 2.5, torch.tensor([1, 2, 3]) * 2.5),
                     (i / 2, torch.tensor([1, 2, 3]) / 2),
                     (i + 1, torch.tensor([1, 2, 3]) + 1)]:
        assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", ""))
        np.testing.assert_allclose(out.data, ref.numpy())


def test_add_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) are not broadcastable"):
        sg.tensor(np.zeros((2, 3))) + sg.tensor(np.zeros(4))
    with pytest.raises(ValueError, match=r"mul: shapes \(3,\) and \(2,\)"):
        sg.tensor([1.0, 2.0, 3.0]) * sg.tensor([1.0, 2.0])


def test_float_only_ops_refuse_integer_input():
    ints = sg.tensor(np.array([1, 2, 3]))
    for fn, name in [(F.exp, "exp"), (F.log, "log"), (F.sqrt, "sqrt"), (F.reciprocal, "reciprocal")]:
        with pytest.raises(TypeError, match=rf"{name}: expected a floating-point input, got dtype int64"):
            fn(ints)


def test_where_needs_boolean_condition_and_broadcastable_shapes():
    x = sg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="where: expected a boolean condition, got dtype float32"):
        F.where(x, x, x)
    with pytest.raises(ValueError, match=r"where: condition \(3,\), input \(2,\) and other \(2,\)"):
        F.where(np.array([True, False, True]), x, x)


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        sg.tensor([1.0]).clamp()


def test_pow_with_zero_exponent_has_zero_base_gradient_like_torch():
    from helpers import compare_with_torch
    base = np.array([0.0, 2.0, -1.5], dtype=np.float32)
    compare_with_torch(lambda a: a ** 0, lambda a: a ** 0, [base])
    compare_with_torch(lambda a, b: a ** b, lambda a, b: a ** b, [np.abs(base), np.zeros(3, np.float32)])


# ----------------------------------------------------------------- more PyTorch math (ops/unary.py)
@pytest.mark.parametrize("name", ["log1p", "expm1", "sin", "cos", "rsqrt"])
def test_differentiable_unary_methods_match_torch_and_gradcheck(name):
    x = np.random.default_rng(0).uniform(0.1, 2, (3, 4)).astype(np.float32)
    compare_with_torch(lambda a: getattr(a, name)(), lambda a: getattr(a, name)(), [x])
    check_gradients(lambda a: getattr(a, name)(), [x])


def test_dot_and_outer_match_torch():
    rng = np.random.default_rng(1)
    v, w = rng.standard_normal(4).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    compare_with_torch(lambda a, b: a.dot(b), lambda a, b: a.dot(b), [v, v * 2])
    compare_with_torch(lambda a, b: a.outer(b), lambda a, b: a.outer(b), [v, w])


@pytest.mark.parametrize("expr", ["a.floor()", "a.ceil()", "a.round()", "a.trunc()", "a // 2", "a % 3", "a.fmod(3)",
                                  "-7 // a", "5 % a", "(a > 0) & (a < 2)", "(a > 0) | (a < 2)", "(a > 0) ^ (a < 2)",
                                  "(a > 0) & True", "a.logical_and(a > 1)", "a.long() // 2", "a.long() % 3",
                                  "a.long() & 3", "a.long() | 4", "a.long() ^ 1"])
def test_rounding_division_and_logical_operators_match_torch(expr):
    x = (np.random.default_rng(2).standard_normal((3, 4)) * 5).astype(np.float32)
    s, t = eval(expr, {"a": sg.tensor(x)}), eval(expr, {"a": torch.tensor(x)})
    assert str(s.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(s.numpy(), t.numpy(), atol=1e-5)


def test_bitwise_operators_refuse_floats():
    with pytest.raises(TypeError, match="bitwise_and: expected boolean or integer tensors, got float32"):
        sg.tensor([1.0]) & sg.tensor([1.0])


@pytest.mark.parametrize("bounds", ["min", "both", "crossed", "max"])
def test_clamp_with_tensor_bounds_gives_the_bounds_gradients_like_torch(bounds):
    rng = np.random.default_rng(3)
    x, b = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    call = {"min": lambda a, t: a.clamp(min=t), "both": lambda a, t: a.clamp(t, t + 1),
            "crossed": lambda a, t: a.clamp(t + 1, t), "max": lambda a, t: a.clamp(max=t)}[bounds]
    compare_with_torch(call, call, [x, b])
