"""Winograd F(2x2, 3x3) path of conv2d: against PyTorch (outputs, input/weight/bias gradients) on
configurations that take it, float64 gradcheck, float32 accuracy, chunking, worker-count invariance, memory."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.functional as F
from slimgrad.ops import conv_winograd, window
from slimgrad.ops.conv import conv2d
from slimgrad.ops.conv_kernels import ConvGeometry
from slimgrad.ops.window import conv_output_size, conv_padding, pair
from helpers import (assert_both_reject, assert_memory_steady, assert_same_with_workers, check_gradients,
                     compare_with_torch)


TILE_WASTE = conv_winograd.MAX_TILE_WASTE  # the real limit (the fixture below lifts it)


@pytest.fixture(autouse=True)
def small_images_take_winograd(monkeypatch):
    """The tests run the Winograd path on small, fast images, which it would otherwise leave to the direct path
    (too many spare tiles); :func:`test_which_shapes_take_the_winograd_path` checks the real limit."""
    monkeypatch.setattr(conv_winograd, "MAX_TILE_WASTE", float("inf"))


def _out_size(x_shape, padding, dilation):
    dil = pair(dilation, "dilation")
    pads = conv_padding(padding, (3, 3), (1, 1), dil)
    return (conv_output_size(x_shape[2], 3, 1, pads[0], dil[0], pads[1]),
            conv_output_size(x_shape[3], 3, 1, pads[2], dil[1], pads[3])), dil, pads


def _takes_winograd(x_shape, w_shape, padding, dilation) -> bool:
    out, dil, pads = _out_size(x_shape, padding, dilation)
    if min(out) < 1:
        return False
    return conv_winograd.usable(x_shape, w_shape, ConvGeometry((3, 3), (1, 1), dil, (pads[0], pads[2]), 1), out)


config = st.fixed_dictionaries({
    "n": st.integers(1, 3), "c": st.integers(16, 40), "o": st.integers(64, 80),
    "h": st.integers(2, 13), "w": st.integers(2, 13),
    "padding": st.one_of(st.integers(0, 4), st.tuples(st.integers(0, 4), st.integers(0, 4)),
                         st.sampled_from(["same", "valid"])),
    "dilation": st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    "bias": st.booleans(), "seed": st.integers(0, 2 ** 16),
})


def _arrays(cfg, dtype):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(dtype)
    w = (rng.standard_normal((cfg["o"], cfg["c"], 3, 3)) / np.sqrt(9 * cfg["c"])).astype(dtype)
    b = rng.standard_normal(cfg["o"]).astype(dtype)
    return [x, w, b] if cfg["bias"] else [x, w]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=30)
@given(config, st.sampled_from([np.float32, np.float64]))
def test_winograd_conv2d_matches_torch(cfg, dtype):
    kw = dict(padding=cfg["padding"], dilation=cfg["dilation"])
    arrays = _arrays(cfg, dtype)
    if min(_out_size(arrays[0].shape, cfg["padding"], cfg["dilation"])[0]) < 1:
        # the dilated kernel does not fit the padded input: both refuse
        assert_both_reject(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), arrays)
        return
    # outputs of at least 2x2 take the Winograd path; smaller ones the direct path (compared all the same)
    assert _takes_winograd(arrays[0].shape, arrays[1].shape, cfg["padding"], cfg["dilation"]) == \
        (min(_out_size(arrays[0].shape, cfg["padding"], cfg["dilation"])[0]) >= 2)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    compare_with_torch(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), arrays, **tol)


def test_which_shapes_take_the_winograd_path(monkeypatch):
    monkeypatch.setattr(conv_winograd, "MAX_TILE_WASTE", TILE_WASTE)
    assert _takes_winograd((64, 32, 28, 28), (64, 32, 3, 3), 1, 1)          # W1
    assert _takes_winograd((4, 16, 56, 56), (64, 16, 3, 3), 1, 1)
    assert not _takes_winograd((64, 32, 14, 14), (64, 32, 3, 3), 1, 1)     # 64 tiles computed for 49: direct
    assert not _takes_winograd((64, 32, 7, 7), (64, 32, 3, 3), 1, 1)
    assert _takes_winograd((16, 32, 64, 64), (32, 32, 3, 3), 2, 2)          # W4 (dilated)
    assert not _takes_winograd((8, 3, 28, 28), (32, 3, 3, 3), 1, 1)         # too few channels: direct path
    geo = ConvGeometry((5, 5), (1, 1), (1, 1), (2, 2), 1)
    assert not conv_winograd.usable((8, 64, 28, 28), (64, 64, 5, 5), geo, (28, 28))  # 5x5: direct path
    geo = ConvGeometry((3, 3), (2, 2), (1, 1), (1, 1), 1)
    assert not conv_winograd.usable((8, 32, 28, 28), (64, 32, 3, 3), geo, (14, 14))  # strided: direct path
    geo = ConvGeometry((3, 3), (1, 1), (1, 1), (1, 1), 2)
    assert not conv_winograd.usable((8, 64, 28, 28), (64, 32, 3, 3), geo, (28, 28))  # grouped: direct path
    geo = ConvGeometry((3, 3), (1, 1), (1, 1), (1, 1), 1)
    assert conv_winograd.usable((1, 64, 112, 112), (64, 64, 3, 3), geo, (112, 112))
    assert not conv_winograd.usable((1, 64, 224, 224), (64, 64, 3, 3), geo, (224, 224))  # 165 MB of tiles per sample


def test_float32_error_is_that_of_a_direct_convolution():
    """Against a float64 reference, the float32 Winograd output and gradients stay within a few ulps of the
    result's scale (the transforms only add, subtract and halve)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 32, 16, 16))
    w = rng.standard_normal((64, 32, 3, 3)) / np.sqrt(288)
    g = rng.standard_normal((4, 64, 16, 16))
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ref = TF.conv2d(tx, tw, padding=1)
    ref.backward(torch.tensor(g))
    sx, sw = sg.tensor(x.astype(np.float32), requires_grad=True), sg.tensor(w.astype(np.float32), requires_grad=True)
    out = conv2d(sx, sw, padding=1)
    out.backward(g.astype(np.float32))
    for mine, theirs in [(out.data, ref.detach().numpy()), (sx.grad.data, tx.grad.numpy()),
                         (sw.grad.data, tw.grad.numpy())]:
        assert np.abs(mine - theirs).max() <= 2e-6 * np.abs(theirs).max()


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=(2, 0), dilation=(2, 1)), dict(padding=0)])
def test_winograd_gradcheck_float64(kw):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 16, 5, 6))
    w = rng.standard_normal((64, 16, 3, 3)) / 12
    b = rng.standard_normal(64)
    assert _takes_winograd(x.shape, w.shape, kw.get("padding", 0), kw.get("dilation", 1))
    check_gradients(lambda *t: conv2d(*t, **kw), [x, w, b], n_directions=6)


