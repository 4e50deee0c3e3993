"""BatchNorm1d / BatchNorm2d against torch.nn over training steps and in eval: outputs, gradients, buffers,
state dict, momentum=None, track_running_stats=False, affine=False, validation."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
from slimgrad import nn


def _sync(ours, theirs):
    rng = np.random.default_rng(1)
    for name in ("weight", "bias"):
        if getattr(ours, name) is not None:
            getattr(ours, name).data[...] = rng.uniform(0.5, 1.5, ours.num_features)
            with torch.no_grad():
                getattr(theirs, name).copy_(torch.tensor(getattr(ours, name).data))


def _step(ours, theirs, x, seed):
    xs, xt = sg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xs), theirs(xt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-4)
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for name in ("weight", "bias"):
        if getattr(ours, name) is not None:
            np.testing.assert_allclose(getattr(ours, name).grad.data, getattr(theirs, name).grad.numpy(),
                                       rtol=1e-4, atol=1e-4, err_msg=name)
    ours.zero_grad()
    theirs.zero_grad()


@given(st.sampled_from([(nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
                        (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
                        (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 4, 5))]),
       st.sampled_from([0.1, 0.5, None]), st.booleans(), st.booleans(), st.booleans())
def test_batchnorm_layers_follow_torch_over_steps_and_eval(layers, momentum, affine, track, bias):
    ours_cls, torch_cls, shape = layers
    kwargs = dict(momentum=momentum, affine=affine, track_running_stats=track, eps=1e-4, bias=bias)
    ours, theirs = ours_cls(shape[1], **kwargs), torch_cls(shape[1], **kwargs)
    _sync(ours, theirs)
    rng = np.random.default_rng(0)
    for step in range(3):
        _step(ours, theirs, (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32), step)
    ours_state, torch_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(torch_state)
    for key, value in ours_state.items():
        np.testing.assert_allclose(value, torch_state[key].numpy(), rtol=1e-5, atol=1e-5, err_msg=key)
    ours.eval(), theirs.eval()
    _step(ours, theirs, rng.standard_normal(shape).astype(np.float32), 9)
    if track:
        assert int(ours.num_batches_tracked.data) == 3


def test_buffers_and_repr_like_torch():
    bn = nn.BatchNorm2d(16)
    assert repr(bn) == repr(torch.nn.BatchNorm2d(16))
    assert repr(nn.BatchNorm1d(4, momentum=None, affine=False)) == repr(
        torch.nn.BatchNorm1d(4, momentum=None, affine=False))
    assert repr(nn.BatchNorm1d(4, bias=False)) == repr(torch.nn.BatchNorm1d(4, bias=False))
    assert bn.running_mean.dtype == np.float32 and bn.num_batches_tracked.dtype == np.int64
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in nn.BatchNorm2d(3, track_running_stats=False).named_buffers()] == []
    bn.load_state_dict({k: v.numpy() for k, v in torch.nn.BatchNorm2d(16).state_dict().items()})


def test_load_state_dict_keeps_running_stats_updating():
    theirs = torch.nn.BatchNorm2d(2)
    theirs(torch.randn(4, 2, 3, 3))
    ours = nn.BatchNorm2d(2)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 3, 3)).astype(np.float32)
    ours(sg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), rtol=1e-5)


def test_forward_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input of shape \(N, 3, H, W\), got \(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(sg.tensor(np.zeros((2, 4, 5, 5), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected input of shape \(N, 3\) or \(N, 3, L\)"):
        nn.BatchNorm1d(3)(sg.tensor(np.zeros((2, 3, 5, 5), np.float32)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(sg.tensor(np.zeros((1, 3), np.float32)))
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm2d(0)


def test_device_and_dtype_arguments_like_torch():
    # PyTorch's signature: (num_features, eps, momentum, affine, track_running_stats, device, dtype, *, bias)
    ours = nn.BatchNorm2d(3, 1e-5, 0.2, True, True, "cpu", np.float64)
    theirs = torch.nn.BatchNorm2d(3, 1e-5, 0.2, True, True, "cpu", torch.float64)
    assert ours.weight.dtype == ours.running_mean.dtype == ours.running_var.dtype == np.float64
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 5)) * 2 + 1
    out = ours(sg.tensor(x))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="device"):
        nn.BatchNorm1d(3, device="cuda")


def test_eval_on_an_empty_batch_like_torch():
    for ours, theirs, shape in [(nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3), (0, 3, 4, 4)),
                                (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3), (0, 3))]:
        x = np.zeros(shape, np.float32)
        xs = sg.tensor(x, requires_grad=True)
        out = ours.eval()(xs)
        assert out.shape == tuple(theirs.eval()(torch.tensor(x)).shape)
        out.sum().backward()
        assert xs.grad.shape == shape
