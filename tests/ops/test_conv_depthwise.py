"""Depthwise conv kernel (conv_depthwise): against PyTorch, float64 gradcheck, worker-count invariance, memory."""

import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import slimgrad as sg
from slimgrad.ops import conv_depthwise, window
from slimgrad.ops.conv import conv2d, conv_transpose2d
from slimgrad.ops.conv_kernels import ConvGeometry
from slimgrad.ops.window import conv_output_size, conv_padding, pair
from helpers import assert_memory_steady, assert_same_with_workers, check_gradients, compare_with_torch

pair_st = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))

depthwise_config = st.fixed_dictionaries({
    "n": st.integers(1, 5), "c": st.integers(1, 5), "mult": st.integers(1, 3),
    "h": st.integers(1, 13), "w": st.integers(1, 13), "kh": st.integers(1, 5), "kw": st.integers(1, 5),
    "dilation": pair_st,
    "stride": st.one_of(st.just(1), st.just(1), pair_st),  # stride 1 (the main path) at least half the time
    "padding": st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                         st.sampled_from(["same", "valid"])),
    "bias": st.booleans(), "dtype": st.sampled_from([np.float32, np.float64]), "seed": st.integers(0, 2 ** 16),
})


def _geometry(cfg):
    """``(ConvGeometry, out_hw)`` as conv2d builds them, or None where PyTorch rejects the config."""
    k, s, d = (cfg["kh"], cfg["kw"]), pair(cfg["stride"], "stride"), pair(cfg["dilation"], "dilation")
    if cfg["padding"] == "same" and s != (1, 1):
        return None
    pads = conv_padding(cfg["padding"], k, s, d)
    out_hw = (conv_output_size(cfg["h"], k[0], s[0], pads[0], d[0], pads[1]),
              conv_output_size(cfg["w"], k[1], s[1], pads[2], d[1], pads[3]))
    if min(out_hw) < 1:
        return None
    return ConvGeometry(k, s, d, (pads[0], pads[2]), cfg["c"]), out_hw


def _arrays(cfg):
    rng = np.random.default_rng(cfg["seed"])
    c, o = cfg["c"], cfg["c"] * cfg["mult"]
    x = rng.standard_normal((cfg["n"], c, cfg["h"], cfg["w"])).astype(cfg["dtype"])
    w = rng.standard_normal((o, 1, cfg["kh"], cfg["kw"])).astype(cfg["dtype"])
    b = rng.standard_normal(o).astype(cfg["dtype"])
    return [x, w, b] if cfg["bias"] else [x, w]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@settings(max_examples=150, deadline=None)
@given(depthwise_config)
def test_depthwise_matches_torch(cfg):
    """Output and input / weight / bias gradients, through conv2d: every stride-1 config takes this kernel,
    strided ones conv_flat's phase planes or the im2col path."""
    plan = _geometry(cfg)
    assume(plan is not None)
    geo, out_hw = plan
    arrays = _arrays(cfg)
    assert conv_depthwise.usable(arrays[0].shape, arrays[1].shape, geo, out_hw) == (geo.stride == (1, 1))
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["c"])
    tol = 1e-4 if cfg["dtype"] == np.float32 else 1e-10
    out = compare_with_torch(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), arrays,
                             rtol=tol, atol=tol, seed=cfg["seed"])
    assert out.shape == (cfg["n"], cfg["c"] * cfg["mult"]) + tuple(out_hw)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=(0, 2), dilation=(2, 1)),
                                dict(padding=0, dilation=2), dict(padding=3)])
