"""The disjoint-tap conv kernel (kernel <= stride, taps never overlap): conv_transpose2d and conv2d against
PyTorch (output and every gradient), float64 gradcheck, one worker vs two bit-identical, dispatch."""
import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st

from slimgrad.ops import conv_disjoint, window
from slimgrad.ops.conv import conv2d, conv_transpose2d
from slimgrad.ops.conv_kernels import ConvGeometry
from helpers import assert_same_with_workers, check_gradients, compare_with_torch


@st.composite
def axis(draw):
    """One spatial axis, mostly with the taps inside one stride ((k-1)*d < s: disjoint); output_padding below
    the stride or the dilation, and padding small enough for a transposed output size >= 1."""
    a = {"stride": draw(st.integers(1, 4)), "dilation": draw(st.integers(1, 3)), "size": draw(st.integers(1, 7))}
    a["kernel"] = draw(st.one_of(st.integers(1, (a["stride"] - 1) // a["dilation"] + 1), st.integers(1, 3)))
    a["output_padding"] = draw(st.integers(0, max(a["stride"], a["dilation"]) - 1))
    reach = (a["size"] - 1) * a["stride"] + a["dilation"] * (a["kernel"] - 1) + a["output_padding"]
    a["padding"] = draw(st.integers(0, min(3, reach // 2)))
    return a


def configs(conv_side_og: str):
    """Drawn configurations; the key ``conv_side_og`` (the conv side's output channels per group) is >= 2."""
    channels = {"cg": st.integers(1, 3), "og": st.integers(1, 3), conv_side_og: st.integers(2, 3)}
    return st.fixed_dictionaries({"n": st.integers(1, 3), "groups": st.integers(1, 3), **channels,
                                  "rows": axis(), "cols": axis(), "bias": st.booleans(),
                                  "seed": st.integers(0, 2 ** 16)})


transpose_config, conv_config = configs("cg"), configs("og")


def _transpose_setup(cfg, dtype=np.float32):
    """Arrays and kwargs of a conv_transpose2d that takes the disjoint path (else the example is rejected)."""
    r, c = cfg["rows"], cfg["cols"]
    out_hw = tuple((a["size"] - 1) * a["stride"] - 2 * a["padding"] + a["dilation"] * (a["kernel"] - 1)
                   + a["output_padding"] + 1 for a in (r, c))
    assume(min(out_hw) >= 1)
    g, cg, og = cfg["groups"], cfg["cg"], cfg["og"]
    geo = ConvGeometry((r["kernel"], c["kernel"]), (r["stride"], c["stride"]), (r["dilation"], c["dilation"]),
                       (r["padding"], c["padding"]), g)
    # conv side: x = the transposed conv's output, y = its input, conv weight (C_in_t, C_out_t/g, kh, kw)
    assume(conv_disjoint.usable((cfg["n"], g * og) + out_hw, (g * cg, og, r["kernel"], c["kernel"]), geo,
                                (r["size"], c["size"])))
    rng = np.random.default_rng(cfg["seed"])
    y = rng.standard_normal((cfg["n"], g * cg, r["size"], c["size"])).astype(dtype)
    w = rng.standard_normal((g * cg, og, r["kernel"], c["kernel"])).astype(dtype)
    b = rng.standard_normal(g * og).astype(dtype)
    kw = dict(stride=(r["stride"], c["stride"]), padding=(r["padding"], c["padding"]),
              output_padding=(r["output_padding"], c["output_padding"]), groups=g,
              dilation=(r["dilation"], c["dilation"]))
    return ([y, w, b] if cfg["bias"] else [y, w]), kw


def _conv_setup(cfg, dtype=np.float32):
    """Arrays and kwargs of a conv2d that takes the disjoint path."""
    r, c = cfg["rows"], cfg["cols"]
    hw = tuple(a["size"] * a["stride"] + a["output_padding"] for a in (r, c))
    out_hw = tuple((s + 2 * a["padding"] - a["dilation"] * (a["kernel"] - 1) - 1) // a["stride"] + 1
                   for s, a in zip(hw, (r, c)))
    assume(min(out_hw) >= 1)
    g, cg, og = cfg["groups"], cfg["cg"], cfg["og"]
    geo = ConvGeometry((r["kernel"], c["kernel"]), (r["stride"], c["stride"]), (r["dilation"], c["dilation"]),
                       (r["padding"], c["padding"]), g)
    assume(conv_disjoint.usable((cfg["n"], g * cg) + hw, (g * og, cg, r["kernel"], c["kernel"]), geo, out_hw))
    rng = np.random.default_rng(cfg["seed"])
    x = rng.standard_normal((cfg["n"], g * cg) + hw).astype(dtype)
    w = rng.standard_normal((g * og, cg, r["kernel"], c["kernel"])).astype(dtype)
    b = rng.standard_normal(g * og).astype(dtype)
    kw = dict(stride=(r["stride"], c["stride"]), padding=(r["padding"], c["padding"]), groups=g,
              dilation=(r["dilation"], c["dilation"]))
    return ([x, w, b] if cfg["bias"] else [x, w]), kw


@given(transpose_config)
def test_conv_transpose2d_matches_torch(cfg):
    arrays, kw = _transpose_setup(cfg)
    compare_with_torch(lambda *t: conv_transpose2d(*t, **kw), lambda *t: TF.conv_transpose2d(*t, **kw), arrays,
                       rtol=1e-4, atol=1e-4)


@given(conv_config)
def test_conv2d_matches_torch(cfg):
    arrays, kw = _conv_setup(cfg)
    compare_with_torch(lambda *t: conv2d(*t, **kw), lambda *t: TF.conv2d(*t, **kw), arrays, rtol=1e-4, atol=1e-4)


@given(transpose_config)
def test_conv_transpose2d_gradcheck(cfg):
    arrays, kw = _transpose_setup(cfg, np.float64)
    check_gradients(lambda *t: conv_transpose2d(*t, **kw), arrays)


@given(conv_config)
def test_conv2d_gradcheck(cfg):
    arrays, kw = _conv_setup(cfg, np.float64)
    check_gradients(lambda *t: conv2d(*t, **kw), arrays)


# kernel == stride, float32: the kw column taps of a pixel travel as one 8-byte word (and, where the kernel
# rows tile the output rows too, a chunk is one block copy)
WORD_CASES = [
    dict(y=(3, 6, 5, 4), w=(6, 4, 2, 2), kw=dict(stride=2), block=True),
    dict(y=(2, 4, 5, 4), w=(4, 3, 2, 2), kw=dict(stride=2, padding=(2, 0)), block=True),
    dict(y=(2, 6, 5, 4), w=(6, 2, 2, 2), kw=dict(stride=2, groups=3, padding=(1, 2)), block=False),
    dict(y=(2, 4, 3, 5), w=(4, 3, 3, 2), kw=dict(stride=(3, 2), output_padding=(2, 0)), block=False),
    dict(y=(2, 4, 3, 5), w=(4, 3, 1, 2), kw=dict(stride=(3, 2), padding=(0, 2)), block=False),
]


@pytest.mark.parametrize("case", WORD_CASES)
def test_word_path_matches_torch(case):
    y_shape, w_shape, kw = case["y"], case["w"], case["kw"]
    rng = np.random.default_rng(1)
    y = rng.standard_normal(y_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[1] * kw.get("groups", 1)).astype(np.float32)
    out = compare_with_torch(lambda *t: conv_transpose2d(*t, **kw), lambda *t: TF.conv_transpose2d(*t, **kw),
                             [y, w, b], rtol=1e-4, atol=1e-4)
    stride, pad = window.pair(kw["stride"], "s"), window.pair(kw.get("padding", 0), "p")
    geo = ConvGeometry(w_shape[2:], stride, (1, 1), pad, kw.get("groups", 1))
    conv_w_shape = (w_shape[0], w_shape[1], *w_shape[2:])
    assert conv_disjoint.usable(out.shape, conv_w_shape, geo, y_shape[2:])
    layout = conv_disjoint._Layout(out.shape, conv_w_shape, geo, y_shape[2:], np.float32)
    assert layout.word is not None and (layout.block is not None) == case["block"]


@pytest.mark.parametrize("fn, shapes, kw", [
    (conv_transpose2d, [(9, 8, 7, 6), (8, 6, 2, 2), (6,)], dict(stride=2)),
    (conv_transpose2d, [(9, 8, 7, 6), (8, 3, 2, 3), (6,)], dict(stride=(2, 3), groups=2, padding=1,
                                                                  output_padding=1)),
    (conv2d, [(9, 8, 14, 12), (6, 4, 2, 2), (6,)], dict(stride=2, groups=2)),
])
def test_one_worker_and_two_bit_identical(monkeypatch, fn, shapes, kw):
    monkeypatch.setattr(window, "PARALLEL_MIN_BYTES", 0)  # run the parts on two threads even when small
    monkeypatch.setattr(conv_disjoint, "CHUNK_BYTES", 1)  # one sample per chunk: several chunks per part
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    assert_same_with_workers(lambda *t: fn(*t, **kw), arrays)


def test_non_contiguous_operands_and_broadcast_gradient():
    """The kernel gets a transposed view (permute inside the graph) and a broadcast upstream gradient (sum)."""
    rng = np.random.default_rng(3)
    y = rng.standard_normal((5, 4, 6, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    compare_with_torch(lambda y, w: conv_transpose2d(y.permute(0, 1, 3, 2), w, stride=2).sum(),
                       lambda y, w: TF.conv_transpose2d(y.permute(0, 1, 3, 2), w, stride=2).sum(), [y, w],
                       rtol=1e-4, atol=1e-4)


def test_usable_only_for_disjoint_strided_taps():
    def usable(k, s, d=(1, 1), p=(0, 0), hw=(8, 8)):
        geo = ConvGeometry(k, s, d, p, 1)
        out_hw = tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, ss, dd, pp in zip(hw, k, s, d, p))
        return conv_disjoint.usable((2, 3) + hw, (4, 3) + k, geo, out_hw)

    assert usable((2, 2), (2, 2))
    assert usable((1, 1), (2, 2))
    assert usable((2, 1), (3, 1), p=(1, 0))
    assert usable((2, 2), (3, 3), d=(2, 2))
    assert not usable((3, 3), (2, 2))          # overlapping taps
    assert not usable((2, 2), (2, 2), d=(2, 2))  # dilation 2: tap 1 lands on the next window's tap 0
    assert not usable((1, 1), (1, 1))          # stride 1: the pointwise / flat paths


def test_empty_batch():
    """Zero samples: an empty output and zero weight / bias gradients, as PyTorch."""
    arrays = [np.zeros((0, 4, 3, 3), np.float32), np.ones((4, 2, 2, 2), np.float32), np.ones(2, np.float32)]
    out = compare_with_torch(lambda *t: conv_transpose2d(*t, stride=2), lambda *t: TF.conv_transpose2d(*t, stride=2),
                             arrays)
    assert out.shape == (0, 2, 6, 6)
