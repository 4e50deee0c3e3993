"""Per-channel normalisation statistics, computed on a training split (never on the test split)."""
from __future__ import annotations

import numpy as np


def channel_stats(data, batch_size: int = 4096) -> tuple:
    """Per-channel ``(mean, std)`` lists of an (N, C, H, W) array or a dataset whose first array is images.

    ``mean_c = E[x_c]``, ``std_c = sqrt(E[x_c^2] - mean_c^2)`` over samples and pixels, accumulated in
    float64 over chunks of ``batch_size`` samples so large sets need no float64 copy.
    """
    if isinstance(data, np.ndarray):
        get = lambda idx: data[idx]  # noqa: E731
        n = len(data)
    else:
        get = lambda idx: np.asarray(data.get_batch(idx)[0])  # noqa: E731
        n = len(data)
    if n == 0:
        raise ValueError("channel_stats: the data is empty")
    total = total_sq = None
    count = 0
    for start in range(0, n, batch_size):  # chunks, not samples
        x = get(np.arange(start, min(start + batch_size, n)))
        if x.ndim != 4:
            raise ValueError(f"channel_stats: expected images (N, C, H, W), got shape {x.shape}")
        s = x.sum(axis=(0, 2, 3), dtype=np.float64)
        sq = np.square(x, dtype=np.float64).sum(axis=(0, 2, 3))
        total = s if total is None else total + s
        total_sq = sq if total_sq is None else total_sq + sq
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
    return mean.tolist(), std.tolist()


def normalization(train_dataset):
    """A :class:`~slimgrad.data.augment.Normalize` with the statistics of ``train_dataset``."""
    from .augment import Normalize

    mean, std = channel_stats(train_dataset)
    return Normalize(mean, [max(s, 1e-8) for s in std])
