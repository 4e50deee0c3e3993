"""conv2d against PyTorch (output and input/weight/bias gradients), float64 gradcheck, validation, memory."""
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.functional as F
from slimgrad.ops.conv import conv2d
from slimgrad.ops.window import conv_output_size
from helpers import (assert_both_reject, assert_memory_steady, assert_same_with_workers, check_gradients,
                     compare_with_torch)

padding_st = st.one_of(
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.sampled_from(["same", "valid"]),
)

conv_config = st.fixed_dictionaries({
    "n": st.integers(1, 2), "groups": st.integers(1, 3), "cg": st.integers(1, 3), "og": st.integers(1, 3),
    "h": st.integers(1, 12), "w": st.integers(1, 12), "kh": st.integers(1, 5), "kw": st.integers(1, 5),
    "stride": st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    "dilation": st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))),
    "padding": padding_st, "bias": st.booleans(), "seed": st.integers(0, 2 ** 16),
})


def _pairs(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _torch_accepts(cfg) -> bool:
    """PyTorch's own rules: 'same' needs stride 1, and the dilated kernel must fit the padded input."""
    stride, dil = _pairs(cfg["stride"]), _pairs(cfg["dilation"])
    pad = cfg["padding"]
    if pad == "same":
        return stride == (1, 1)
    p = (0, 0) if pad == "valid" else _pairs(pad)
    return all(n + 2 * pp >= d * (k - 1) + 1 for n, pp, d, k in
               [(cfg["h"], p[0], dil[0], cfg["kh"]), (cfg["w"], p[1], dil[1], cfg["kw"])])


def _arrays(cfg, c_in, c_out, cin_per_group, dtype=np.float32):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n"], c_in, cfg["h"], cfg["w"])).astype(dtype)
    w = rng.standard_normal((c_out, cin_per_group, cfg["kh"], cfg["kw"])).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    return x, w, b


def _run_against_torch(cfg, c_in, c_out, cin_per_group, groups):
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=groups)
    x, w, b = _arrays(cfg, c_in, c_out, cin_per_group)
    if not _torch_accepts(cfg):
        assert_both_reject(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), [x, w])
        return
    arrays = [x, w, b] if cfg["bias"] else [x, w]
    out = compare_with_torch(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), arrays,
                             rtol=1e-4, atol=1e-4)
    if cfg["padding"] != "same":
        pad = (0, 0) if cfg["padding"] == "valid" else _pairs(cfg["padding"])
        stride, dil = _pairs(cfg["stride"]), _pairs(cfg["dilation"])
        assert out.shape[2:] == tuple(
            (size + 2 * p - d * (k - 1) - 1) // s + 1 for size, p, d, k, s in
            [(cfg["h"], pad[0], dil[0], cfg["kh"], stride[0]), (cfg["w"], pad[1], dil[1], cfg["kw"], stride[1])])
    else:
        assert out.shape[2:] == (cfg["h"], cfg["w"])


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(conv_config)
def test_grouped_conv2d_matches_torch(cfg):
    g = cfg["groups"]
    _run_against_torch(cfg, g * cfg["cg"], g * cfg["og"], cfg["cg"], g)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(conv_config)
def test_depthwise_conv2d_with_multiplier_matches_torch(cfg):
    channels, multiplier = cfg["cg"] + cfg["groups"], cfg["og"]  # 2..6 channels, multiplier 1..3
    _run_against_torch(cfg, channels, channels * multiplier, 1, channels)


@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 4), st.integers(2, 9), st.integers(2, 9),
       st.integers(0, 2 ** 16))
def test_pointwise_conv2d_matches_torch(n, c_in, c_out, h, w, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in [(n, c_in, h, w), (c_out, c_in, 1, 1), (c_out,)]]
    compare_with_torch(conv2d, TF.conv2d, arrays, rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_asymmetric_same_padding_puts_the_extra_on_the_bottom_right():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 7, 8)).astype(np.float32), rng.standard_normal((4, 3, 4, 2)).astype(np.float32)
    for dilation in [1, 2, (3, 1)]:
        kw = dict(padding="same", dilation=dilation)
        out = compare_with_torch(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), [x, w],
                                 rtol=1e-4, atol=1e-4)
        assert out.shape == (2, 4, 7, 8)


def test_unbatched_input_and_functional_export():
    rng = np.random.default_rng(2)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(3, 6, 5), (2, 3, 3, 3), (2,)])
    out = compare_with_torch(lambda *t: F.conv2d(*t, padding=1), lambda *t: TF.conv2d(*t, padding=1), [x, w, b],
                             rtol=1e-5, atol=1e-5)
    assert out.shape == (2, 6, 5)