def test_only_the_input_or_only_the_weight_gradient():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, 7, 7)).astype(np.float32)
    w = (rng.standard_normal((64, 16, 3, 3)) / 12).astype(np.float32)
    for which in (0, 1):
        sx, sw = sg.tensor(x, requires_grad=which == 0), sg.tensor(w, requires_grad=which == 1)
        tx, tw = torch.tensor(x, requires_grad=which == 0), torch.tensor(w, requires_grad=which == 1)
        conv2d(sx, sw, padding=1).sum().backward()
        TF.conv2d(tx, tw, padding=1).sum().backward()
        mine, theirs = (sx, tx) if which == 0 else (sw, tw)
        np.testing.assert_allclose(mine.grad.data, theirs.grad.numpy(), rtol=1e-4, atol=1e-4)
        assert (sw if which == 0 else sx).grad is None


@pytest.mark.parametrize("chunk", [1, 2, 3])
@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=2, dilation=2)])
def test_chunks_and_two_workers_give_bit_identical_results(monkeypatch, chunk, kw):
    """Chunks of 1-3 samples (a shorter last chunk, an odd chunk count), one worker or two: outputs and all
    gradients are bit-for-bit the same, and match PyTorch."""
    monkeypatch.setattr(conv_winograd, "_chunk", lambda n, grid, o, itemsize: min(n, chunk))
    monkeypatch.setattr(window, "PARALLEL_MIN_BYTES", 0)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 16, 9, 8)).astype(np.float32)
    w = (rng.standard_normal((64, 16, 3, 3)) / 12).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    assert_same_with_workers(lambda *t: conv2d(*t, **kw), [x, w, b])
    compare_with_torch(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), [x, w, b], rtol=1e-4, atol=1e-4)


def test_transposed_conv_input_gradient_path_matches_torch():
    """conv_transpose2d's forward is conv2d's input gradient, which takes the Winograd path for 3x3 stride 1."""
    rng = np.random.default_rng(5)
    y = rng.standard_normal((2, 64, 8, 9)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 3, 3)) / 12).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    compare_with_torch(lambda *t: F.conv_transpose2d(*t, padding=1), lambda *t: TF.conv_transpose2d(*t, padding=1),
                       [y, w, b], rtol=1e-4, atol=1e-4)


def test_repeated_steps_do_not_grow_memory():
    rng = np.random.default_rng(6)
    x = sg.tensor(rng.standard_normal((4, 16, 12, 12)).astype(np.float32), requires_grad=True)
    w = sg.tensor((rng.standard_normal((64, 16, 3, 3)) / 12).astype(np.float32), requires_grad=True)

    def step():
        conv2d(x, w, padding=2, dilation=2).sum().backward()
        x.grad = w.grad = None

    assert_memory_steady(step)
