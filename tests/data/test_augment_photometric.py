"""Photometric transforms, mixing, combinators, presets and the grid image."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from slimgrad.data import augment as A


def batch(n=8, c=3, h=10, w=12, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def test_color_jitter_follows_its_formula():
    x = batch()
    t = A.ColorJitter(brightness=0.4, contrast=0.3, saturation=0.5)
    b, c, s = (f[:, None, None, None] for f in t.get_params(8, np.random.default_rng(3)))
    assert (b >= 0.6).all() and (b <= 1.4).all() and (c >= 0.7).all() and (s <= 1.5).all()
    y = np.clip(x * b, 0, 1)
    gray = lambda z: 0.299 * z[:, :1] + 0.587 * z[:, 1:2] + 0.114 * z[:, 2:]  # noqa: E731
    m = gray(y).mean(axis=(1, 2, 3), keepdims=True)
    y = np.clip(m + c * (y - m), 0, 1)
    y = gray(y) + s * (y - gray(y))
    np.testing.assert_allclose(t(x, rng=3), np.clip(y, 0, 1), atol=1e-5)


def _torchvision_jitter(img, brightness, contrast, saturation):
    """torchvision's adjust_brightness / adjust_contrast / adjust_saturation (``_blend`` clamps every step; grey
    weights 0.299 here where torchvision rounds to 0.2989)."""
    def blend(a, b, ratio):
        return (ratio * a + (1.0 - ratio) * b).clamp(0.0, 1.0)

    def gray(z):
        return (0.299 * z[:, 0] + 0.587 * z[:, 1] + 0.114 * z[:, 2]).unsqueeze(1)

    img = blend(img, torch.zeros_like(img), brightness)
    img = blend(img, gray(img).mean(dim=(-3, -2, -1), keepdim=True), contrast)
    return blend(img, gray(img), saturation)


@pytest.mark.parametrize("factors", [(1.8, 0.5, 1.0), (1.5, 1.6, 1.7), (0.3, 1.9, 0.2)])
def test_color_jitter_with_fixed_factors_matches_torchvision(factors):
    """Strong brightness saturates pixels; the contrast step must then read the clipped image."""
    x = batch()
    b, c, s = factors
    t = A.ColorJitter(brightness=(b, b), contrast=(c, c), saturation=(s, s))
    expected = _torchvision_jitter(torch.from_numpy(x), b, c, s).numpy()
    np.testing.assert_allclose(t(x, rng=0), expected, atol=2e-6)


def test_saturation_leaves_grey_pixels_and_single_channel_alone():
    grey = np.repeat(batch(c=1), 3, axis=1) * 0.5
    np.testing.assert_allclose(A.ColorJitter(saturation=0.9)(grey, rng=0), grey, atol=1e-6)
    mono = batch(c=1)
    np.testing.assert_array_equal(A.ColorJitter(saturation=0.9)(mono, rng=0), mono)


def test_gaussian_noise_statistics():
    x = np.full((64, 1, 16, 16), 0.5, np.float32)
    out = A.GaussianNoise(std=0.05)(x, rng=0)
    assert out.dtype == np.float32
    assert abs((out - x).mean()) < 0.002 and abs((out - x).std() - 0.05) < 0.002
    np.testing.assert_array_equal(A.GaussianNoise(std=0.5)(x, rng=1).clip(0, 1), A.GaussianNoise(0.5)(x, rng=1))


def test_gaussian_blur_matches_torch_conv():
    x = batch(n=4, c=2, h=9, w=11)
    t = A.GaussianBlur(kernel_size=5, sigma=(0.5, 2.0))
    sigma = np.random.default_rng(9).uniform(0.5, 2.0, 4)
    out = t(x, rng=9)
    for i in range(4):
        k = np.exp(-np.arange(-2, 3) ** 2 / (2 * sigma[i] ** 2))
        k = torch.tensor(np.outer(k, k) / k.sum() ** 2, dtype=torch.float32)
        padded = torch.nn.functional.pad(torch.from_numpy(x[i:i + 1]), (2, 2, 2, 2), mode="reflect")
        ref = torch.nn.functional.conv2d(padded, k.expand(2, 1, 5, 5), groups=2)
        np.testing.assert_allclose(out[i], ref[0].numpy(), atol=1e-5)


def test_gaussian_blur_takes_torchvision_arguments():
    """``kernel_size=(kx, ky)`` (width first) and a single ``sigma`` (fixed), as torchvision's GaussianBlur."""
    x = batch(n=2, c=2, h=9, w=11)
    out = A.GaussianBlur(kernel_size=(5, 3), sigma=1.2)(x, rng=0)
    kx, ky = (np.exp(-np.arange(-r, r + 1) ** 2 / (2 * 1.2 ** 2)) for r in (2, 1))
    k = torch.tensor(np.outer(ky / ky.sum(), kx / kx.sum()), dtype=torch.float32)  # (3 rows, 5 columns)
    padded = torch.nn.functional.pad(torch.from_numpy(x), (2, 2, 1, 1), mode="reflect")
    ref = torch.nn.functional.conv2d(padded, k.expand(2, 1, 3, 5), groups=2)
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-5)
    for bad in (4, (3, 4), (3, 3, 3), 0):
        with pytest.raises(ValueError, match="kernel_size must be a positive odd integer"):
            A.GaussianBlur(kernel_size=bad)


