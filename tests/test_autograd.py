"""Autograd behaviours: shared subexpressions, deep graphs, no_grad, accumulation, broadcasting, graph freeing,
retain_graph, clear errors, conversions, and the cost of recording an op."""
import gc
import time

import numpy as np
import pytest
import torch

import slimgrad as sg
from slimgrad.autograd import Function, unbroadcast


def leaf(values):
    return sg.tensor(np.asarray(values, dtype=np.float32), requires_grad=True)


def test_node_used_twice_gets_both_gradients():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    z = (y * y + y).sum()  # dz/dx = (2y + 1) * 2
    z.backward()
    np.testing.assert_allclose(x.grad.data, (2 * np.array([2.0, 4.0, 6.0]) + 1) * 2)


def test_diamond_graph_matches_torch():
    data = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    x, tx = leaf(data), torch.tensor(data, requires_grad=True)
    for t, lib in [(x, sg), (tx, torch)]:
        a = t.exp()
        b = a * t
        c = a + b * a
        lib.sum(c * b).backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-5)


def test_deep_chain_backward_is_iterative():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    expected = np.float32(1.0)
    for _ in range(10_000):  # backward multiplies the float32 gradient by 1.0001 once per link
        expected *= np.float32(1.0001)
    np.testing.assert_allclose(x.grad.data, [expected], rtol=1e-6)


def test_deleting_a_deep_unused_graph_does_not_recurse():
    x = leaf([1.0])
    y = x
    for _ in range(50_000):
        y = y + 1.0
    del y
    gc.collect()  # a recursive teardown would overflow the stack here


def test_no_grad_records_nothing_and_works_as_decorator():
    x = leaf([1.0, 2.0])
    with sg.no_grad():
        y = x * 2 + 1
        with sg.enable_grad():
            z = x * 3
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and sg.is_grad_enabled()

    @sg.no_grad()
    def f(t):
        return t * t
    assert not f(x).requires_grad
    assert sg.is_grad_enabled()

    @sg.no_grad()
    def depth(k):  # each call of a decorated function gets its own saved mode, as in PyTorch
        return sg.is_grad_enabled() if k == 0 else depth(k - 1)
    assert depth(3) is False and sg.is_grad_enabled()


def test_set_grad_enabled_as_call_block_and_decorator_like_torch():
    for lib in (sg, torch):
        assert lib.is_grad_enabled()
        with lib.set_grad_enabled(False):
            assert not lib.is_grad_enabled()
        assert lib.is_grad_enabled()
        lib.set_grad_enabled(False)
        assert not lib.is_grad_enabled()
        lib.set_grad_enabled(True)

        @lib.set_grad_enabled(False)  # decorating switches only inside the calls
        def depth(k):
            return lib.is_grad_enabled() if k == 0 else depth(k - 1)
        assert lib.is_grad_enabled()
        assert depth(2) is False and lib.is_grad_enabled()


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.array([1.0, 2.0]) + 3)


def test_broadcast_gradients_are_summed_back_to_each_shape():
    a = leaf(np.ones((3, 1)))
    b = leaf(np.ones(4))
    c = leaf(2.0)
    ((a + b) * c).sum().backward()
    np.testing.assert_allclose(a.grad.data, np.full((3, 1), 8.0))
    np.testing.assert_allclose(b.grad.data, np.full(4, 6.0))
    np.testing.assert_allclose(c.grad.data, 24.0)
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,) and c.grad.shape == ()


def test_unbroadcast_reduces_leading_and_size_one_axes():
    g = np.ones((2, 3, 4))
    assert unbroadcast(g, (3, 1)).shape == (3, 1)
    np.testing.assert_allclose(unbroadcast(g, (3, 1)), np.full((3, 1), 8.0))
    assert unbroadcast(g, ()).shape == ()


def test_backward_twice_through_a_freed_graph_is_a_clear_error():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 4 * np.array([1.0, 2.0]))


def test_non_scalar_backward_needs_a_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar outputs.*shape \(2,\)"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\), expected \(2,\)"):
        y.backward(np.ones(3, np.float32))
    y.backward(np.array([1.0, -1.0], np.float32))
    np.testing.assert_allclose(x.grad.data, [2.0, -2.0])


def test_backward_on_a_tensor_without_grad_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        sg.tensor([1.0]).backward()


def test_a_backward_returning_the_wrong_shape_is_reported():
    class Broken(Function):
        def forward(self, a):
            return a * 2

        def backward(self, g):
            return g.sum(keepdims=True)

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"Broken.backward returned a gradient of shape \(1,\) for an input of shape \(2,\)"):
        Broken.apply(x).sum().backward()


def test_retain_grad_keeps_intermediate_gradients():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.data, [6.0, 12.0])
    np.testing.assert_allclose(x.grad.data, [18.0, 36.0])


def test_graph_is_freed_after_backward_and_memory_does_not_grow():
    w = leaf(np.ones((8, 8)))
    x = sg.tensor(np.ones((4, 8), np.float32))

    def step():
        loss = ((x @ w).relu() * 2.0 - 1.0).mean()
        loss.backward()
        return loss

    loss = step()
    assert loss.grad_fn.parents is None  # saved arrays and links dropped by backward

    def live_functions():
        gc.collect()
        return sum(isinstance(o, Function) for o in gc.get_objects())

    for _ in range(100):
        step()
    before = live_functions()
    for _ in range(10_000):
        step()
    assert live_functions() <= before


