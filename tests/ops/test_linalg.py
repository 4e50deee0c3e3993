"""matmul (batched, broadcast, 1-D operands) and linear against PyTorch, gradcheck, and bad shapes."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import slimgrad as sg
import slimgrad.functional as F
from op_cases import Case, check_case, normal


@st.composite
def matmul_shapes(draw):
    """Shapes for ``a @ b``: 1-D or N-D on either side, broadcast batch dims (with size-1 sides)."""
    n, k, m = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    a_batch = [b if draw(st.booleans()) else 1 for b in batch]
    b_batch = batch[draw(st.integers(0, len(batch))):]
    a = (k,) if draw(st.integers(0, 4)) == 0 else tuple(a_batch) + (n, k)
    b = (k,) if draw(st.integers(0, 4)) == 0 else tuple(b_batch) + (k, m)
    return a, b


def matmul_inputs(draw, rng):
    sa, sb = draw(matmul_shapes())
    return [normal(rng, sa), normal(rng, sb)]


def linear_inputs(bias):
    def make(draw, rng):
        lead = draw(st.lists(st.integers(1, 4), max_size=3))
        n_in, n_out = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        arrays = [normal(rng, tuple(lead) + (n_in,)), normal(rng, (n_out, n_in))]
        return arrays + [normal(rng, (n_out,))] if bias else arrays
    return make


# sums of up to 5 products in float32: atol 1e-5 (rounding of the accumulation order differs from torch)
CASES = [
    Case("matmul", lambda a, b: a @ b, lambda a, b: a @ b, matmul_inputs, atol=1e-5),
    Case("matmul_method", lambda a, b: a.matmul(b), torch.matmul, matmul_inputs, atol=1e-5),
    Case("linear", F.linear, torch.nn.functional.linear, linear_inputs(True), atol=1e-5),
    Case("linear_no_bias", F.linear, torch.nn.functional.linear, linear_inputs(False), atol=1e-5),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
@given(data=st.data())
def test_matches_torch_and_gradcheck(case, data):
    check_case(case, data)


def test_matmul_with_numpy_operand_on_either_side():
    a = np.ones((2, 3), dtype=np.float32)
    x = sg.tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    out = a @ x
    assert out.shape == (2, 4) and out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((3, 4), 2.0))


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: .*\(2, 3\).*\(4, 5\).*expected.*3, got 4"):
        sg.tensor(np.zeros((2, 3))) @ sg.tensor(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: both arguments need at least 1 dimension"):
        sg.tensor(2.0) @ sg.tensor([1.0])
    with pytest.raises(ValueError, match=r"batch dimensions of \(2, 1, 3\) and \(3, 3, 1\)"):
        sg.tensor(np.zeros((2, 1, 3))) @ sg.tensor(np.zeros((3, 3, 1)))


def test_linear_bad_shapes_name_expected_and_received():
    x, w = sg.tensor(np.zeros((2, 3), np.float32)), sg.tensor(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"in_features=3 .*got input shape \(2, 5\)"):
        F.linear(sg.tensor(np.zeros((2, 5), np.float32)), w)
    with pytest.raises(ValueError, match=r"expected bias of shape \(4,\), got shape \(3,\)"):
        F.linear(x, w, sg.tensor(np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match=r"weight of shape \(out_features, in_features\), got shape \(3,\)"):
        F.linear(x, sg.tensor(np.zeros(3, np.float32)))
    with pytest.raises(TypeError, match="linear: expected a floating-point input, got dtype int64"):
        F.linear(sg.tensor(np.zeros((2, 3), np.int64)), w)


def test_linear_is_one_node_in_the_graph():
    x = sg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w = sg.tensor(np.ones((4, 3), np.float32), requires_grad=True)
    b = sg.tensor(np.ones(4, np.float32), requires_grad=True)
    out = F.linear(x, w, b)
    assert type(out.grad_fn).__name__ == "Linear" and out.grad_fn.parents == (x, w, b)
