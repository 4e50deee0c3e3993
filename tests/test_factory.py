import numpy as np
import pytest
import torch

import slimgrad as sg


@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn"])
def test_shape_and_default_dtype_match_torch(name):
    ours, ref = getattr(sg, name)(2, 3), getattr(torch, name)(2, 3)
    assert ours.shape == tuple(ref.shape)
    assert ours.dtype == np.float32 and ref.dtype == torch.float32
    assert getattr(sg, name)((4,)).shape == (4,)


def test_values():
    np.testing.assert_array_equal(sg.zeros(2, 2).numpy(), 0)
    np.testing.assert_array_equal(sg.ones(3).numpy(), 1)
    np.testing.assert_array_equal(sg.eye(3).numpy(), torch.eye(3).numpy())
    np.testing.assert_array_equal(sg.full((2, 2), 7.0).numpy(), torch.full((2, 2), 7.0).numpy())
    assert sg.full((2,), 3).dtype == np.int64 == torch.full((2,), 3).numpy().dtype
    np.testing.assert_allclose(sg.linspace(0, 1, 5).numpy(), torch.linspace(0, 1, 5).numpy())


@pytest.mark.parametrize("args", [(5,), (1, 7), (0, 10, 3), (0.0, 1.0, 0.25)])
def test_arange_matches_torch(args):
    ours, ref = sg.arange(*args), torch.arange(*args)
    np.testing.assert_allclose(ours.numpy(), ref.numpy())
    assert ours.dtype == ref.numpy().dtype


def test_random_factories_follow_manual_seed():
    sg.manual_seed(3)
    a = sg.randn(4, 4).numpy().copy(), sg.rand(3).numpy().copy(), sg.randint(0, 10, (5,)).numpy().copy()
    sg.manual_seed(3)
    b = sg.randn(4, 4).numpy(), sg.rand(3).numpy(), sg.randint(0, 10, (5,)).numpy()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    u = sg.rand(10000).numpy()
    assert 0 <= u.min() and u.max() < 1
    assert abs(sg.randn(20000).numpy().std() - 1) < 0.05
    assert sorted(sg.randperm(6).numpy().tolist()) == list(range(6))


def test_requires_grad_and_like():
    x = sg.zeros(2, 3, requires_grad=True)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2)
    assert sg.ones_like(x.detach()).shape == (2, 3)
    assert sg.zeros_like(np.ones((2, 2), np.float64)).dtype == np.float64


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        sg.zeros(-1, 2)
    with pytest.raises(ValueError, match="step"):
        sg.arange(0, 5, 0)
    with pytest.raises(ValueError, match="low < high"):
        sg.randint(5, 5, (2,))


def test_randint_high_size_form_and_like_factories_as_in_torch():
    assert sg.randint(5, (3,)).shape == tuple(torch.randint(5, (3,)).shape)
    assert sg.randint(5, (3,)).numpy().max() < 5 and sg.randint(2, 5, (2, 2)).numpy().min() >= 2
    assert sg.empty(2, 3).shape == (2, 3) and sg.empty(2, 3).dtype == np.float32
    full = sg.full_like(sg.ones(2, dtype=np.float64), 5.0)
    assert full.dtype == np.float64 and full.numpy().tolist() == [5.0, 5.0]
    assert sg.rand_like(sg.ones(2, 3)).shape == (2, 3) and sg.randn_like(sg.ones(4)).dtype == np.float32
