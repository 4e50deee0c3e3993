"""Readers for IDX, CIFAR-10 python batches and image folders, on small files written in the real formats."""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest

from slimgrad.data import datasets, get_dataset
from slimgrad.data.formats import read_cifar_batch, read_idx


def write_idx(path, array, magic=None, compress=False, cut=0):
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else (0x0800 | array.ndim)
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()
    raw = raw[:len(raw) - cut]
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def make_idx_dir(root, n_train=6, n_test=4, compress=False, rng=np.random.default_rng(0)):
    root.mkdir(parents=True, exist_ok=True)
    data = {}
    for split, n, stem in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        gz = ".gz" if compress else ""
        write_idx(root / f"{stem}-images-idx3-ubyte{gz}", images, compress=compress)
        write_idx(root / f"{stem}-labels-idx1-ubyte{gz}", labels, compress=compress)
        data[split] = (images, labels)
    return data


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(write_idx(tmp_path / "x.idx", a, compress=compress), expected_magic=2051)
    np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "kmnist"])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_dataset_scaling_and_dtypes(tmp_path, name, compress):
    data = make_idx_dir(tmp_path / name, compress=compress)
    train, test = getattr(datasets, name)(tmp_path / name)
    x, y = train.get_batch(np.arange(len(train)))
    assert x.dtype == np.float32 and x.shape == (6, 1, 28, 28) and y.dtype == np.int64
    np.testing.assert_allclose(x[:, 0], data["train"][0] / np.float32(255.0), rtol=1e-6)
    np.testing.assert_array_equal(y, data["train"][1])
    assert len(test) == 4


def test_idx_wrong_magic(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros((5, 2, 2)), magic=2051)
    with pytest.raises(ValueError, match="expected 2049, got 2051"):
        read_idx(path, expected_magic=2049)
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 12)
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_truncated(tmp_path, compress):
    path = write_idx(tmp_path / "x", np.zeros((3, 28, 28)), compress=compress, cut=10)
    with pytest.raises(ValueError, match="truncated IDX data"):
        read_idx(path)
    header = write_idx(tmp_path / "h", np.zeros((3, 28, 28)), cut=3 * 28 * 28 + 6)
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(header)


def test_idx_truncated_gzip_stream(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((3, 28, 28)), compress=True)
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match="truncated gzip"):
        read_idx(path)


def test_idx_mismatched_counts(tmp_path):
    make_idx_dir(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5))
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        datasets.mnist(tmp_path)


def test_idx_missing_directory_names_files_and_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*zalandoresearch"):
        datasets.fashion_mnist(tmp_path / "nope")
    make_idx_dir(tmp_path / "partial")
    os.remove(tmp_path / "partial" / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        get_dataset("mnist", root=tmp_path / "partial")


def write_cifar_batch(path, n, rng, protocol=2):
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    entry = {b"batch_label": b"testing batch", b"labels": labels, b"data": data,
             b"filenames": [b"img%d.png" % i for i in range(n)]}
    with open(path, "wb") as f:
        pickle.dump(entry, f, protocol=protocol)
    return data, labels


def test_cifar10_reads_batches(tmp_path):
    rng = np.random.default_rng(1)
    parts = [write_cifar_batch(tmp_path / f"data_batch_{i}", 3, rng) for i in range(1, 6)]
    test_data, test_labels = write_cifar_batch(tmp_path / "test_batch", 2, rng, protocol=4)
    train, test, info = get_dataset("cifar10", root=tmp_path)
    x, y = train.get_batch(np.arange(len(train)))
    assert x.shape == (15, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    expected = np.concatenate([p[0] for p in parts]).reshape(-1, 3, 32, 32) / np.float32(255.0)
    np.testing.assert_allclose(x, expected, rtol=1e-6)
    np.testing.assert_array_equal(y, sum((p[1] for p in parts), []))
    np.testing.assert_array_equal(test.arrays[1], test_labels)
    assert info.in_channels == 3 and info.num_classes == 10 and info.image_size == (32, 32)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_refuses_other_globals(tmp_path):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match="refusing to unpickle global"):
        read_cifar_batch(path)


def test_cifar_bad_contents(tmp_path):
    path = tmp_path / "b"
    with open(path, "wb") as f:
        pickle.dump({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, f, protocol=2)
    with pytest.raises(ValueError, match=r"uint8 of shape \(N, 3072\)"):
        read_cifar_batch(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="not a readable CIFAR-10 batch"):
        read_cifar_batch(path)


def test_cifar_missing_files(tmp_path):
    write_cifar_batch(tmp_path / "data_batch_1", 2, np.random.default_rng(0))
    with pytest.raises(FileNotFoundError, match="data_batch_2.*cs.toronto.edu"):
        datasets.cifar10(tmp_path)


def test_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    written = {}
    for cls in ("cat", "dog", "emu"):
        (tmp_path / cls).mkdir()
        for i in range(4):
            arr = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / cls / f"{i}.png")
            written[(cls, i)] = arr
    train, test, info = get_dataset("image-folder", root=tmp_path, test_fraction=0.25)
    assert (len(train), len(test)) == (9, 3)
    assert info.classes == ("cat", "dog", "emu") and info.in_channels == 3 and info.image_size == (6, 5)
    x, y = train.get_batch(np.arange(9))
    assert x.dtype == np.float32 and y.dtype == np.int64 and set(y.tolist()) <= {0, 1, 2}
    originals = {arr.transpose(2, 0, 1).tobytes(): cls for (cls, _), arr in written.items()}
    for image, label in zip(x, y):  # every image is a written file, under its class's label
        key = np.rint(image * 255).astype(np.uint8).tobytes()
        assert info.classes[label] == originals[key]


def test_image_folder_sizes_and_errors(tmp_path):
    from PIL import Image

    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a" / "0.png")
    Image.fromarray(np.zeros((5, 4), np.uint8)).save(tmp_path / "a" / "1.png")
    with pytest.raises(ValueError, match="different sizes"):
        datasets.image_folder(tmp_path)
    train, test = datasets.image_folder(tmp_path, size=(3, 3), mode="L", test_fraction=0.5)
    assert train.arrays[0].shape == (1, 1, 3, 3)
    with pytest.raises(FileNotFoundError, match="one sub-folder per class"):
        datasets.image_folder(tmp_path / "missing")


def test_image_folder_train_test_subfolders_and_jpeg(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", 3), ("test", 2)):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(count):
                arr = np.full((8, 8, 3), rng.integers(0, 256), np.uint8)  # flat colour survives JPEG
                Image.fromarray(arr).save(tmp_path / split / cls / f"{i}.jpg", quality=95)
    train, test, info = get_dataset("image-folder", root=tmp_path)
    assert (len(train), len(test)) == (6, 4) and info.classes == ("a", "b")
    np.testing.assert_array_equal(test.arrays[1], [0, 0, 1, 1])
    x = train.arrays[0]
    assert x.shape == (6, 3, 8, 8) and np.ptp(x, axis=(2, 3)).max() < 0.05