def test_float32_stays_float32_and_float64_stays_float64():
    for dtype in (np.float32, np.float64):
        x = sg.tensor(np.ones((1, 2, 5, 5), dtype), requires_grad=True)
        w = sg.tensor(np.ones((3, 2, 3, 3), dtype), requires_grad=True)
        b = sg.tensor(np.ones(3, dtype), requires_grad=True)
        out = conv2d(x, w, b, padding=1)
        out.sum().backward()
        assert out.dtype == dtype and x.grad.dtype == dtype and w.grad.dtype == dtype and b.grad.dtype == dtype


@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=1, dilation=2),
    dict(stride=(1, 2), padding=(2, 0), dilation=(1, 3), groups=2),
    dict(padding="same", dilation=2, groups=4),
    dict(stride=2, padding=1, groups=2),  # overlapping strided taps: the phase-plane path
])
def test_conv2d_gradcheck_float64(kw):
    rng = np.random.default_rng(3)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 7, 8))
    w = rng.standard_normal((4, 4 // groups, 3, 2))
    b = rng.standard_normal(4)
    check_gradients(lambda *t: conv2d(*t, **kw), [x, w, b])


@given(st.integers(1, 20), st.integers(1, 5), st.integers(1, 3), st.integers(0, 3), st.integers(1, 4))
def test_output_size_formula(size, k, s, p, d):
    assume(size + 2 * p >= d * (k - 1) + 1)
    x = sg.tensor(np.zeros((1, 1, size, 3), np.float32))
    w = sg.tensor(np.zeros((1, 1, k, 1), np.float32))
    out = conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1))
    assert out.shape[2] == (size + 2 * p - d * (k - 1) - 1) // s + 1 == conv_output_size(size, k, s, p, d)


BAD = [
    ("input", (5, 5), (6, 4, 3, 3), {}, "3D \\(unbatched\\) or 4D"),
    ("channels", (2, 4, 5, 5), (6, 3, 3, 3), {}, "to have 3 channels, but got 4"),
    ("group channels", (2, 4, 5, 5), (6, 2, 3, 3), dict(groups=3), "to have 6 channels"),
    ("groups divide out", (2, 4, 5, 5), (5, 2, 3, 3), dict(groups=2), "divisible by 2"),
    ("groups zero", (2, 4, 5, 5), (6, 4, 3, 3), dict(groups=0), "non-positive groups"),
    ("stride", (2, 4, 5, 5), (6, 4, 3, 3), dict(stride=0), "non-positive stride"),
    ("stride length", (2, 4, 5, 5), (6, 4, 3, 3), dict(stride=(1, 2, 3)), "stride"),
    ("dilation", (2, 4, 5, 5), (6, 4, 3, 3), dict(dilation=(1, 0)), "non-positive dilation"),
    ("padding", (2, 4, 5, 5), (6, 4, 3, 3), dict(padding=-1), "negative padding"),
    ("padding string", (2, 4, 5, 5), (6, 4, 3, 3), dict(padding="full"), "padding"),
    ("same strided", (2, 4, 5, 5), (6, 4, 3, 3), dict(padding="same", stride=2), "strided"),
    ("kernel too big", (2, 4, 5, 5), (6, 4, 7, 7), {}, "greater than actual input size"),
    ("dilated kernel too big", (2, 4, 5, 5), (6, 4, 3, 3), dict(dilation=3), "greater than actual input size"),
    ("weight rank", (2, 4, 5, 5), (6, 4, 3), {}, "4D weight"),
]


@pytest.mark.parametrize("name,x_shape,w_shape,kw,message", BAD, ids=[b[0] for b in BAD])
def test_bad_configurations_raise_like_torch(name, x_shape, w_shape, kw, message):
    arrays = [np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32)]
    assert_both_reject(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), arrays, match=message)


def test_bad_bias_and_dtype_raise():
    x, w = sg.tensor(np.zeros((1, 2, 4, 4), np.float32)), sg.tensor(np.zeros((3, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="bias.*3 elements.*\\(2,\\)"):
        conv2d(x, w, sg.tensor(np.zeros(2, np.float32)))
    with pytest.raises(TypeError, match="same dtype"):
        conv2d(x, sg.tensor(np.zeros((3, 2, 3, 3))))


def test_pointwise_forward_is_a_gemm_without_copies():
    x = sg.tensor(np.ones((8, 32, 16, 16), np.float32))
    w = sg.tensor(np.ones((16, 32, 1, 1), np.float32))
    conv2d(x, w)  # warm up
    tracemalloc.start()
    out = conv2d(x, w)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < out.data.nbytes + (64 << 10), f"1x1 conv allocated {peak} bytes for a {out.data.nbytes}-byte output"


def test_repeated_steps_do_not_grow_memory():
    rng = np.random.default_rng(4)
    x = sg.tensor(rng.standard_normal((4, 8, 12, 12)).astype(np.float32), requires_grad=True)
    weights = [sg.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
               for s in [(8, 8, 3, 3), (8, 1, 3, 3), (8, 8, 1, 1)]]

    def step():
        h = conv2d(x, weights[0], padding=1)
        h = conv2d(h, weights[1], padding=2, dilation=2, groups=8)
        h = conv2d(h, weights[2], stride=2)
        h.sum().backward()
        x.grad = None
        for w in weights:
            w.grad = None

    assert_memory_steady(step)


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=1), dict(groups=4, padding=2, dilation=2),
                                dict()])
