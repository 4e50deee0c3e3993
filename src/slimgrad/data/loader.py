"""DataLoader: seeded, resumable batches built by one gather per batch, with optional thread prefetch.

Order. Epoch ``e`` visits the samples in the permutation drawn from ``numpy.random.default_rng([seed, e])``
(the identity when ``shuffle=False``): a pure function of ``(seed, epoch)``, so any run can be reproduced and
resumed. The loader's position is ``{'epoch', 'batch_index', 'seed'}`` (:meth:`state_dict`), always pointing at
the *next* batch: after the last batch of epoch ``e`` it reads ``(e + 1, 0)``, so ``for epoch in range(E): for
batch in loader: ...`` sees a fresh order each epoch. As in PyTorch every new iteration yields a whole epoch:
one abandoned part-way (``next(iter(loader))``, a ``break``) leaves its position readable for a checkpoint,
but the next iteration starts the following epoch. Only a position restored by :meth:`load_state_dict`
resumes mid-epoch.

Augmentation. ``transform`` runs on the whole batch of NumPy images with the generator
``default_rng([seed, epoch, batch_index, 0x5EED])``, so a resumed run sees identical augmented batches. A
:class:`~slimgrad.data.augment.Transform` is called as ``transform.apply(images, labels, masks, rng=rng)``;
the loader passes the dataset's second array as ``masks`` when it is ``(N, H, W)`` (segmentation) and as
``labels`` otherwise (MixUp/CutMix may turn labels into float32 soft labels ``(N, num_classes)``). A plain
callable gets ``transform(images)`` and returns images.

Workers. ``num_workers > 0`` builds batches ahead in that many threads (NumPy releases the GIL in its
kernels); every batch depends only on ``(seed, epoch, batch_index)``, so the results equal
``num_workers=0`` exactly.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..autograd import Tensor
from ..backend import default_rng

_AUGMENT_TAG = 0x5EED


class DataLoader:
    """Iterate over ``dataset`` in batches of Tensors (images float32 NCHW, labels int64).

    Args:
        dataset: a Dataset; array-backed ones (``get_batch``) are gathered without per-sample Python.
        batch_size: samples per batch.
        shuffle: visit the samples in a seeded random order that changes every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        transform: an augmentation applied to each whole batch (see the module docstring).
        seed: seeds the order and the augmentation; ``None`` draws one from the global generator
            (``slimgrad.manual_seed``) once, at construction.
        num_workers: threads that prepare batches ahead; 0 builds them in the calling thread.
        prefetch_factor: batches in flight per worker.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 transform=None, seed: int | None = None, num_workers: int = 0, prefetch_factor: int = 2):
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}")
        if prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be at least 1, got {prefetch_factor!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.seed = int(default_rng().integers(2**31)) if seed is None else int(seed)
        if self.seed < 0:
            raise ValueError(f"DataLoader: seed must be non-negative, got {seed}")
        self.num_workers = int(num_workers)
        self.prefetch_factor = int(prefetch_factor)
        self.epoch = 0
        self.batch_index = 0
        self._resume = False  # set by load_state_dict: the next iteration continues mid-epoch

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    # -- position ---------------------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Move to the start of ``epoch``; a no-op when a position restored by :meth:`load_state_dict` is in it
        (so a trainer's per-epoch call does not rewind a resumed run)."""
        if epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be non-negative, got {epoch}")
        if epoch != self.epoch or not self._resume:
            self.epoch, self.batch_index, self._resume = int(epoch), 0, False

    def state_dict(self) -> dict:
        """The position of the next batch, JSON-serialisable: ``{'epoch', 'batch_index', 'seed'}``."""
        return {"epoch": self.epoch, "batch_index": self.batch_index, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Resume at the position saved by :meth:`state_dict` (the next batch to produce)."""
        missing = {"epoch", "batch_index", "seed"} - set(state)
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        epoch, batch_index = int(state["epoch"]), int(state["batch_index"])
        if epoch < 0 or not 0 <= batch_index <= len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: expected epoch >= 0 and 0 <= batch_index <= {len(self)}, "
                f"got epoch={epoch}, batch_index={batch_index}")
        self.seed, self.epoch, self.batch_index = int(state["seed"]), epoch, batch_index
        if self.batch_index == len(self):
            self.epoch, self.batch_index = self.epoch + 1, 0
        self._resume = True

    # -- order and batches ------------------------------------------------------------------------------
    def epoch_order(self, epoch: int) -> np.ndarray:
        """The sample order of ``epoch``: a pure function of ``(seed, epoch)``."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

    def batch_indices(self, epoch: int, batch_index: int) -> np.ndarray:
        start = batch_index * self.batch_size
        return self.epoch_order(epoch)[start:start + self.batch_size]

    def augment_rng(self, epoch: int, batch_index: int) -> np.random.Generator:
        """The generator the transform gets for this batch."""
        return np.random.default_rng([self.seed, int(epoch), int(batch_index), _AUGMENT_TAG])

    def _build(self, epoch: int, batch_index: int, indices: np.ndarray) -> tuple:
        arrays = list(self.dataset.get_batch(indices))
        if self.transform is not None:
            arrays[0] = np.asarray(arrays[0])
            if hasattr(self.transform, "apply"):
                second = arrays[1] if len(arrays) > 1 else None
                is_mask = second is not None and np.ndim(second) == 3
                images, labels, masks = self.transform.apply(
                    arrays[0], None if is_mask else second, second if is_mask else None,
                    rng=self.augment_rng(epoch, batch_index))
                arrays[0] = images
                if second is not None:
                    arrays[1] = masks if is_mask else labels
            else:
                arrays[0] = self.transform(arrays[0])
        return tuple(Tensor._wrap(np.ascontiguousarray(a)) for a in arrays)

    def __iter__(self):
        if self.batch_index and not self._resume:  # the last iteration was abandoned: a new one is a new epoch
            self.epoch, self.batch_index = self.epoch + 1, 0
        self._resume = False
        epoch, start, count = self.epoch, self.batch_index, len(self)
        order = self.epoch_order(epoch)

        def job(b):
            return self._build(epoch, b, order[b * self.batch_size:(b + 1) * self.batch_size])

        def advance(b):  # position of the next batch, rolling over to the next epoch after the last
            self.epoch, self.batch_index = (epoch + 1, 0) if b + 1 >= count else (epoch, b + 1)

        if start >= count:  # an empty epoch (dataset smaller than one dropped batch): just move on
            self.epoch, self.batch_index = epoch + 1, 0
            return
        if self.num_workers == 0:
            for b in range(start, count):
                batch = job(b)
                advance(b)
                yield batch
            return
        pool = ThreadPoolExecutor(max_workers=self.num_workers, thread_name_prefix="slimgrad-data")
        try:
            ahead = self.num_workers * self.prefetch_factor
            pending = {b: pool.submit(job, b) for b in range(start, min(start + ahead, count))}
            for b in range(start, count):
                batch = pending.pop(b).result()
                nxt = b + ahead
                if nxt < count:
                    pending[nxt] = pool.submit(job, nxt)
                advance(b)
                yield batch
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        return (f"DataLoader(batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"seed={self.seed}, num_workers={self.num_workers}, batches={len(self)})")
