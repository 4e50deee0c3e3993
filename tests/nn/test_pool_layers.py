"""Pooling and upsampling layers against torch.nn: outputs, gradients, reprs, validation."""
import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import slimgrad as sg
from helpers import compare_module_with_torch
from slimgrad import nn


_compare = compare_module_with_torch


def _x(shape, seed=0):  # distinct values: no ties in max pooling
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01).astype(np.float32)


@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 1), st.integers(1, 2), st.booleans(),
       st.integers(5, 10), st.integers(5, 10))
def test_max_and_avg_pool_layers_match_torch(k, s, p, d, ceil_mode, h, w):
    p = min(p, k // 2)
    assume(d * (k - 1) + 1 <= min(h, w) + 2 * p)
    x = _x((2, 3, h, w))
    _compare(nn.MaxPool2d(k, s, p, d, ceil_mode=ceil_mode), torch.nn.MaxPool2d(k, s, p, d, ceil_mode=ceil_mode), x)
    for count_include_pad in (True, False):
        _compare(nn.AvgPool2d(k, s, p, ceil_mode, count_include_pad),
                 torch.nn.AvgPool2d(k, s, p, ceil_mode, count_include_pad), x)


def test_adaptive_global_and_upsample_layers_match_torch():
    x = _x((2, 3, 9, 7))
    _compare(nn.AdaptiveAvgPool2d((4, None)), torch.nn.AdaptiveAvgPool2d((4, None)), x)
    _compare(nn.AdaptiveMaxPool2d(3), torch.nn.AdaptiveMaxPool2d(3), x)
    _compare(nn.GlobalAvgPool2d(), torch.nn.AdaptiveAvgPool2d(1), x)
    _compare(nn.GlobalAvgPool2d(flatten=True), torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), x)
    for kwargs in [dict(scale_factor=2), dict(size=(5, 11)), dict(scale_factor=1.5, mode="bilinear"),
                   dict(size=12, mode="bilinear", align_corners=True), dict(scale_factor=(2, 3), mode="nearest")]:
        _compare(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x)


def test_max_pool_return_indices_layer():
    x = _x((1, 2, 6, 6))
    out, idx = nn.MaxPool2d(2, return_indices=True)(sg.tensor(x))
    ref, ref_idx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.data, ref_idx.numpy())


def test_reprs_match_torch():
    pairs = [(nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
             (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
             (nn.AvgPool2d((2, 3), padding=1), torch.nn.AvgPool2d((2, 3), padding=1)),
             (nn.AdaptiveAvgPool2d((1, 1)), torch.nn.AdaptiveAvgPool2d((1, 1))),
             (nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2)),
             (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
             (nn.Upsample(size=(4, 5), mode="bilinear"), torch.nn.Upsample(size=(4, 5), mode="bilinear"))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    assert repr(nn.GlobalAvgPool2d()) == "GlobalAvgPool2d()"
    assert repr(nn.GlobalAvgPool2d(flatten=True)) == "GlobalAvgPool2d(flatten=True)"


@pytest.mark.parametrize("make, match", [
    (lambda: nn.MaxPool2d(0), "kernel_size"),
    (lambda: nn.MaxPool2d(2, stride=0), "stride"),
    (lambda: nn.MaxPool2d(2, padding=2), "padding"),
    (lambda: nn.MaxPool2d(2, dilation=0), "dilation"),
    (lambda: nn.AvgPool2d(3, padding=2), "padding"),
    (lambda: nn.AvgPool2d(3, divisor_override=0), "divisor_override"),
    (lambda: nn.AdaptiveAvgPool2d(-1), "output_size"),
    (lambda: nn.Upsample(), "size and scale_factor"),
    (lambda: nn.Upsample(size=2, scale_factor=2), "size and scale_factor"),
    (lambda: nn.Upsample(scale_factor=2, mode="cubic"), "mode"),
    (lambda: nn.Upsample(scale_factor=2, align_corners=True), "align_corners"),
    (lambda: nn.Upsample(scale_factor=-1), "scale_factor"),
])
def test_bad_configurations_raise_in_init(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_forward_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2.*\): expected input of shape \(N, C, H, W\)"):
        nn.MaxPool2d(2)(sg.tensor(np.zeros((4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"Upsample\(scale_factor=2.0, mode='nearest'\): expected input"):
        nn.Upsample(scale_factor=2)(sg.tensor(np.zeros((4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"Upsample\(scale_factor=2.0, mode='bilinear'\): expected input of shape \(N, C, H, W\)"):
        nn.Upsample(scale_factor=2, mode="bilinear")(sg.tensor(np.zeros((3, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"^MaxPool2d\(kernel_size=3, .*\): input of shape \(1, 1, 2, 2\) is too small"):
        nn.MaxPool2d(3)(sg.tensor(np.zeros((1, 1, 2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"^AvgPool2d\(kernel_size=\(3, 2\), .*\): input of shape \(1, 2, 2\) is too small"):
        nn.AvgPool2d((3, 2), stride=[])(sg.tensor(np.zeros((1, 2, 2), np.float32)))
    x = _x((1, 2, 6, 6))  # an empty stride means the kernel size, as in PyTorch
    _compare(nn.MaxPool2d(3, stride=[]), torch.nn.MaxPool2d(3, stride=[]), x)


def test_numpy_integer_arguments_are_accepted():
    x = _x((1, 2, 6, 6))
    _compare(nn.AvgPool2d(3, padding=1, divisor_override=np.int64(4)),
             torch.nn.AvgPool2d(3, padding=1, divisor_override=4), x)
    _compare(nn.AdaptiveAvgPool2d((np.int64(4), None)), torch.nn.AdaptiveAvgPool2d((4, None)), x)


def test_upsample_three_dimensional_inputs_like_torch():
    x = _x((2, 3, 7))
    for kwargs in [dict(scale_factor=2), dict(size=11, mode="nearest-exact"), dict(size=5, mode="linear"),
                   dict(scale_factor=2.5, mode="linear", align_corners=True), dict(size=3, mode="area")]:
        assert repr(nn.Upsample(**kwargs)) == repr(torch.nn.Upsample(**kwargs))
        _compare(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x)


@pytest.mark.parametrize("make", [lambda m: m.MaxPool2d(2), lambda m: m.AvgPool2d(3, 1, 1), lambda m: m.AdaptiveAvgPool2d(3),
                                  lambda m: m.AdaptiveMaxPool2d((2, 5)), lambda m: m.Upsample(scale_factor=2),
                                  lambda m: m.Upsample(size=(5, 300), mode="bilinear")])
def test_empty_batch_like_torch(make):
    # PyTorch takes a batch of 0 (regression: adaptive max pooling and bilinear resizing failed to reshape)
    x = np.zeros((0, 3, 8, 8), np.float32)
    xs = sg.tensor(x, requires_grad=True)
    out = make(nn)(xs)
    assert out.shape == tuple(make(torch.nn)(torch.tensor(x)).shape)
    out.sum().backward()
    assert xs.grad.shape == x.shape


def test_upsample_accepts_numpy_numbers():
    x = _x((1, 2, 3, 4))
    _compare(nn.Upsample(size=np.int64(5)), torch.nn.Upsample(size=5), x)
    _compare(nn.Upsample(scale_factor=np.float32(1.5), mode="bilinear"), torch.nn.Upsample(scale_factor=1.5, mode="bilinear"), x)
