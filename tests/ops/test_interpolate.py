"""interpolate against PyTorch: nearest / nearest-exact / bilinear (both align_corners) / area, size and
scale_factor, outputs and input gradients; float64 gradcheck; bad arguments."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
from slimgrad.ops.interpolate import interpolate
from helpers import check_gradients, compare_with_torch

shapes = st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9))
sizes = st.one_of(st.integers(1, 13), st.tuples(st.integers(1, 13), st.integers(1, 13)))
scales = st.one_of(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 0.7, 2.25, 1.3333]),
                   st.tuples(st.sampled_from([0.6, 1.0, 2.0, 2.5]), st.sampled_from([0.8, 1.7, 3.0, 4.0])))


def _x(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _options(mode, align):
    return dict(mode=mode) if mode != "bilinear" else dict(mode=mode, align_corners=align)


@given(shapes, sizes, st.sampled_from(["nearest", "nearest-exact", "bilinear", "area"]), st.booleans(),
       st.integers(0, 999))
def test_interpolate_size_matches_torch(shape, size, mode, align, seed):
    opts = _options(mode, align)
    compare_with_torch(lambda t: interpolate(t, size=size, **opts), lambda t: TF.interpolate(t, size=size, **opts),
                       [_x(shape, seed)], rtol=1e-5, atol=1e-5)


@given(shapes, scales, st.sampled_from(["nearest", "nearest-exact", "bilinear"]), st.booleans(),
       st.sampled_from([None, True]), st.integers(0, 999))
def test_interpolate_scale_factor_matches_torch(shape, scale, mode, align, recompute, seed):
    factors = scale if isinstance(scale, tuple) else (scale, scale)
    if min(int(n * f) for n, f in zip(shape[2:], factors)) < 1:
        return  # torch rejects an empty output; tested below
    opts = dict(_options(mode, align), scale_factor=scale, recompute_scale_factor=recompute)
    compare_with_torch(lambda t: interpolate(t, **opts), lambda t: TF.interpolate(t, **opts),
                       [_x(shape, seed)], rtol=1e-5, atol=1e-5)


def test_nearest_index_rule_on_awkward_scales():
    x = np.arange(2 * 17 * 23, dtype=np.float32).reshape(1, 2, 17, 23)  # values name their source pixel
    for scale in (0.3, 0.55, 1.1, 1.7, 2.9):
        for mode in ("nearest", "nearest-exact"):
            ours = interpolate(sg.tensor(x), scale_factor=scale, mode=mode).data
            ref = TF.interpolate(torch.tensor(x), scale_factor=scale, mode=mode).numpy()
            np.testing.assert_array_equal(ours, ref)


def test_float32_stays_float32_and_gradcheck_float64():
    out = interpolate(sg.tensor(_x((1, 1, 3, 3), 0)), scale_factor=2, mode="bilinear")
    assert out.dtype == np.float32
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 5))
    check_gradients(lambda t: interpolate(t, size=(7, 3), mode="bilinear", align_corners=False), [x])
    check_gradients(lambda t: interpolate(t, size=(6, 9), mode="bilinear", align_corners=True), [x])
    check_gradients(lambda t: interpolate(t, scale_factor=(2.5, 0.6), mode="nearest"), [x])
    check_gradients(lambda t: interpolate(t, size=(3, 2), mode="area"), [x])


@pytest.mark.parametrize("kwargs", [
    dict(),                                                      # neither size nor scale_factor
    dict(size=4, scale_factor=2.0),                              # both
    dict(size=4, mode="nearest", align_corners=True),            # align_corners with nearest
    dict(size=4, mode="bogus"),
    dict(scale_factor=0.1),                                      # empty output
])
def test_bad_arguments_raise_like_torch(kwargs):
    x = np.zeros((1, 1, 4, 4), dtype=np.float32)
    with pytest.raises((ValueError, RuntimeError, NotImplementedError)):
        TF.interpolate(torch.tensor(x), **kwargs)
    with pytest.raises(ValueError, match="interpolate: .*(size|scale_factor|align_corners|mode)"):
        interpolate(sg.tensor(x), **kwargs)


def test_bad_rank_names_shape():
    with pytest.raises(ValueError, match=r"4D \(N, C, H, W\) input, got shape \(4, 4\)"):
        interpolate(sg.tensor(np.zeros((4, 4), np.float32)), size=2)


@pytest.mark.parametrize("dense_max", [0, 256])
def test_bilinear_dense_and_gather_paths_match_torch(monkeypatch, dense_max):
    import slimgrad.ops.interpolate as module
    monkeypatch.setattr(module, "DENSE_MAX_SIZE", dense_max)
    x = _x((2, 3, 7, 10), 4)
    for opts in [dict(size=(15, 4)), dict(scale_factor=2.0), dict(scale_factor=(0.5, 3.0)), dict(size=(3, 21))]:
        for align in (False, True):
            kwargs = dict(opts, mode="bilinear", align_corners=align)
            compare_with_torch(lambda t: interpolate(t, **kwargs), lambda t: TF.interpolate(t, **kwargs), [x],
                               rtol=1e-5, atol=1e-5)


def test_bilinear_keeps_non_finite_values_local_like_torch():
    x = _x((1, 2, 5, 6), 5)
    x[0, 0, 2, 3], x[0, 1, 0, 0] = np.inf, np.nan
    ours = interpolate(sg.tensor(x), scale_factor=2, mode="bilinear").data
    ref = TF.interpolate(torch.tensor(x), scale_factor=2, mode="bilinear").numpy()
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("shape, size", [((1, 3, 7, 14), 23), ((2, 2, 9, 16), (31, 13)), ((1, 2, 5, 2), (41, 82))])
def test_nearest_float64_picks_the_same_pixels_as_torch(mode, shape, size):
    # PyTorch computes nearest source indices in float32 even for float64 inputs: (0.5 + 11) * 14/23 rounds
    # to 7.0 in float32 but stays just below 7 in float64 (regression: slimgrad used float64 index math)
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    compare_with_torch(lambda t: interpolate(t, size=size, mode=mode),
                       lambda t: TF.interpolate(t, size=size, mode=mode), [x], rtol=0, atol=0,
                       grad_rtol=1e-12, grad_atol=1e-12)


def test_area_mode_allows_an_empty_output_like_torch():
    x = _x((1, 2, 1, 3), 0)
    compare_with_torch(lambda t: interpolate(t, scale_factor=0.5, mode="area"),
                       lambda t: TF.interpolate(t, scale_factor=0.5, mode="area"), [x], grad=False)


@given(st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 12)),
       st.one_of(st.integers(1, 30), st.tuples(st.integers(1, 30))),
       st.sampled_from(["nearest", "nearest-exact", "linear", "area"]), st.booleans(), st.integers(0, 999))
def test_interpolate_three_dimensional_inputs_match_torch(shape, size, mode, align, seed):
    # PyTorch resizes (N, C, L) inputs too (regression: slimgrad only took 4D inputs and had no 'linear')
    opts = dict(mode=mode) if mode != "linear" else dict(mode=mode, align_corners=align)
    compare_with_torch(lambda t: interpolate(t, size=size, **opts), lambda t: TF.interpolate(t, size=size, **opts),
                       [_x(shape, seed)], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("length, size", [(4, 82), (2, 83), (7, 23), (16, 236)])
def test_nearest_exact_three_dimensional_index_rule(dtype, length, size):
    # PyTorch's (N, C, L) kernel: floor(max((dst + 0.5) * s - 0.5, 0) + 0.5), fused multiply-subtract in
    # float32, rounded to float32 before the floor: (20 + 0.5) * 4/82 picks pixel 1, not 0
    x = np.arange(2 * length, dtype=dtype).reshape(1, 2, length)
    for mode in ("nearest", "nearest-exact"):
        ours = interpolate(sg.tensor(x), size=size, mode=mode).data
        np.testing.assert_array_equal(ours, TF.interpolate(torch.tensor(x), size=size, mode=mode).numpy())


def test_linear_and_bilinear_need_their_ranks_like_torch():
    with pytest.raises(ValueError, match=r"mode='bilinear' needs a 4D \(N, C, H, W\) input"):
        interpolate(sg.tensor(np.zeros((1, 2, 4), np.float32)), size=3, mode="bilinear")
    with pytest.raises(ValueError, match=r"mode='linear' needs a 3D \(N, C, L\) input"):
        interpolate(sg.tensor(np.zeros((1, 2, 4, 4), np.float32)), size=3, mode="linear")
    for bad in [(1, 2, 4), (1, 2, 4, 4)]:
        with pytest.raises((ValueError, RuntimeError, NotImplementedError)):
            TF.interpolate(torch.zeros(bad), size=3, mode="bilinear" if len(bad) == 3 else "linear")