def test_detach_item_numpy_and_array_protocol():
    x = leaf([[1.0, 2.0]])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and np.shares_memory(d.data, y.data)
    assert (y.sum()).item() == 6.0 and isinstance(y.sum().item(), float)
    assert float(y.sum()) == 6.0 and int(y.sum()) == 6
    with pytest.raises(RuntimeError, match=r"numpy\(\): can't call numpy\(\) on a Tensor that requires grad"):
        y.numpy()
    np.testing.assert_array_equal(d.numpy(), [[2.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(y), [[2.0, 4.0]])
    assert np.asarray(y, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match=r"item\(\): only one-element tensors.*shape \(1, 2\)"):
        y.item()


def test_leaf_flags_and_grad_fn():
    x = leaf([1.0])
    y = x * 2
    assert x.is_leaf and not y.is_leaf and type(y.grad_fn).__name__ == "Mul"
    assert y.requires_grad and not (sg.tensor([1.0]) * 2).requires_grad


def test_recording_an_op_is_cheap():
    """Function.apply stays a thin wrapper: a tiny op with graph recording costs tens of microseconds at most."""
    a, b = leaf([1.0]), leaf([2.0])
    for _ in range(200):
        a * b
    n = 5000
    start = time.perf_counter()
    for _ in range(n):
        a * b
    per_op = (time.perf_counter() - start) / n
    assert per_op < 50e-6, f"{per_op * 1e6:.1f} us per op"


def test_backward_through_10000_nodes_is_fast():
    x = leaf(np.ones(4))
    y = x
    for _ in range(10_000):
        y = y + 1.0
    start = time.perf_counter()
    y.sum().backward()
    assert time.perf_counter() - start < 2.0


def test_in_place_methods_match_torch_under_no_grad():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    other = rng.standard_normal(3).astype(np.float32)
    s, t = sg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with sg.no_grad(), torch.no_grad():
        for a, mod in ((s, sg), (t, torch)):
            a.add_(mod.tensor(other), alpha=-0.5).mul_(2.0).sub_(mod.tensor(other)).div_(3.0)
            a.clamp_(min=-0.5, max=0.7)
    assert s.dtype == np.float32 and s.is_leaf and s.requires_grad
    np.testing.assert_allclose(s.detach().numpy(), t.detach().numpy(), rtol=1e-6)
    (s * s).sum().backward()
    s.grad.zero_()  # the common ``p.grad.zero_()``: grads never require grad
    np.testing.assert_array_equal(s.grad.numpy(), np.zeros((2, 3), np.float32))
    buffer = sg.zeros(2, 3)
    assert buffer.fill_(2.5) is buffer and np.all(buffer.numpy() == 2.5)
    buffer.copy_(np.arange(3))  # broadcasts, keeps the dtype
    assert buffer.dtype == np.float32 and buffer.numpy().tolist() == [[0, 1, 2]] * 2


def test_in_place_on_a_tensor_requiring_grad_refuses_outside_no_grad():
    p = sg.nn.Parameter(np.ones(3, dtype=np.float32))
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad .*no_grad"):
        p.add_(1.0)
    y = p * 2
    with pytest.raises(RuntimeError, match="zero_: a tensor recorded in the graph"):
        y.zero_()
    with pytest.raises(ValueError, match=r"copy_: a value of shape \(4,\) can't be written into .* \(3,\)"):
        with sg.no_grad():
            p.copy_(np.ones(4))
    np.testing.assert_array_equal(p.detach().numpy(), np.ones(3))


def test_iteration_yields_rows_and_refuses_0d_tensors_like_torch():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    rows = list(x)
    assert len(rows) == 2 and rows[1].detach().numpy().tolist() == [3.0, 4.0]
    sum(row.sum() for row in rows).backward()  # rows stay in the graph
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 2)))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(sg.tensor(1.0))


class _ReturnsSaved(Function):
    """Identity whose backward hands back an array it keeps (as a saved value would be)."""

    def forward(self, x):
        self.kept = np.ones_like(x)
        return x.copy()

    def backward(self, g):
        return self.kept


def test_leaf_gradients_never_alias_anything_else():
    """A fresh gradient nobody else holds becomes ``.grad`` as it is (no copy, as in PyTorch); any array that
    something else can reach (the caller's gradient, another leaf's, a value a node keeps, a view) is copied."""
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    upstream = np.ones(2, dtype=np.float32)
    (a + b).backward(upstream)  # add hands the same upstream array to both leaves
    assert not np.shares_memory(a.grad.data, upstream) and not np.shares_memory(b.grad.data, upstream)
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 5  # in-place updates (clipping, weight decay) touch one leaf only
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(upstream, [1.0, 1.0])

    c = leaf([1.0, 2.0])
    node = _ReturnsSaved.apply(c)
    node.backward(np.ones(2, dtype=np.float32), retain_graph=True)
    assert not np.shares_memory(c.grad.data, node._ctx.kept)

    x = leaf(np.arange(6.0).reshape(2, 3))
    up = np.arange(6, dtype=np.float32)
    x.reshape(6).backward(up)  # the gradient reaching x is a view of the caller's array
    assert not np.shares_memory(x.grad.data, up)
    x.grad.data[...] = 0
    np.testing.assert_array_equal(up, np.arange(6))


def test_a_fresh_input_gradient_is_not_copied():
    x = sg.randn(2, 3, 6, 6, requires_grad=True)
    w = sg.randn(4, 3, 3, 3, requires_grad=True)
    calls = []
    real = np.array

    def spy(*args, **kwargs):
        calls.append(np.shape(args[0]))
        return real(*args, **kwargs)

    y = sg.nn.functional.conv2d(x, w, padding=1)
    try:
        np.array = spy
        y.backward(np.ones(y.shape, dtype=np.float32))
    finally:
        np.array = real
    assert (2, 3, 6, 6) not in calls  # the conv's input gradient is taken as it is, not copied
    tx = torch.tensor(x.data, requires_grad=True)
    torch.nn.functional.conv2d(tx, torch.tensor(w.data), padding=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
