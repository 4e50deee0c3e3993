"""conv_transpose2d against PyTorch, float64 gradcheck, the adjoint identity with conv2d, validation."""
import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.functional as F
from slimgrad.ops.conv import conv2d, conv_transpose2d
from helpers import assert_both_reject, check_gradients, compare_with_torch

pair_or_int = lambda lo, hi: st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi)))

transpose_config = st.fixed_dictionaries({
    "n": st.integers(1, 2), "groups": st.integers(1, 3), "cg": st.integers(1, 3), "og": st.integers(1, 3),
    "h": st.integers(1, 7), "w": st.integers(1, 7), "kh": st.integers(1, 5), "kw": st.integers(1, 5),
    "stride": pair_or_int(1, 3), "padding": pair_or_int(0, 3), "dilation": pair_or_int(1, 4),
    "output_padding": pair_or_int(0, 3), "bias": st.booleans(), "seed": st.integers(0, 2 ** 16),
})


def _pairs(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _out_size(cfg):
    s, p, d, op = (_pairs(cfg[k]) for k in ("stride", "padding", "dilation", "output_padding"))
    return tuple((n - 1) * s[a] - 2 * p[a] + d[a] * (k - 1) + op[a] + 1
                 for a, (n, k) in enumerate([(cfg["h"], cfg["kh"]), (cfg["w"], cfg["kw"])]))


@given(transpose_config)
def test_conv_transpose2d_matches_torch(cfg):
    s, d, op = (_pairs(cfg[k]) for k in ("stride", "dilation", "output_padding"))
    assume(all(op[a] < s[a] or op[a] < d[a] for a in range(2)))
    assume(min(_out_size(cfg)) >= 1)
    g = cfg["groups"]
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n"], g * cfg["cg"], cfg["h"], cfg["w"])).astype(np.float32)
    w = rng.standard_normal((g * cfg["cg"], cfg["og"], cfg["kh"], cfg["kw"])).astype(np.float32)
    b = rng.standard_normal(g * cfg["og"]).astype(np.float32)
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], output_padding=cfg["output_padding"], groups=g,
              dilation=cfg["dilation"])
    arrays = [x, w, b] if cfg["bias"] else [x, w]
    out = compare_with_torch(lambda *t: conv_transpose2d(*t, **kw), lambda *t: TF.conv_transpose2d(*t, **kw),
                             arrays, rtol=1e-4, atol=1e-4)
    assert out.shape[2:] == _out_size(cfg)


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 6),
       st.integers(1, 6), st.integers(0, 2 ** 16))
def test_depthwise_transpose_matches_torch(n, channels, k, stride, h, w, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, channels, h, w)).astype(np.float32)
    wt = rng.standard_normal((channels, 1, k, k)).astype(np.float32)
    kw = dict(stride=stride, groups=channels, output_padding=stride - 1)
    compare_with_torch(lambda *t: conv_transpose2d(*t, **kw), lambda *t: TF.conv_transpose2d(*t, **kw), [x, wt],
                       rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(1, 3), padding=(0, 2), dilation=(2, 1), output_padding=(1, 2), groups=2),
    dict(stride=(2, 1), padding=1, output_padding=(1, 0)),  # overlapping strided taps: phase planes
])
def test_conv_transpose2d_gradcheck_float64(kw):
    rng = np.random.default_rng(5)
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 4, 5))
    w = rng.standard_normal((4, 6 // groups, 3, 2))
    b = rng.standard_normal(6)
    check_gradients(lambda *t: conv_transpose2d(*t, **kw), [x, w, b])


@given(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(3, 10),
       st.integers(3, 10), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(1, 3),
       st.integers(0, 2 ** 16))
def test_adjoint_identity(n, groups, cg, og, h, w, k, stride, padding, dilation, seed):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same weight, stride, padding, dilation, groups."""
    assume(h + 2 * padding >= dilation * (k - 1) + 1 and w + 2 * padding >= dilation * (k - 1) + 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, groups * cg, h, w))
    wt = rng.standard_normal((groups * og, cg, k, k))
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y_shape = conv2d(sg.tensor(x), sg.tensor(wt), **kw).shape
    # conv2d drops the rows/cols a stride cannot reach; output_padding gives them back to the transpose
    op = tuple((size + 2 * padding - dilation * (k - 1) - 1) % stride for size in (h, w))
    y = rng.standard_normal(y_shape)
    lhs = float(np.sum(conv2d(sg.tensor(x), sg.tensor(wt), **kw).data * y))
    back = conv_transpose2d(sg.tensor(y), sg.tensor(wt), output_padding=op, **kw)
    assert back.shape == x.shape
    rhs = float(np.sum(x * back.data))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)


def test_functional_export_and_unbatched_input():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((3, 4, 4)).astype(np.float32), rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    out = compare_with_torch(lambda *t: F.conv_transpose2d(*t, stride=2), lambda *t: TF.conv_transpose2d(*t, stride=2),
                             [x, w], rtol=1e-5, atol=1e-5)
    assert out.shape == (2, 8, 8)


BAD = [
    ("output_padding", (2, 4, 5, 5), (4, 3, 3, 3), dict(output_padding=1), "smaller than either stride or dilation"),
    ("channels", (2, 4, 5, 5), (3, 3, 3, 3), {}, "to have 3 channels, but got 4"),
    ("groups", (2, 4, 5, 5), (4, 3, 3, 3), dict(groups=3), "divisible by 3"),
    ("stride", (2, 4, 5, 5), (4, 3, 3, 3), dict(stride=0), "non-positive stride"),
    ("dilation", (2, 4, 5, 5), (4, 3, 3, 3), dict(dilation=-1), "non-positive dilation"),
    ("padding", (2, 4, 5, 5), (4, 3, 3, 3), dict(padding=-1), "negative padding"),
    ("input rank", (4, 5), (4, 3, 3, 3), {}, "3D \\(unbatched\\) or 4D"),
]


@pytest.mark.parametrize("name,x_shape,w_shape,kw,message", BAD, ids=[b[0] for b in BAD])
def test_bad_configurations_raise_like_torch(name, x_shape, w_shape, kw, message):
    arrays = [np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32)]
    assert_both_reject(lambda *t: conv_transpose2d(*t, **kw), lambda *t: TF.conv_transpose2d(*t, **kw), arrays,
                       match=message)


def test_output_too_small_and_string_padding_raise():
    x, w = sg.tensor(np.zeros((1, 2, 2, 2), np.float32)), sg.tensor(np.zeros((2, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="too small"):
        conv_transpose2d(x, w, padding=3)
    with pytest.raises(ValueError, match="padding"):
        conv_transpose2d(x, w, padding="same")
