"""DataLoader: complete epochs, seeded order, resumable position, deterministic augmentation, workers."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
from slimgrad.data import DataLoader, Dataset, TensorDataset
from slimgrad.data.augment import Compose, GaussianNoise, MixUp, RandomAffine


def make_dataset(n, h=6, w=5):
    images = np.arange(n, dtype=np.float32)[:, None, None, None] * np.ones((1, 1, h, w), np.float32) / max(n, 1)
    return TensorDataset(images, np.arange(n, dtype=np.int64))


def labels_of(batches):
    return [b[1].numpy() for b in batches]


@given(n=st.integers(1, 60), batch_size=st.integers(1, 17), drop_last=st.booleans(), shuffle=st.booleans(),
       seed=st.integers(0, 2**16))
def test_every_index_once_per_epoch(n, batch_size, drop_last, shuffle, seed):
    loader = DataLoader(make_dataset(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    seen = labels_of(loader)
    assert len(seen) == len(loader)
    assert all(len(s) == batch_size for s in seen[:-1] if s is not None)
    flat = np.concatenate(seen) if seen else np.array([], np.int64)
    assert len(np.unique(flat)) == len(flat)
    if drop_last:
        assert len(flat) == (n // batch_size) * batch_size and all(len(s) == batch_size for s in seen)
    else:
        np.testing.assert_array_equal(np.sort(flat), np.arange(n))
    if not shuffle:
        np.testing.assert_array_equal(flat, np.arange(len(flat)))


def test_batches_are_tensors_with_dtypes():
    x, y = next(iter(DataLoader(make_dataset(10), batch_size=4)))
    assert isinstance(x, sg.Tensor) and isinstance(y, sg.Tensor)
    assert x.dtype == np.float32 and x.shape == (4, 1, 6, 5) and y.dtype == np.int64
    assert not x.requires_grad


def test_same_seed_same_order_different_epochs_differ():
    ds = make_dataset(40)
    a = np.concatenate(labels_of(DataLoader(ds, batch_size=8, shuffle=True, seed=3)))
    b = np.concatenate(labels_of(DataLoader(ds, batch_size=8, shuffle=True, seed=3)))
    np.testing.assert_array_equal(a, b)
    c = np.concatenate(labels_of(DataLoader(ds, batch_size=8, shuffle=True, seed=4)))
    assert not np.array_equal(a, c)
    loader = DataLoader(ds, batch_size=8, shuffle=True, seed=3)
    e0 = np.concatenate(labels_of(loader))
    assert loader.state_dict() == {"epoch": 1, "batch_index": 0, "seed": 3}
    e1 = np.concatenate(labels_of(loader))
    np.testing.assert_array_equal(e0, a)
    assert not np.array_equal(e0, e1) and np.array_equal(np.sort(e1), np.arange(40))
    loader.set_epoch(0)
    np.testing.assert_array_equal(np.concatenate(labels_of(loader)), e0)


def test_seed_none_follows_manual_seed():
    ds = make_dataset(30)
    sg.manual_seed(11)
    a = np.concatenate(labels_of(DataLoader(ds, batch_size=7, shuffle=True)))
    sg.manual_seed(11)
    b = np.concatenate(labels_of(DataLoader(ds, batch_size=7, shuffle=True)))
    np.testing.assert_array_equal(a, b)


AUG = Compose([RandomAffine(degrees=20, translate=0.2), GaussianNoise(0.05)])


@pytest.mark.parametrize("stop", [0, 1, 3, 4])
def test_resume_mid_epoch_gives_identical_batches(stop):
    ds = make_dataset(37)
    full = DataLoader(ds, batch_size=8, shuffle=True, seed=5, transform=AUG)
    list(full)  # epoch 0
    reference = [(x.numpy(), y.numpy()) for x, y in full]  # epoch 1

    run = DataLoader(ds, batch_size=8, shuffle=True, seed=5, transform=AUG)
    list(run)
    for i, _ in enumerate(run):
        if i == stop:
            break  # a checkpoint written after processing batch `stop`
    state = json.loads(json.dumps(run.state_dict()))
    assert state == {"epoch": 1 if stop < 4 else 2, "batch_index": (stop + 1) % 5, "seed": 5}
    resumed = DataLoader(ds, batch_size=8, shuffle=True, seed=999, transform=AUG)
    resumed.load_state_dict(state)
    resumed.set_epoch(state["epoch"])  # a trainer's per-epoch call must not rewind a resumed position
    rest = [(x.numpy(), y.numpy()) for x, y in resumed]
    expected = reference[stop + 1:] if stop < 4 else []
    if stop == 4:  # resuming after the last batch starts epoch 2 from its beginning
        assert len(rest) == 5
        return
    assert len(rest) == len(expected)
    for (xa, ya), (xb, yb) in zip(rest, expected):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)


def test_load_state_dict_validates():
    loader = DataLoader(make_dataset(10), batch_size=4)
    with pytest.raises(KeyError, match="seed"):
        loader.load_state_dict({"epoch": 0, "batch_index": 0})
    with pytest.raises(ValueError, match="batch_index <= 3"):
        loader.load_state_dict({"epoch": 0, "batch_index": 9, "seed": 0})


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_identical_to_main_thread(workers):
    ds = make_dataset(50)
    kwargs = dict(batch_size=6, shuffle=True, seed=2, transform=AUG)
    a = [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, num_workers=0, **kwargs)]
    b = [(x.numpy(), y.numpy()) for x, y in DataLoader(ds, num_workers=workers, **kwargs)]
    assert len(a) == len(b) == 9
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_workers_early_break_keeps_position_for_a_checkpoint():
    loader = DataLoader(make_dataset(50), batch_size=5, num_workers=2)
    for i, _ in enumerate(loader):
        if i == 2:
            break
    state = loader.state_dict()
    assert state == {"epoch": 0, "batch_index": 3, "seed": loader.seed}
    loader.load_state_dict(state)  # restoring the position resumes mid-epoch
    assert next(iter(loader))[1].numpy()[0] == 15


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_new_iteration_is_a_whole_epoch_after_an_abandoned_one(shuffle):
    """As in PyTorch: peeking at one batch does not eat into the next loop over the loader."""
    loader = DataLoader(make_dataset(10), batch_size=3, shuffle=shuffle, seed=4)
    first, _ = next(iter(loader))
    batches = labels_of(loader)
    assert [len(b) for b in batches] == [3, 3, 3, 1] == [len(b) for b in labels_of(loader)]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))
    if not shuffle:
        np.testing.assert_array_equal(batches[0], [0, 1, 2])
    loader.set_epoch(0)  # an explicit epoch starts at its first batch
    np.testing.assert_array_equal(labels_of(loader)[0], labels_of(DataLoader(make_dataset(10), batch_size=3,
                                                                            shuffle=shuffle, seed=4))[0])


def test_augmentation_differs_between_batches_and_epochs():
    ds = TensorDataset(np.full((8, 1, 6, 6), 0.5, np.float32), np.zeros(8, np.int64))
    loader = DataLoader(ds, batch_size=4, seed=0, transform=GaussianNoise(0.1))
    e0 = [x.numpy() for x, _ in loader]
    e1 = [x.numpy() for x, _ in loader]
    assert not np.array_equal(e0[0], e0[1]) and not np.array_equal(e0[0], e1[0])


def test_mixup_in_loader_gives_soft_labels():
    loader = DataLoader(make_dataset(12), batch_size=6, seed=0, transform=MixUp(alpha=1.0, num_classes=12))
    x, y = next(iter(loader))
    assert y.dtype == np.float32 and y.shape == (6, 12)
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, rtol=1e-6)


def test_segmentation_masks_follow_images():
    images = np.zeros((4, 1, 9, 9), np.float32)
    masks = np.zeros((4, 9, 9), np.int64)
    images[:, 0, 2:5, 4:7] = 1.0  # a 3x3 blob: nearest sampling of a single pixel may miss it under rotation
    masks[:, 2:5, 4:7] = 3
    loader = DataLoader(TensorDataset(images, masks), batch_size=4, seed=1,
                        transform=RandomAffine(degrees=90, translate=0.2))
    x, m = next(iter(loader))
    assert m.dtype == np.int64 and m.shape == (4, 9, 9)
    for img, mask in zip(x.numpy()[:, 0], m.numpy()):
        assert img.max() > 0.99 and mask[np.unravel_index(img.argmax(), img.shape)] == 3


class SlowPath(Dataset):
    def __getitem__(self, i):
        return np.full((1, 2, 2), i, np.float32), np.int64(i)

    def __len__(self):
        return 7


def test_plain_dataset_and_callable_transform():
    loader = DataLoader(SlowPath(), batch_size=3, transform=lambda images: images * 2)
    x, y = list(loader)[-1]
    np.testing.assert_array_equal(y.numpy(), [6])
    np.testing.assert_array_equal(x.numpy()[:, 0, 0, 0], [12.0])


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLoader(make_dataset(3), batch_size=0)
    with pytest.raises(TypeError, match="transform must be callable"):
        DataLoader(make_dataset(3), transform=3)