def test_random_erasing_makes_one_rectangle():
    x = batch(n=200, c=1, h=20, w=20) * 0.5 + 0.5
    t = A.RandomErasing(p=0.5, scale=(0.05, 0.2), value=0.0)
    out = t(x, rng=0)
    erased = out == 0.0
    hit = erased.any(axis=(1, 2, 3))
    assert 0.4 < hit.mean() < 0.6
    np.testing.assert_array_equal(out[~erased], x[~erased])
    for box in erased[hit, 0]:
        rows, cols = np.nonzero(box.any(axis=1))[0], np.nonzero(box.any(axis=0))[0]
        assert box[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].all()  # a filled rectangle
        assert 0.02 <= box.mean() <= 0.3


def test_random_erasing_fill_values_as_torchvision():
    x = batch(n=6, c=3)
    per_channel = A.RandomErasing(p=1.0, value=(0.1, 0.2, 0.3))(x, rng=2)
    erased = (per_channel != x).any(axis=1)  # (N, H, W) boxes
    assert erased.any(axis=(1, 2)).all()
    for ch, v in enumerate((0.1, 0.2, 0.3)):
        np.testing.assert_allclose(per_channel[:, ch][erased], v, rtol=1e-6)
    before = x.copy()
    noisy = A.RandomErasing(p=1.0, value="random", inplace=True)(x, rng=2)
    assert noisy.dtype == np.float32 and (noisy != x).any(axis=1).sum() == erased.sum()  # same boxes, drawn first
    np.testing.assert_array_equal(x, before)  # ``inplace`` is accepted, the batch is not modified
    with pytest.raises(ValueError, match="'random'"):
        A.RandomErasing(value="noise")


def test_normalize():
    x = batch()
    out = A.Normalize([0.1, 0.2, 0.3], [0.5, 0.25, 2.0])(x)
    np.testing.assert_allclose(out, (x - np.array([0.1, 0.2, 0.3])[:, None, None]) /
                               np.array([0.5, 0.25, 2.0])[:, None, None], rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="has 2 channel statistics, images have 3"):
        A.Normalize([0, 0], [1, 1])(x)


@pytest.mark.parametrize("cls", [A.MixUp, A.CutMix])
def test_mixing_labels_sum_to_one_and_match_the_pixels(cls):
    n = 12
    x = np.arange(n, dtype=np.float32)[:, None, None, None] * np.ones((1, 2, 8, 10), np.float32)
    labels = np.arange(n)
    images, soft = cls(alpha=1.0, num_classes=n)(x, labels, rng=0)
    assert soft.dtype == np.float32 and soft.shape == (n, n)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    assert (soft >= 0).all()
    # image i is made of constant images k with the weights of its soft label: the mean pixel agrees
    np.testing.assert_allclose(images.mean(axis=(1, 2, 3)), soft @ np.arange(n), rtol=1e-5, atol=1e-5)


def test_mixing_accepts_soft_labels_and_checks_inputs():
    soft = np.eye(4, dtype=np.float32)[[0, 1, 2, 3]]
    _, out = A.MixUp(num_classes=4)(batch(n=4), soft, rng=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="num_classes is needed"):
        A.CutMix()(batch(n=4), np.arange(4), rng=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        A.MixUp(num_classes=3)(batch(n=4), np.arange(4), rng=0)


def test_cross_entropy_accepts_the_soft_labels():
    import slimgrad as sg
    import slimgrad.functional as F

    logits = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    _, soft = A.MixUp(num_classes=5)(batch(n=6), np.arange(6) % 5, rng=0)
    ours = F.cross_entropy(sg.tensor(logits), sg.tensor(soft)).item()
    ref = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(soft)).item()
    assert abs(ours - ref) < 1e-5