@pytest.mark.parametrize("which", [0, 1])
def test_gradient_of_only_one_operand(op, kw, which):
    """Only the input or only the weight requires grad: the other path is skipped, the asked one still exact."""
    rng = np.random.default_rng(7)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 6, 7)).astype(np.float32)
    w = rng.standard_normal((4, 4 // groups, 3, 3) if kw else (4, 4, 1, 1)).astype(np.float32)
    sg_fn, th_fn = (conv2d, TF.conv2d) if op == "conv2d" else (F.conv_transpose2d, TF.conv_transpose2d)
    sx, sw = sg.tensor(x, requires_grad=which == 0), sg.tensor(w, requires_grad=which == 1)
    tx, tw = torch.tensor(x, requires_grad=which == 0), torch.tensor(w, requires_grad=which == 1)
    out, ref = sg_fn(sx, sw, **kw), th_fn(tx, tw, **kw)
    up = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(up)
    ref.backward(torch.tensor(up))
    mine, theirs = (sx, tx) if which == 0 else (sw, tw)
    np.testing.assert_allclose(mine.grad.data, theirs.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert (sw if which == 0 else sx).grad is None


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=2, dilation=2, groups=4), dict(stride=2, padding=1),
                                dict()])
def test_batch_chunks_with_a_remainder(monkeypatch, kw):
    """The kernels walk the batch in chunks; a last, shorter chunk must come out the same."""
    from slimgrad.ops import conv_flat, conv_kernels
    monkeypatch.setattr(conv_flat, "_chunk", lambda n, per_sample: min(n, 2))
    monkeypatch.setattr(conv_kernels, "_chunk", lambda n, per_sample: min(n, 2))
    rng = np.random.default_rng(8)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((5, 4, 6, 7)).astype(np.float32)
    w = rng.standard_normal((8, 4 // groups, 3, 3) if kw else (8, 4, 1, 1)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    compare_with_torch(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), [x, w, b], rtol=1e-4, atol=1e-4)
    wt = rng.standard_normal((4, 8 // groups, 3, 3) if kw else (4, 8, 1, 1)).astype(np.float32)
    compare_with_torch(lambda *t: F.conv_transpose2d(*t, **kw), lambda *t: TF.conv_transpose2d(*t, **kw),
                       [x, wt, b], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op", ["conv2d", "conv_transpose2d"])
@pytest.mark.parametrize("kw", [dict(k=3, padding=1), dict(k=3, padding=2, dilation=2, groups=4),
                                dict(k=3, stride=2, padding=1), dict(k=3, stride=2, padding=1, groups=4),
                                dict(k=2, stride=2), dict(k=2), dict(k=1), dict(k=1, groups=2)])
@pytest.mark.parametrize("chunk", [1, 2])
def test_two_workers_give_bit_identical_results(monkeypatch, op, kw, chunk):
    """The batch parts run on two threads or one: outputs and all gradients are bit-for-bit the same (fixed
    partition, partial weight gradients added in part order), also with an odd number of chunks (5 or 3),
    and they match PyTorch."""
    from slimgrad.ops import conv_flat, conv_kernels, window
    monkeypatch.setattr(conv_flat, "_chunk", lambda n, per_sample: min(n, chunk))
    monkeypatch.setattr(conv_kernels, "_chunk", lambda n, per_sample: min(n, chunk))
    monkeypatch.setattr(window, "PARALLEL_MIN_BYTES", 0)  # small inputs run on the pool too
    rng = np.random.default_rng(9)
    kw = dict(kw)
    k, groups = kw.pop("k"), kw.get("groups", 1)
    x = rng.standard_normal((5, 4, 9, 8)).astype(np.float32)
    if op == "conv2d":
        w = rng.standard_normal((8, 4 // groups, k, k))
        sg_fn, th_fn = conv2d, TF.conv2d
    else:
        w = rng.standard_normal((4, 8 // groups, k, k))
        sg_fn, th_fn = F.conv_transpose2d, TF.conv_transpose2d
    w = w.astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    assert_same_with_workers(lambda *t: sg_fn(*t, **kw), [x, w, b])
    compare_with_torch(lambda *t: sg_fn(*t, **kw), lambda *t: th_fn(*t, **kw), [x, w, b], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_empty_batch(k):
    """A batch of zero samples gives empty outputs and zero weight / bias gradients, as PyTorch."""
    x = np.zeros((0, 4, 6, 6), np.float32)
    w = np.ones((4, 4, k, k), np.float32)
    b = np.ones(4, np.float32)
    kw = dict(stride=k) if k == 2 else dict(padding=k // 2)
    compare_with_torch(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), [x, w, b])
