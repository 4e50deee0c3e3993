"""Datasets: indexable collections of samples, with a batch path that needs no per-sample Python.

A dataset returns one sample (a tuple of arrays) from ``dataset[i]``. Array-backed datasets also implement
``get_batch(indices)``, which gathers a whole batch with one fancy-indexing operation per array; the
:class:`~slimgrad.data.loader.DataLoader` uses it, so a batch of 256 costs one ``array[indices]`` rather than
256 Python calls. Other datasets inherit a ``get_batch`` that stacks ``dataset[i]`` sample by sample.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Tensor
from ..backend import default_rng


class Dataset:
    """Base class: subclasses implement ``__getitem__(i) -> tuple of arrays`` and ``__len__``."""

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def get_batch(self, indices: np.ndarray) -> tuple:
        """The samples at ``indices`` as a tuple of stacked arrays (slow path: one Python call per sample)."""
        samples = [self[int(i)] for i in indices]
        if not samples:
            raise ValueError(f"{type(self).__name__}.get_batch: indices is empty")
        if not isinstance(samples[0], tuple):
            return (np.stack([np.asarray(s) for s in samples]),)
        return tuple(np.stack([np.asarray(s[k]) for s in samples]) for k in range(len(samples[0])))

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays (or Tensors): ``dataset[i] = (a[i], b[i], ...)``.

    The usual pair is ``(images, labels)``: images float32 NCHW and labels int64 ``(N,)``; a segmentation
    set holds ``(images, masks)`` with int64 masks ``(N, H, W)``. Optional ``classes`` names the labels.
    """

    def __init__(self, *arrays, classes=None):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, got none")
        self.arrays = tuple(a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
        n = len(self.arrays[0])
        for k, a in enumerate(self.arrays):
            if a.ndim == 0 or len(a) != n:
                raise ValueError(
                    f"TensorDataset: all arrays must have the same first dimension; array 0 has {n} rows, "
                    f"array {k} has shape {a.shape}")
        self.classes = list(classes) if classes is not None else None

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def get_batch(self, indices: np.ndarray) -> tuple:
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        if self.indices.ndim != 1:
            raise ValueError(f"Subset: indices must be one-dimensional, got shape {self.indices.shape}")
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of {n} samples")

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices: np.ndarray) -> tuple:
        return self.dataset.get_batch(self.indices[indices])

    @property
    def classes(self):
        return getattr(self.dataset, "classes", None)


class ConcatDataset(Dataset):
    """Datasets one after the other: index ``i`` falls in the dataset whose cumulative size passes ``i``."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: expected at least one dataset, got none")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets])

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def _locate(self, indices: np.ndarray):
        which = np.searchsorted(self.cumulative_sizes, indices, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        return which, indices - starts[which]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for {n} samples")
        which, local = self._locate(np.asarray([index % n]))
        return self.datasets[int(which[0])][int(local[0])]

    def get_batch(self, indices: np.ndarray) -> tuple:
        indices = np.asarray(indices, dtype=np.int64) % len(self)
        which, local = self._locate(indices)
        parts, order = [], []
        for k in np.unique(which):  # one gather per member dataset, then restore the batch order
            sel = np.nonzero(which == k)[0]
            parts.append(self.datasets[int(k)].get_batch(local[sel]))
            order.append(sel)
        order = np.concatenate(order)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return tuple(np.concatenate([p[j] for p in parts])[inverse] for j in range(len(parts[0])))


def random_split(dataset: Dataset, lengths, seed: int | None = None, generator=None) -> list:
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions in [0, 1] summing to 1 (PyTorch's rule:
    ``floor(n * f)`` each, then the remainder handed out one by one from the first subset). The permutation
    comes from ``seed``, or ``generator`` (a ``numpy.random.Generator``), or else the global generator that
    ``slimgrad.manual_seed`` seeds, so the split is reproducible.
    """
    n = len(dataset)
    lengths = list(lengths)
    try:
        total = float(sum(lengths))
    except TypeError:
        raise ValueError(f"random_split: lengths must be numbers, got {lengths!r}") from None
    if lengths and math.isclose(total, 1.0, rel_tol=1e-6):
        for i, f in enumerate(lengths):
            if not 0.0 <= float(f) <= 1.0:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {f}")
        counts = [int(math.floor(n * float(f))) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(
            f"random_split: lengths must be non-negative counts summing to the dataset size {n} "
            f"(or fractions summing to 1), got {lengths}")
    if seed is not None:
        rng = np.random.default_rng(seed)
    elif generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"random_split: generator must be a numpy.random.Generator, got {type(generator).__name__}")
        rng = generator
    else:
        rng = default_rng()
    perm = rng.permutation(n)
    bounds = np.cumsum([0] + [int(x) for x in lengths])
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