def test_depthwise_transposed_conv_matches_torch(kw):
    """conv_transpose2d with groups == channels runs its forward through the kernel's input gradient."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(2, 4, 9, 7), (4, 1, 3, 2), (4,)]]
    compare_with_torch(lambda *t: conv_transpose2d(*t, groups=4, **kw),
                       lambda *t: TF.conv_transpose2d(*t, groups=4, **kw), arrays, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("shape, mult, kw", [
    ((2, 3, 6, 5), 1, dict(padding=1)),
    ((1, 2, 7, 6), 2, dict(kernel=(2, 3), padding=(1, 0), dilation=(1, 2))),
    ((3, 1, 5, 8), 3, dict(kernel=(5, 1), padding="same", dilation=(1, 3))),
    ((2, 2, 6, 6), 1, dict(kernel=(3, 3), padding="valid", dilation=2)),
    ((2, 2, 7, 8), 2, dict(kernel=(3, 3), padding=1, stride=2)),
    ((1, 3, 9, 7), 1, dict(kernel=(4, 3), padding=(2, 1), stride=(3, 2))),
])
def test_depthwise_gradcheck_float64(shape, mult, kw):
    kw = dict(kw)
    kh, kwd = kw.pop("kernel", (3, 3))
    rng = np.random.default_rng(5)
    c = shape[1]
    arrays = [rng.standard_normal(shape), rng.standard_normal((c * mult, 1, kh, kwd)), rng.standard_normal(c * mult)]
    check_gradients(lambda x, w, b: conv2d(x, w, b, groups=c, **kw), arrays)


def test_usable_for_stride_1_depthwise_only():
    geo = ConvGeometry((3, 3), (1, 1), (1, 1), (1, 1), 8)
    assert conv_depthwise.usable((2, 8, 9, 9), (16, 1, 3, 3), geo, (9, 9))
    assert not conv_depthwise.usable((2, 8, 9, 9), (8, 1, 3, 3), geo._replace(stride=(2, 2)), (5, 5))
    assert not conv_depthwise.usable((2, 8, 9, 9), (8, 2, 3, 3), geo._replace(groups=4), (9, 9))
    assert not conv_depthwise.usable((2, 1, 9, 9), (32, 1, 3, 3), geo._replace(groups=1), (9, 9))  # multiplier 32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk", [1, 2, 3])
@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding="valid", dilation=2),
                                dict(padding=(2, 0), dilation=(1, 2)), dict(padding=3), dict(stride=2, padding=1)])
def test_chunks_and_two_workers_give_bit_identical_results(monkeypatch, chunk, kw, dtype):
    """Chunks of 1-3 samples (a shorter last chunk after full ones, whose values it must not read), one worker
    or two, with wrapped row reads on both sides (unpadded rows) and a multiplier: bit-for-bit the same, and
    PyTorch's result."""
    monkeypatch.setattr(conv_depthwise, "_chunk", lambda n, sample_bytes, target: min(n, chunk))
    monkeypatch.setattr(window, "PARALLEL_MIN_BYTES", 0)
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal(s).astype(dtype) for s in [(5, 6, 9, 8), (12, 1, 3, 3), (12,)]]
    fn = (lambda *t: conv2d(*t, groups=6, **kw))
    assert_same_with_workers(fn, arrays)
    compare_with_torch(fn, lambda *t: TF.conv2d(*t, groups=6, **kw), arrays, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=(0, 1)), dict(padding=2, dilation=2)])
def test_a_short_last_chunk_ignores_the_previous_calls_values(monkeypatch, kw):
    """Work buffers are reused between calls: a short last chunk must not pick up what a full chunk of an
    earlier call left past its end (a NaN there would spread to the weight gradient)."""
    monkeypatch.setattr(conv_depthwise, "_chunk", lambda n, sample_bytes, target: min(n, 2))
    monkeypatch.setattr(window, "PARALLEL_MIN_BYTES", 0)
    rng = np.random.default_rng(9)
    w, b = rng.standard_normal((4, 1, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    poisoned = rng.standard_normal((4, 4, 7, 6)).astype(np.float32)
    poisoned[3] = np.nan  # the second part's full chunk ends with it
    out = conv2d(sg.tensor(poisoned, requires_grad=True), sg.tensor(w, requires_grad=True), groups=4, **kw)
    out.backward(np.ones(out.shape, dtype=np.float32))
    x = rng.standard_normal((3, 4, 7, 6)).astype(np.float32)  # the second part's only chunk is short
    compare_with_torch(lambda *t: conv2d(*t, groups=4, **kw), lambda *t: TF.conv2d(*t, groups=4, **kw), [x, w, b],
                       rtol=1e-4, atol=1e-4)


def test_repeated_depthwise_steps_do_not_grow_memory():
    rng = np.random.default_rng(4)
    x = sg.tensor(rng.standard_normal((4, 8, 12, 12)).astype(np.float32), requires_grad=True)
    weights = [sg.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
               for s in [(16, 1, 3, 3), (16, 1, 5, 3)]]
    bias = sg.tensor(rng.standard_normal(16).astype(np.float32), requires_grad=True)

    def step():
        h = conv2d(x, weights[0], bias, padding=1, groups=8)
        h = conv2d(h, weights[1], padding=(4, 1), dilation=2, groups=16)
        h.sum().backward()
        for t in [x, bias] + weights:
            t.grad = None

    assert_memory_steady(step)