def test_random_apply_and_choice():
    x = batch(n=300, c=1, h=4, w=5)
    out = A.RandomApply([A.RandomHorizontalFlip(p=1.0)], p=0.25)(x, rng=0)
    flipped = (out != x).any(axis=(1, 2, 3))
    np.testing.assert_array_equal(out[flipped], x[flipped][..., ::-1])
    assert 0.18 < flipped.mean() < 0.32
    np.testing.assert_array_equal(A.RandomApply(A.GaussianNoise(0.3), p=0.0)(x, rng=0), x)
    both = A.RandomChoice([A.RandomHorizontalFlip(p=1.0), A.RandomVerticalFlip(p=1.0)])(x, rng=0)
    is_h = (both == x[..., ::-1]).all(axis=(1, 2, 3))
    is_v = (both == x[..., ::-1, :]).all(axis=(1, 2, 3))
    assert (is_h | is_v).all() and 0.35 < is_h.mean() < 0.65
    _, soft = A.RandomApply(A.MixUp(num_classes=3), p=0.5)(x[:6], labels=np.arange(6) % 3, rng=0)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)


ALL = [A.ColorJitter(0.5, 0.5, 0.5), A.GaussianNoise(0.2), A.GaussianBlur(5), A.RandomErasing(p=1.0),
       A.RandomAffine(30, (0.2, 0.2), (0.7, 1.3), 20), A.ElasticTransform(), A.RandomResizedCrop(),
       A.RandomCrop(padding=2, padding_mode="symmetric"), A.parse_augment("heavy"),
       A.parse_augment("jitter=0.4,blur=2,hflip=0.5,vflip=0.5,crop=2,resized=0.5")]


@given(index=st.integers(0, len(ALL) - 1), seed=st.integers(0, 2**20), channels=st.sampled_from([1, 3]))
def test_value_range_dtype_shape_and_determinism(index, seed, channels):
    t = ALL[index]
    x = batch(n=5, c=channels, h=12, w=12, seed=seed)
    a, b = t(x, rng=seed), t(x, rng=seed)
    assert a.dtype == np.float32 and a.shape == x.shape
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)


def test_photometric_identity_at_zero_strength():
    x = batch()
    m = np.zeros((8, 10, 12), np.int64)
    for t in [A.ColorJitter(), A.GaussianNoise(0.0), A.RandomErasing(p=0.0), A.GaussianBlur(1),
              A.parse_augment("none"), A.Compose([])]:
        out, mo = t(x, m, rng=0)
        np.testing.assert_allclose(out, x, atol=1e-6, err_msg=repr(t))
        assert mo is m


def test_parse_augment_specs_and_presets():
    t = A.parse_augment("rotate=15,translate=0.1,erase=0.25")
    kinds = [type(s).__name__ for s in t.transforms]
    assert kinds == ["RandomAffine", "RandomErasing"]
    assert t.transforms[0].degrees == (-15.0, 15.0) and t.transforms[0].translate == (0.1, 0.1)
    assert t.transforms[1].p == 0.25
    assert set(A.PRESETS) == {"none", "light", "standard", "heavy"}
    assert len(A.parse_augment("none")) == 0 and len(A.parse_augment("light")) == 1
    mixed = A.parse_augment("light,mixup=0.2,cutmix=1", num_classes=10)
    assert [type(s).__name__ for s in mixed.transforms] == ["RandomAffine", "MixUp", "CutMix"]
    assert mixed.transforms[1].num_classes == 10
    for bad, msg in [("spin=3", "unknown key 'spin'"), ("rotate=x", "rotate needs a number"),
                     ("erase=2", r"erase must be in \[0, 1\]"), ("medium", "expected key=value or a preset")]:
        with pytest.raises(ValueError, match=msg):
            A.parse_augment(bad)


def test_standard_preset_on_mnist_batch():
    from slimgrad.data import get_dataset

    train, _, _ = get_dataset("mnist-5k")
    x = train.arrays[0][:64]
    out = A.parse_augment("standard")(x, rng=0)
    assert out.shape == x.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert not np.array_equal(out, x)
    # digits stay mostly where they were: augmented ink overlaps the original ink
    overlap = ((out > 0.5) & (x > 0.5)).sum(axis=(1, 2, 3)) / np.maximum((x > 0.5).sum(axis=(1, 2, 3)), 1)
    assert np.median(overlap) > 0.3


def test_show_grid_writes_png(tmp_path):
    from PIL import Image

    x = batch(n=6, c=1, h=8, w=8)
    path = A.show_grid(x, A.RandomRotation(30)(x, rng=0), tmp_path / "sub" / "grid.png")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1] > 100
    A.show_grid(batch(n=3), batch(n=3, seed=1) * 4 - 2, tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="equal N"):
        A.show_grid(x, x[:2], tmp_path / "bad.png")
