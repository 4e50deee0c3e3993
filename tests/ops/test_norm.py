"""batch_norm against PyTorch: train (outputs, gradients, running statistics over several steps) and eval,
(N, C), (N, C, L) and (N, C, H, W), with and without affine parameters; float64 gradcheck; bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.functional as F
from slimgrad.ops.norm import batch_norm
from helpers import assert_same_with_workers, check_gradients, compare_with_torch

shapes = st.one_of(
    st.tuples(st.integers(2, 9), st.integers(1, 5)),
    st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(2, 7)),
    st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(2, 7)),
)


def _arrays(shape, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    weight = rng.uniform(0.5, 2, c).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32)
    mean = rng.standard_normal(c).astype(np.float32)
    var = rng.uniform(0.5, 2, c).astype(np.float32)
    return x, weight, bias, mean, var


@given(shapes, st.sampled_from(["both", "weight", "bias", "none"]), st.floats(0.0, 1.0), st.integers(0, 999))
def test_train_matches_torch_outputs_gradients_running_stats(shape, affine, momentum, seed):
    x, weight, bias, mean, var = _arrays(shape, seed)
    ours = [sg.tensor(mean), sg.tensor(var)]
    theirs = [torch.tensor(mean), torch.tensor(var)]
    use_w, use_b = affine in ("both", "weight"), affine in ("both", "bias")
    arrays = [x] + ([weight] if use_w else []) + ([bias] if use_b else [])

    def split(args):
        x, rest = args[0], list(args[1:])
        w = rest.pop(0) if use_w else None
        b = rest.pop(0) if use_b else None
        return x, w, b

    def ours_fn(*args):
        x, w, b = split(args)
        return batch_norm(x, ours[0], ours[1], w, b, training=True, momentum=momentum, eps=1e-3)

    def torch_fn(*args):
        x, w, b = split(args)
        return TF.batch_norm(x, theirs[0], theirs[1], w, b, training=True, momentum=momentum, eps=1e-3)

    out = compare_with_torch(ours_fn, torch_fn, arrays, rtol=1e-4, atol=1e-4)
    assert out.dtype == np.float32 and ours[0].dtype == np.float32
    np.testing.assert_allclose(ours[0].data, theirs[0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[1].data, theirs[1].numpy(), rtol=1e-5, atol=1e-5)


def test_running_stats_follow_torch_over_several_steps():
    rng = np.random.default_rng(0)
    ours = [sg.tensor(np.zeros(3, np.float32)), sg.tensor(np.ones(3, np.float32))]
    theirs = [torch.zeros(3), torch.ones(3)]
    for step in range(5):
        x = (rng.standard_normal((4, 3, 5, 6)) * (step + 1) + step).astype(np.float32)
        batch_norm(sg.tensor(x), *ours, training=True, momentum=0.3)
        TF.batch_norm(torch.tensor(x), *theirs, training=True, momentum=0.3)
    np.testing.assert_allclose(ours[0].data, theirs[0].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[1].data, theirs[1].numpy(), rtol=1e-5, atol=1e-5)


@given(shapes, st.booleans(), st.integers(0, 999))
def test_eval_matches_torch(shape, affine, seed):
    x, weight, bias, mean, var = _arrays(shape, seed)
    if affine:
        compare_with_torch(lambda x, w, b: batch_norm(x, sg.tensor(mean), sg.tensor(var), w, b),
                           lambda x, w, b: TF.batch_norm(x, torch.tensor(mean), torch.tensor(var), w, b),
                           [x, weight, bias], rtol=1e-5, atol=1e-5)
    else:
        compare_with_torch(lambda x: batch_norm(x, sg.tensor(mean), sg.tensor(var)),
                           lambda x: TF.batch_norm(x, torch.tensor(mean), torch.tensor(var)), [x],
                           rtol=1e-5, atol=1e-5)


def test_gradcheck_float64():
    x, weight, bias, mean, var = (a.astype(np.float64) for a in _arrays((3, 2, 4, 3), 0))
    check_gradients(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), [x, weight, bias])
    check_gradients(lambda x: batch_norm(x, None, None, training=True), [x])
    check_gradients(lambda x, w, b: batch_norm(x, sg.tensor(mean), sg.tensor(var), w, b), [x, weight, bias])
    check_gradients(lambda x, b: batch_norm(x, sg.tensor(mean), sg.tensor(var), None, b), [x, bias])


def test_eval_does_not_touch_running_stats():
    x, weight, bias, mean, var = _arrays((4, 3), 1)
    rm, rv = sg.tensor(mean), sg.tensor(var)
    batch_norm(sg.tensor(x), rm, rv, training=False)
    np.testing.assert_array_equal(rm.data, mean)
    np.testing.assert_array_equal(rv.data, var)


@pytest.mark.parametrize("shape, kwargs, match", [
    ((1, 3), dict(training=True), "more than 1 value per channel"),
    ((4, 3), dict(weight=np.ones(2, np.float32)), r"weight must be a tensor of shape \(3,\)"),
    ((4, 3), dict(running=np.zeros(4, np.float32)), r"running_mean must be a tensor of shape \(3,\)"),
    ((3,), dict(), r"\(N, C\)"),
])
def test_bad_input_raises(shape, kwargs, match):
    x = np.ones(shape, np.float32)
    running = kwargs.pop("running", np.zeros(shape[-1], np.float32))
    weight = kwargs.pop("weight", None)
    with pytest.raises(Exception):  # torch rejects the same inputs
        TF.batch_norm(torch.tensor(x), torch.tensor(running), torch.ones(running.shape),
                      None if weight is None else torch.tensor(weight), **kwargs)
    with pytest.raises(ValueError, match=match):
        batch_norm(sg.tensor(x), sg.tensor(running), sg.tensor(np.ones(running.shape, np.float32)),
                   None if weight is None else sg.tensor(weight), **kwargs)


def test_batch_norm_and_relu_give_the_same_bits_on_one_or_two_threads(monkeypatch):
    """The batch halves run concurrently; their partial channel sums are added in batch order."""
    from slimgrad.ops import window
    monkeypatch.setattr(window, "PARALLEL_MIN_BYTES", 0)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 6, 7, 3)).astype(np.float32)
    w, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)

    def bn_relu(x_, w_, b_):
        return F.relu(F.batch_norm(x_, None, None, w_, b_, training=True))

    assert_same_with_workers(bn_relu, [x, w, b])
    compare_with_torch(bn_relu, lambda x_, w_, b_: TF.relu(TF.batch_norm(x_, None, None, w_, b_, training=True)),
                       [x, w, b], rtol=1e-5, atol=1e-5)
