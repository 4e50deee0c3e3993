"""dtype discipline: float32 in, float32 out and float32 gradients for every op; Python scalars don't upcast;
integer tensors refuse gradients; float64 stays float64."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import slimgrad as sg
import slimgrad.functional as F

# (name, fn, number of same-shape float inputs); inputs are positive so log/sqrt/pow are defined
OPS = [
    ("add", lambda a, b: a + b, 2), ("sub", lambda a, b: a - b, 2), ("mul", lambda a, b: a * b, 2),
    ("div", lambda a, b: a / b, 2), ("pow", lambda a, b: a ** b, 2), ("maximum", F.maximum, 2),
    ("minimum", F.minimum, 2), ("where", lambda a, b: F.where(a > b, a, b), 2),
    ("scalar_ops", lambda a: (2.5 * a + 1.5 - a / 3.0) ** 2 / 0.7 - 1, 1), ("rpow", lambda a: 1.5 ** a, 1),
    ("pow_scalar", lambda a: a ** 0.5, 1), ("pow_int", lambda a: a ** 3, 1),
    ("numpy_scalar", lambda a: a * np.float64(2.0) + np.float64(1.0), 1),
    ("neg", lambda a: -a, 1), ("exp", F.exp, 1), ("log", F.log, 1), ("sqrt", F.sqrt, 1), ("abs", F.abs, 1),
    ("square", F.square, 1), ("reciprocal", F.reciprocal, 1), ("clamp", lambda a: a.clamp(0.5, 1.0), 1),
    ("matmul", lambda a, b: a @ b.mT if a.ndim > 1 else a @ b, 2),
    ("linear", lambda a, b: F.linear(a, b.reshape(-1, a.shape[-1])[:1]), 2),
    ("sum", lambda a: a.sum(), 1), ("mean", lambda a: a.mean(-1), 1), ("var", lambda a: a.var(), 1),
    ("std", lambda a: a.std(-1, keepdim=True), 1), ("amax", lambda a: a.amax(), 1),
    ("max_dim", lambda a: a.max(-1).values, 1), ("min", lambda a: a.min(), 1), ("prod", lambda a: a.prod(), 1),
    ("logsumexp", lambda a: a.logsumexp(-1), 1),
    ("reshape", lambda a: a.reshape(-1), 1), ("permute", lambda a: a.permute(*reversed(range(a.ndim))), 1),
    ("expand", lambda a: a.unsqueeze(0).expand(2, *a.shape), 1), ("getitem", lambda a: a[..., :1], 1),
    ("getitem_array", lambda a: a[np.array([0, 0])], 1), ("gather", lambda a: a.gather(0, np.zeros_like(a.data, dtype=np.int64)), 1),
    ("cat", lambda a, b: F.cat([a, b], -1), 2), ("stack", lambda a, b: F.stack([a, b]), 2),
    ("pad", lambda a: F.pad(a, (1, 1), value=2.0), 1), ("pad_replicate", lambda a: F.pad(a.unsqueeze(0), (1, 2), mode="replicate"), 1),
    ("relu", F.relu, 1), ("leaky_relu", F.leaky_relu, 1), ("elu", F.elu, 1), ("sigmoid", F.sigmoid, 1),
    ("tanh", F.tanh, 1), ("silu", F.silu, 1), ("softplus", F.softplus, 1), ("gelu", F.gelu, 1),
    ("gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), 1), ("softmax", lambda a: F.softmax(a, -1), 1),
    ("log_softmax", lambda a: F.log_softmax(a, -1), 1), ("dropout", lambda a: F.dropout(a, 0.3), 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fn,arity", OPS, ids=[o[0] for o in OPS])
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 100))
def test_output_and_gradients_keep_the_input_dtype(name, fn, arity, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    inputs = [sg.tensor(rng.uniform(0.5, 2.0, shape).astype(dtype), requires_grad=True) for _ in range(arity)]
    out = fn(*inputs)
    assert out.dtype == dtype, f"{name}: output {out.dtype}"
    out.backward(np.ones(out.shape, dtype))
    for i, t in enumerate(inputs):
        assert t.grad is not None and t.grad.dtype == dtype, f"{name}: gradient of input {i}"


def test_python_floats_make_float32_tensors():
    assert sg.tensor([1.0]).dtype == np.float32
    assert sg.tensor(1.5).dtype == np.float32
    assert sg.tensor([[1, 2]]).dtype == np.int64
    assert sg.tensor(np.array([1.0])).dtype == np.float64  # NumPy arrays keep their dtype, as torch.from_numpy
    assert sg.tensor([1.0], dtype=np.float64).dtype == np.float64


def test_integer_tensors_refuse_requires_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        sg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad_: only floating-point tensors can require gradients"):
        sg.tensor([1, 2]).requires_grad_()


def test_mixed_float32_float64_promotes_like_torch():
    a = sg.tensor(np.ones(2, np.float32), requires_grad=True)
    b = sg.tensor(np.ones(2, np.float64), requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_ints_where_floats_are_needed_raise_naming_the_dtype():
    ints = sg.tensor([1, 2, 3])
    for fn in (F.exp, F.log, F.sigmoid, F.softmax, lambda t: t.mean(), lambda t: F.dropout(t)):
        with pytest.raises(TypeError, match="expected a floating-point input, got dtype int64"):
            fn(ints)


@pytest.mark.parametrize("dims", [((3,), ()), ((), (3,))])
def test_a_zero_dim_tensor_does_not_promote_a_dimensioned_one_like_torch(dims):
    a_shape, b_shape = dims
    a, b = np.ones(a_shape, np.float32), np.full(b_shape, 2.0, np.float64)
    sa, sb = sg.tensor(a, requires_grad=True), sg.tensor(b, requires_grad=True)
    out = sa * sb
    reference = torch.tensor(a) * torch.tensor(b)
    assert str(out.dtype) == str(reference.dtype).replace("torch.", "")
    out.sum().backward()
    assert sa.grad.dtype == np.float32 and sb.grad.dtype == np.float64  # the 0-d one stays in the graph
    assert (sg.tensor(a) * np.array(2.0)).dtype == np.float32  # a 0-d array acts as a scalar


def test_dtype_names_and_set_grad_enabled():
    assert sg.tensor([1, 2], dtype=sg.float32).dtype == np.float32 and sg.float64 is np.float64
    with sg.set_grad_enabled(False):
        assert not (sg.ones(2, requires_grad=True) * 2).requires_grad
    assert sg.is_grad_enabled()
    sg.set_grad_enabled(False)
    try:
        assert not sg.is_grad_enabled()
    finally:
        sg.set_grad_enabled(True)
