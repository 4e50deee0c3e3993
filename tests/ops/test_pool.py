"""Pooling ops against PyTorch (outputs, input gradients, indices) and float64 gradcheck."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st

import slimgrad as sg
from slimgrad.ops.pool import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d,
                               pool_output_size)
from helpers import assert_both_reject, check_gradients, compare_with_torch


def _distinct(shape, seed):
    """Random values without ties (ties make the max's gradient routing ambiguous under rounding)."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 1).astype(np.float32)


pool_config = st.fixed_dictionaries({
    "n": st.integers(1, 2), "c": st.integers(1, 3), "h": st.integers(1, 11), "w": st.integers(1, 11),
    "kh": st.integers(1, 4), "kw": st.integers(1, 4), "sh": st.integers(1, 3), "sw": st.integers(1, 3),
    "ph": st.integers(0, 2), "pw": st.integers(0, 2), "dh": st.integers(1, 3), "dw": st.integers(1, 3),
    "ceil_mode": st.booleans(), "seed": st.integers(0, 2 ** 16),
})


def _valid(cfg, dilation=True):
    d = (cfg["dh"], cfg["dw"]) if dilation else (1, 1)
    if cfg["ph"] > cfg["kh"] // 2 or cfg["pw"] > cfg["kw"] // 2:
        return False
    return all(pool_output_size(n, k, s, p, dd, cfg["ceil_mode"]) >= 1 for n, k, s, p, dd in
               [(cfg["h"], cfg["kh"], cfg["sh"], cfg["ph"], d[0]), (cfg["w"], cfg["kw"], cfg["sw"], cfg["pw"], d[1])])


@given(pool_config)
def test_max_pool2d_matches_torch(cfg):
    assume(_valid(cfg))
    kw = dict(kernel_size=(cfg["kh"], cfg["kw"]), stride=(cfg["sh"], cfg["sw"]), padding=(cfg["ph"], cfg["pw"]),
              dilation=(cfg["dh"], cfg["dw"]), ceil_mode=cfg["ceil_mode"])
    x = _distinct((cfg["n"], cfg["c"], cfg["h"], cfg["w"]), cfg["seed"])
    # a window of padding only (tiny input, dilated kernel) gets -inf; PyTorch then indexes out of its window
    assume(np.isfinite(TF.max_pool2d(torch.tensor(x), **kw).numpy()).all())
    compare_with_torch(lambda t: max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), [x])
    _, idx = max_pool2d(sg.tensor(x), return_indices=True, **kw)
    _, ref = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.data, ref.numpy())


@given(pool_config, st.booleans(), st.sampled_from([None, 1, 3]))
def test_avg_pool2d_matches_torch(cfg, count_include_pad, divisor_override):
    assume(_valid(cfg, dilation=False))
    kw = dict(kernel_size=(cfg["kh"], cfg["kw"]), stride=(cfg["sh"], cfg["sw"]), padding=(cfg["ph"], cfg["pw"]),
              ceil_mode=cfg["ceil_mode"], count_include_pad=count_include_pad, divisor_override=divisor_override)
    x = np.random.default_rng(cfg["seed"]).standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"]))
    compare_with_torch(lambda t: avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw), [x.astype(np.float32)],
                       rtol=1e-5, atol=1e-5)


def test_max_pool2d_ties_route_to_first_max_and_overlaps_accumulate():
    x = np.zeros((1, 1, 5, 5), dtype=np.float32)  # every window is a tie
    x[0, 0, 2, 2] = 1.0                           # shared by the four overlapping 3x3 windows
    for arr in (x, np.zeros_like(x)):
        compare_with_torch(lambda t: max_pool2d(t, 3, stride=1), lambda t: TF.max_pool2d(t, 3, stride=1), [arr])


def test_max_pool2d_minus_inf_inputs_route_like_torch():
    x = np.full((1, 1, 5, 6), -np.inf, dtype=np.float32)
    x[0, 0, 4, 5] = 1.0
    for kw in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1, padding=1, dilation=2),
               dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)]:
        compare_with_torch(lambda t: max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), [x])
        np.testing.assert_array_equal(max_pool2d(sg.tensor(x), return_indices=True, **kw)[1].data,
                                      TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)[1].numpy())


