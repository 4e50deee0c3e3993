"""Geometric transforms: where a pixel lands, np.rot90, PyTorch's samplers as oracle, image-mask alignment."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from slimgrad.data import augment as A
from slimgrad.data.augment.sampling import sample_bilinear, sample_nearest


def dot_image(n, h, w, r, c):
    x = np.zeros((n, 1, h, w), np.float32)
    x[:, 0, r, c] = 1.0
    return x


def centroid(img):
    ys, xs = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    return np.array([(img * xs).sum(), (img * ys).sum()]) / img.sum()


@given(h=st.integers(2, 12), w=st.integers(2, 12), seed=st.integers(0, 1000))
def test_flips_move_a_pixel_to_the_mirror(h, w, seed):
    rng = np.random.default_rng(seed)
    r, c = int(rng.integers(h)), int(rng.integers(w))
    x = dot_image(3, h, w, r, c)
    m = (x[:, 0] * 2).astype(np.int64)
    xh, mh = A.RandomHorizontalFlip(p=1.0)(x, m, rng=seed)
    xv, mv = A.RandomVerticalFlip(p=1.0)(x, m, rng=seed)
    assert (xh[:, 0, r, w - 1 - c] == 1).all() and (mh[:, r, w - 1 - c] == 2).all() and xh.sum() == 3
    assert (xv[:, 0, h - 1 - r, c] == 1).all() and (mv[:, h - 1 - r, c] == 2).all() and xv.sum() == 3
    np.testing.assert_array_equal(A.RandomHorizontalFlip(p=0.0)(x, rng=seed), x)


def test_flip_probability_is_per_sample():
    x = np.random.default_rng(0).random((400, 1, 3, 4)).astype(np.float32)
    out = A.RandomHorizontalFlip(p=0.3)(x, rng=1)
    flipped = (out != x).any(axis=(1, 2, 3))
    np.testing.assert_array_equal(out[flipped], x[flipped][..., ::-1])
    assert 0.22 < flipped.mean() < 0.38


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_multiples_of_90_equals_rot90(k):
    x = np.random.default_rng(k).random((4, 3, 7, 7)).astype(np.float32)
    m = np.random.default_rng(k).integers(0, 4, (4, 7, 7))
    out, mo = A.RandomRotation(degrees=(90 * k, 90 * k))(x, m, rng=0)
    np.testing.assert_allclose(out, np.rot90(x, k, axes=(2, 3)), atol=1e-5)
    np.testing.assert_array_equal(mo, np.rot90(m, k, axes=(1, 2)))


@given(seed=st.integers(0, 10_000))
def test_rotated_pixel_lands_where_the_formula_says(seed):
    h = w = 21
    t = A.RandomRotation(degrees=180)
    angle = t.get_params(1, h, w, np.random.default_rng(seed))["angle"][0]
    r, c = 5, 14
    out = t(dot_image(1, h, w, r, c), rng=seed)[0, 0]
    a, cx, cy = math.radians(angle), (w - 1) / 2, (h - 1) / 2
    # counter-clockwise as displayed (y down): x' = cos a dx + sin a dy, y' = -sin a dx + cos a dy
    expected = (math.cos(a) * (c - cx) + math.sin(a) * (r - cy) + cx,
                -math.sin(a) * (c - cx) + math.cos(a) * (r - cy) + cy)
    # bilinear resampling moves a rotated dot's centre of mass by < 0.1 px (seeds 0-10000); 0.15 catches a
    # half-pixel error in the rotation centre
    np.testing.assert_allclose(centroid(out), expected, atol=0.15)


@given(seed=st.integers(0, 10_000))
def test_translated_pixel_lands_where_the_formula_says(seed):
    h, w = 16, 20
    t = A.RandomAffine(translate=(0.2, 0.25))
    p = t.get_params(1, h, w, np.random.default_rng(seed))
    assert abs(p["tx"][0]) <= 0.2 * w and abs(p["ty"][0]) <= 0.25 * h
    out = t(dot_image(1, h, w, 8, 9), rng=seed)[0, 0]
    # bilinear resampling of a shifted dot keeps its centre of mass exactly at the shifted position
    np.testing.assert_allclose(centroid(out), (9 + p["tx"][0], 8 + p["ty"][0]), atol=1e-4)


def test_integer_translation_is_an_exact_shift():
    x = np.random.default_rng(0).random((2, 2, 8, 9)).astype(np.float32)
    out, _ = A.affine(x, angle=0.0, tx=3.0, ty=-2.0, scale=1.0)
    expected = np.zeros_like(x)
    expected[:, :, :6, 3:] = x[:, :, 2:, :6]
    np.testing.assert_allclose(out, expected, atol=1e-6)


@given(seed=st.integers(0, 10_000))
def test_scaled_and_sheared_pixel_lands_where_the_formula_says(seed):
    h = w = 25
    t = A.RandomAffine(degrees=30, scale=(0.8, 1.25), shear=(-15, 15, -10, 10))
    p = t.get_params(1, h, w, np.random.default_rng(seed))
    a = math.radians(p["angle"][0])
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    shx = np.array([[1, math.tan(math.radians(p["shear_x"][0]))], [0, 1]])
    shy = np.array([[1, 0], [math.tan(math.radians(p["shear_y"][0])), 1]])
    c = np.array([12.0, 12.0])
    expected = rot @ shx @ shy @ (np.array([16.0, 9.0]) - c) * p["scale"][0] + c
    out = t(dot_image(1, h, w, 9, 16), rng=seed)[0, 0]
    # shrinking (scale < 1) resamples the dot coarsely: its centre of mass moves by up to ~0.31 px
    np.testing.assert_allclose(centroid(out), expected, atol=0.45)


def test_zero_strength_is_identity():
    rng = np.random.default_rng(0)
    x = rng.random((5, 3, 10, 11)).astype(np.float32)
    m = rng.integers(0, 4, (5, 10, 11))
    for t in [A.RandomAffine(0), A.RandomRotation(0), A.RandomCrop(), A.RandomCrop(padding=0),
              A.ElasticTransform(alpha=0.0), A.RandomResizedCrop(scale=(1, 1), ratio=(11 / 10, 11 / 10))]:
        out, mo = t(x, m, rng=1)
        np.testing.assert_allclose(out, x, atol=1e-6, err_msg=repr(t))
        np.testing.assert_array_equal(mo, m, err_msg=repr(t))


@given(h=st.integers(3, 10), w=st.integers(3, 10), pad=st.integers(0, 3), seed=st.integers(0, 99),
       mode=st.sampled_from(["constant", "edge", "reflect", "symmetric"]))
def test_random_crop_is_a_window_of_the_padded_image(h, w, pad, seed, mode):
    x = np.arange(2 * 2 * h * w, dtype=np.float32).reshape(2, 2, h, w)
    m = np.arange(2 * h * w, dtype=np.int64).reshape(2, h, w)
    t = A.RandomCrop(size=(h - 1, w - 2 if w > 3 else w), padding=pad, padding_mode=mode, fill=-1.0)
    out, mo = t(x, m, rng=seed)
    np_mode = {"constant": dict(mode="constant", constant_values=-1)}.get(mode, dict(mode=mode))
    oh, ow = out.shape[2:]
    for i in range(2):
        padded = np.pad(x[i], ((0, 0), (pad, pad), (pad, pad)), **np_mode)
        padded_m = np.pad(m[i], pad, **({"mode": "constant"} if mode == "constant" else {"mode": mode}))
        windows = [(a, b) for a in range(padded.shape[1] - oh + 1) for b in range(padded.shape[2] - ow + 1)
                   if np.array_equal(padded[:, a:a + oh, b:b + ow], out[i])]
        assert windows, "crop is not a window of the padded image"
        a, b = windows[0]
        np.testing.assert_array_equal(mo[i], padded_m[a:a + oh, b:b + ow])


def test_random_crop_errors():
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        A.RandomCrop(4, padding_mode="wrap")
    with pytest.raises(ValueError, match="larger than the padded image"):
        A.RandomCrop(9)(np.zeros((1, 1, 4, 4), np.float32))
    out = A.RandomCrop(9, pad_if_needed=True)(np.ones((1, 1, 4, 4), np.float32), rng=0)
    assert out.shape == (1, 1, 9, 9)


def test_bilinear_and_nearest_samplers_match_grid_sample():
    rng = np.random.default_rng(0)
    n, c, h, w = 3, 2, 7, 9
    x = rng.random((n, c, h, w)).astype(np.float32)
    xs = rng.uniform(-2, w + 1, (n, 5, 6)).astype(np.float32)
    ys = rng.uniform(-2, h + 1, (n, 5, 6)).astype(np.float32)
    grid = torch.from_numpy(np.stack([2 * xs / (w - 1) - 1, 2 * ys / (h - 1) - 1], -1))
    ref = torch.nn.functional.grid_sample(torch.from_numpy(x), grid, mode="bilinear", padding_mode="zeros",
                                          align_corners=True).numpy()
    np.testing.assert_allclose(sample_bilinear(x, xs, ys), ref, atol=1e-5)
    masks = rng.integers(1, 5, (n, h, w))
    ref_nearest = torch.nn.functional.grid_sample(torch.from_numpy(masks[:, None].astype(np.float64)),
                                                  grid.double(), mode="nearest", padding_mode="zeros",
                                                  align_corners=True).numpy()[:, 0]
    np.testing.assert_array_equal(sample_nearest(masks, xs, ys), ref_nearest.astype(np.int64))


def test_resized_crop_matches_crop_then_interpolate():
    rng = np.random.default_rng(1)
    x = rng.random((6, 3, 20, 24)).astype(np.float32)
    t = A.RandomResizedCrop((12, 10), scale=(0.2, 0.9))
    top, left, bh, bw = t.get_params(6, 20, 24, np.random.default_rng(7))
    assert (top >= 0).all() and (left >= 0).all() and (top + bh <= 20).all() and (left + bw <= 24).all()
    area = bh * bw / (20 * 24)
    assert (area > 0.15).all() and (area < 0.95).all()
    out = t(x, rng=7)
    for i in range(6):
        crop = torch.from_numpy(x[i:i + 1, :, top[i]:top[i] + bh[i], left[i]:left[i] + bw[i]])
        ref = torch.nn.functional.interpolate(crop, size=(12, 10), mode="bilinear", align_corners=False)
        np.testing.assert_allclose(out[i], ref[0].numpy(), atol=1e-5)


def test_elastic_displacement_is_smooth_and_bounded():
    t = A.ElasticTransform(alpha=34.0, sigma=4.0)
    dx, dy = t.get_params(8, 28, 28, np.random.default_rng(0))
    assert dx.shape == (8, 28, 28) and dx.dtype == np.float32
    assert 0.3 < np.abs(dx).mean() < 5.0  # Simard's settings move pixels by a pixel or two
    assert np.abs(np.diff(dx, axis=2)).mean() < 0.25 * np.abs(dx).mean() + 0.1
    x = np.random.default_rng(0).random((8, 1, 28, 28)).astype(np.float32)
    out = t(x, rng=0)
    gx, gy = np.meshgrid(np.arange(28), np.arange(28))
    ref = sample_bilinear(x, (gx + dx).astype(np.float32), (gy + dy).astype(np.float32))
    np.testing.assert_allclose(out, ref, atol=1e-6)


GEOMETRIC = [
    A.RandomHorizontalFlip(), A.RandomVerticalFlip(), A.RandomCrop(padding=3, padding_mode="reflect"),
    A.RandomResizedCrop(scale=(0.3, 1.0)), A.RandomRotation(30),
    A.RandomAffine(25, translate=(0.15, 0.15), scale=(0.8, 1.2), shear=10), A.ElasticTransform(20.0, 3.0),
]


@pytest.mark.parametrize("t", GEOMETRIC, ids=lambda t: type(t).__name__)
def test_image_and_mask_stay_aligned(t):
    # blocky image whose grey level encodes the mask class: after the warp, every pixel whose grey level is
    # still a class level (not a bilinear blend at a block edge) lies in that class in the warped mask.
    # (A mask shifted by one pixel agrees on only 80-94% of those pixels.)
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 4, (16, 6, 6))
    masks = blocks.repeat(6, axis=1).repeat(6, axis=2)
    images = (masks / 3.0).astype(np.float32)[:, None].repeat(3, axis=1)
    out, mo = t(images, masks, rng=3)
    assert out.dtype == np.float32 and mo.dtype == masks.dtype and mo.shape == out.shape[:1] + out.shape[2:]
    level = out[:, 0] * 3
    pure = np.abs(level - np.rint(level)) < 0.02
    assert pure.mean() > 0.7
    agree = (np.rint(level) == mo)[pure].mean()
    assert agree > 0.99, agree


@pytest.mark.parametrize("t", GEOMETRIC, ids=lambda t: type(t).__name__)
def test_geometric_ranges_and_determinism(t):
    x = np.random.default_rng(0).random((10, 1, 16, 16)).astype(np.float32)
    a, b, c = t(x, rng=5), t(x, rng=5), t(x, rng=6)
    assert a.dtype == np.float32 and a.min() >= 0.0 and a.max() <= 1.0 + 1e-6
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_inputs_name_the_transform():
    with pytest.raises(ValueError, match=r"RandomAffine: expected images of shape \(N, C, H, W\)"):
        A.RandomAffine(10)(np.zeros((3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="RandomRotation: expected masks of shape"):
        A.RandomRotation(10)(np.zeros((2, 1, 4, 4), np.float32), np.zeros((2, 5, 4), np.int64))
    with pytest.raises(ValueError, match="translate must be fractions"):
        A.RandomAffine(0, translate=(2, 0))
    with pytest.raises(TypeError, match="floating-point images"):
        A.RandomHorizontalFlip()(np.zeros((1, 1, 2, 2), np.uint8))


@pytest.mark.parametrize("size, sigma", [(28, 4.0), (5, 3.0), (1, 1.0)])
def test_gaussian_smoothing_matrix_equals_reflected_convolution(size, sigma):
    from slimgrad.data.augment.sampling import gaussian_smooth

    field = np.random.default_rng(0).random((3, 2, size, size + 1)).astype(np.float32)
    r = math.ceil(3 * sigma)
    taps = np.exp(-np.arange(-r, r + 1) ** 2 / (2 * sigma ** 2))
    taps /= taps.sum()
    ref = field.astype(np.float64)
    for axis in (2, 3):
        widths = [(0, 0)] * 4
        widths[axis] = (r, r)
        padded = np.pad(ref, widths, mode="reflect" if ref.shape[axis] > 1 else "edge")
        n = ref.shape[axis]
        ref = sum(w * np.take(padded, np.arange(k, k + n), axis=axis) for k, w in enumerate(taps))
    np.testing.assert_allclose(gaussian_smooth(field, sigma), ref, atol=1e-5)


def test_random_translation_moves_whole_pixels_as_torchvision():
    """torchvision rounds the drawn translation to whole pixels: a pure translation is an exact shift."""
    x = np.random.default_rng(0).random((16, 2, 10, 12)).astype(np.float32)
    t = A.RandomAffine(translate=(0.3, 0.2))
    p = t.get_params(16, 10, 12, np.random.default_rng(5))
    assert np.array_equal(p["tx"], np.round(p["tx"])) and np.abs(p["tx"]).max() <= round(0.3 * 12)
    out = t(x, rng=5)
    for i in range(16):
        dx, dy = int(p["tx"][i]), int(p["ty"][i])
        shifted = np.zeros_like(x[i])
        src = x[i][:, max(0, -dy):10 - max(0, dy), max(0, -dx):12 - max(0, dx)]
        shifted[:, max(0, dy):max(0, dy) + src.shape[1], max(0, dx):max(0, dx) + src.shape[2]] = src
        np.testing.assert_allclose(out[i], shifted, atol=1e-6)
