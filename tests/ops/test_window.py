"""Window helpers: argument normalisation, output size, strided window views, tap ranges, workspace cache."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from slimgrad.ops.window import (WorkspaceCache, conv_output_size, conv_padding, pair, positive_pair,
                                 sliding_windows, tap_range, tap_slices)


def test_pair_accepts_ints_and_pairs_and_rejects_the_rest():
    assert pair(3, "stride") == (3, 3)
    assert pair((2, 5), "stride") == (2, 5)
    assert pair([4], "stride") == (4, 4)
    for bad in [(1, 2, 3), "2", 1.5, (1, 2.0)]:
        with pytest.raises(ValueError, match="stride"):
            pair(bad, "stride")
    with pytest.raises(TypeError):
        pair(True, "stride")
    with pytest.raises(ValueError, match="non-positive dilation"):
        positive_pair((1, 0), "dilation")


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.integers(1, 4))
def test_same_padding_matches_torch_output_and_values(kh, kw, dh, dw):
    top, bottom, left, right = conv_padding("same", (kh, kw), (1, 1), (dh, dw))
    assert top + bottom == dh * (kh - 1) and left + right == dw * (kw - 1)
    assert bottom - top in (0, 1) and right - left in (0, 1)
    x = torch.randn(1, 1, 9, 8, dtype=torch.float64)
    w = torch.randn(1, 1, kh, kw, dtype=torch.float64)
    ref = TF.conv2d(x, w, padding="same", dilation=(dh, dw))
    explicit = TF.conv2d(TF.pad(x, (left, right, top, bottom)), w, dilation=(dh, dw))
    assert torch.allclose(ref, explicit)


def test_padding_forms():
    assert conv_padding("valid", (3, 3), (2, 2), (1, 1)) == (0, 0, 0, 0)
    assert conv_padding(2, (3, 3), (1, 1), (1, 1)) == (2, 2, 2, 2)
    assert conv_padding((1, 3), (3, 3), (1, 1), (1, 1)) == (1, 1, 3, 3)
    with pytest.raises(ValueError, match="strided"):
        conv_padding("same", (3, 3), (2, 1), (1, 1))
    with pytest.raises(ValueError, match="invalid padding string 'full'"):
        conv_padding("full", (3, 3), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="negative padding"):
        conv_padding((0, -1), (3, 3), (1, 1), (1, 1))


@given(st.integers(1, 30), st.integers(1, 6), st.integers(1, 4), st.integers(0, 4), st.integers(1, 4))
def test_output_size_counts_the_window_positions(size, k, s, p, d):
    positions = [start for start in range(0, size + 2 * p, s) if start + d * (k - 1) < size + 2 * p]
    if positions:
        assert conv_output_size(size, k, s, p, d) == len(positions)
    else:
        assert conv_output_size(size, k, s, p, d) <= 0


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.integers(5, 9), st.integers(5, 9))
def test_sliding_windows_is_the_explicit_window(kh, kw, sh, sw, dh, dw, h, w):
    x = np.arange(2 * 3 * h * w, dtype=np.float32).reshape(2, 3, h, w)
    if (kh - 1) * dh >= h or (kw - 1) * dw >= w:
        with pytest.raises(ValueError):
            sliding_windows(x, (kh, kw), (sh, sw), (dh, dw))
        return
    view = sliding_windows(x, (kh, kw), (sh, sw), (dh, dw))
    ho, wo = conv_output_size(h, kh, sh, 0, dh), conv_output_size(w, kw, sw, 0, dw)
    assert view.shape == (2, 3, kh, kw, ho, wo)
    assert not view.flags.writeable
    for i, j, y, z in itertools.product(range(kh), range(kw), range(ho), range(wo)):
        np.testing.assert_array_equal(view[:, :, i, j, y, z], x[:, :, y * sh + i * dh, z * sw + j * dw])


@given(st.integers(1, 9), st.integers(1, 9), st.integers(-6, 6), st.integers(1, 4))
def test_tap_range_selects_the_in_bounds_outputs(size_in, size_out, offset, stride):
    wanted = [o for o in range(size_out) if 0 <= o * stride + offset < size_in]
    lo, hi, first = tap_range(size_in, size_out, offset, stride)
    assert list(range(lo, hi)) == wanted
    sl = tap_slices(size_in, size_out, offset, stride)
    if wanted:
        assert first == wanted[0] * stride + offset
        assert list(range(size_in))[sl[1]] == [o * stride + offset for o in wanted]
    else:
        assert sl is None


def test_workspace_cache_reuses_and_stays_bounded():
    cache = WorkspaceCache(max_entries=3, max_bytes=1000)
    a = cache.get("a", (10,), np.float32, zero=True)
    assert not a.any()
    a[:] = 1
    assert cache.get("a", (10,), np.float32, zero=True) is a
    assert cache.get("a", (10,), np.float64) is not a  # dtype and zero-ness are part of the key
    for i in range(10):
        cache.get(("b", i), (20,), np.float32)
        assert len(cache) <= 3 and cache.nbytes <= 1000
    big = cache.get("big", (1000,), np.float32)  # larger than the cache: handed out, not kept
    assert big.shape == (1000,) and cache.nbytes <= 1000
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


@given(st.integers(1, 40), st.integers(1, 9))
def test_split_chunks_covers_the_batch_in_two_fixed_runs(n, nb):
    from slimgrad.ops.window import PARTS, part_chunk, split_chunks
    nb = part_chunk(n, nb)
    parts = split_chunks(n, nb)
    flat = [c for part in parts for c in part]
    assert flat[0][0] == 0 and flat[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(flat, flat[1:])) and all(n1 - n0 <= nb for n0, n1 in flat)
    assert len(parts) == min(PARTS, len(flat)) and len(parts) == min(2, n)
    assert len(parts[-1]) - len(parts[0]) in (0, 1)  # an odd chunk count puts the extra chunk in the last run
    sizes = [sum(n1 - n0 for n0, n1 in part) for part in parts]
    assert max(sizes) - min(sizes) <= nb  # the parts' samples agree to within one chunk


def test_part_chunk_evens_out_the_two_parts():
    from slimgrad.ops.window import part_chunk, split_chunks
    for n, target, nb, sizes in [(64, 20, 16, (32, 32)), (50, 12, 9, (27, 23)), (7, 3, 2, (4, 3)), (5, 2, 2, (2, 3))]:
        assert part_chunk(n, target) == nb
        assert tuple(sum(n1 - n0 for n0, n1 in part) for part in split_chunks(n, nb)) == sizes


def test_run_parts_keeps_part_order_with_one_or_two_workers():
    import threading
    from slimgrad.ops import window
    seen = []
    try:
        for workers in (1, 2):
            window.set_num_workers(workers)
            seen.append(window.run_parts(lambda i, chunks: (i, list(chunks), threading.current_thread().name),
                                         [[(0, 2), (2, 4)], [(4, 5)]]))
    finally:
        window.set_num_workers(None)
    assert [r[:2] for r in seen[0]] == [r[:2] for r in seen[1]] == [(0, [(0, 2), (2, 4)]), (1, [(4, 5)])]
    assert seen[1][1][2].startswith("slimgrad-conv")  # the second part ran on the pool thread
    with pytest.raises(ValueError, match="set_num_workers"):
        window.set_num_workers(0)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_conv_runs_in_a_forked_child_after_the_pool_started():
    """A data-loader worker forked after the conv threads started must not wait on the parent's threads."""
    import multiprocessing as mp
    from slimgrad.ops import window
    from slimgrad.ops.conv import conv2d
    x = np.ones((4, 2, 5, 5), np.float32)
    w = np.ones((3, 2, 3, 3), np.float32)
    window.set_num_workers(2)
    min_bytes, window.PARALLEL_MIN_BYTES = window.PARALLEL_MIN_BYTES, 0
    try:
        expected = conv2d(x, w, padding=1).data  # starts the pool in this process
        with mp.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(_conv_in_child, (x, w)).get(timeout=60)
    finally:
        window.set_num_workers(None)
        window.PARALLEL_MIN_BYTES = min_bytes
    np.testing.assert_array_equal(got, expected)


def _conv_in_child(x, w):
    from slimgrad.ops import window
    from slimgrad.ops.conv import conv2d
    window.set_num_workers(2)
    return conv2d(x, w, padding=1).data