def test_max_pool2d_propagates_nan_like_torch():
    x = _distinct((1, 2, 6, 6), 3)
    x[0, 1, 1, 2] = np.nan
    x[0, 1, 2, 1] = np.nan
    a, ia = max_pool2d(sg.tensor(x), 3, 2, 1, return_indices=True)
    b, ib = TF.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(a.data, b.numpy())
    np.testing.assert_array_equal(ia.data, ib.numpy())


def test_pool_unbatched_input_and_float32():
    x = _distinct((3, 8, 6), 1)
    out = compare_with_torch(lambda t: max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), [x])
    assert out.shape == (3, 4, 3) and out.dtype == np.float32
    compare_with_torch(lambda t: avg_pool2d(t, 3, 2, 1), lambda t: TF.avg_pool2d(t, 3, 2, 1), [x])


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 13), st.integers(1, 13),
       st.one_of(st.integers(1, 6), st.tuples(st.integers(1, 6), st.integers(1, 6)),
                 st.tuples(st.none(), st.integers(1, 5))), st.integers(0, 2 ** 16))
def test_adaptive_pools_match_torch(n, c, h, w, output_size, seed):
    x = _distinct((n, c, h, w), seed)
    compare_with_torch(lambda t: adaptive_avg_pool2d(t, output_size),
                       lambda t: TF.adaptive_avg_pool2d(t, output_size), [x], rtol=1e-5, atol=1e-6)
    compare_with_torch(lambda t: adaptive_max_pool2d(t, output_size),
                       lambda t: TF.adaptive_max_pool2d(t, output_size), [x])
    _, idx = adaptive_max_pool2d(sg.tensor(x), output_size, return_indices=True)
    _, ref = TF.adaptive_max_pool2d(torch.tensor(x), output_size, return_indices=True)
    np.testing.assert_array_equal(idx.data, ref.numpy())


def test_gradcheck_float64():
    rng = np.random.default_rng(0)
    x = rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) * 0.1  # distinct: max is differentiable
    check_gradients(lambda t: max_pool2d(t, 3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True), [x])
    check_gradients(lambda t: avg_pool2d(t, (3, 2), stride=(2, 1), padding=1, ceil_mode=True,
                                         count_include_pad=False), [x])
    check_gradients(lambda t: adaptive_avg_pool2d(t, (3, 4)), [x])
    check_gradients(lambda t: adaptive_avg_pool2d(t, 1), [x])
    check_gradients(lambda t: adaptive_max_pool2d(t, (4, 3)), [x])


@pytest.mark.parametrize("call, torch_call", [
    (lambda x: max_pool2d(x, 3, padding=2), lambda x: TF.max_pool2d(x, 3, padding=2)),
    (lambda x: avg_pool2d(x, 2, padding=2), lambda x: TF.avg_pool2d(x, 2, padding=2)),
    (lambda x: max_pool2d(x, 0), lambda x: TF.max_pool2d(x, 0)),
    (lambda x: max_pool2d(x, 2, stride=0), lambda x: TF.max_pool2d(x, 2, stride=0)),
    (lambda x: max_pool2d(x, 2, dilation=0), lambda x: TF.max_pool2d(x, 2, dilation=0)),
    (lambda x: max_pool2d(x, 5), lambda x: TF.max_pool2d(x, 5)),       # output size 0
    (lambda x: avg_pool2d(x, 2, divisor_override=0), lambda x: TF.avg_pool2d(x, 2, divisor_override=0)),
    (lambda x: adaptive_avg_pool2d(x, -1), lambda x: TF.adaptive_avg_pool2d(x, -1)),
])
def test_bad_configurations_raise_like_torch(call, torch_call):
    assert_both_reject(call, torch_call, [np.zeros((1, 1, 4, 4), dtype=np.float32)],
                       match="(kernel_size|stride|dilation|padding|too small|divisor|output_size)")


def test_bad_input_rank_raises():
    with pytest.raises(ValueError, match="4D"):
        max_pool2d(sg.tensor(np.zeros((4, 4), np.float32)), 2)
    with pytest.raises(TypeError, match="kernel_size"):
        avg_pool2d(sg.tensor(np.zeros((1, 1, 4, 4), np.float32)), 2.5)


def test_max_pool2d_integer_input_like_torch():
    x = np.random.default_rng(0).integers(-50, 50, (1, 2, 5, 5))
    ours = max_pool2d(sg.tensor(x), 3, stride=2, padding=1, ceil_mode=True)
    ref = TF.max_pool2d(torch.tensor(x), 3, stride=2, padding=1, ceil_mode=True)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.data, ref.numpy())
