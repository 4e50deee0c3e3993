"""Convolution layers: same weights -> same outputs and gradients as torch.nn; the MobileNet family composed
from Conv2d; init bounds; validation and error messages; reprs."""
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import slimgrad as sg
from helpers import compare_module_with_torch
from slimgrad import nn
from slimgrad.ops.window import conv_output_size


def _load_into_torch(ours, theirs):
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        if ours.bias is not None:
            theirs.bias.copy_(torch.tensor(ours.bias.data))


def _compare_layer(ours, theirs, x, rtol=1e-4, atol=1e-4, **call):
    """Copy our weights into the torch layer, then compare output, input, weight and bias gradients."""
    _load_into_torch(ours, theirs)
    return compare_module_with_torch(ours, theirs, x, rtol=rtol, atol=atol, **call)


conv_cfg = st.fixed_dictionaries({
    "n": st.integers(1, 2), "groups": st.integers(1, 3), "cin_g": st.integers(1, 2), "cout_g": st.integers(1, 2),
    "h": st.integers(1, 9), "w": st.integers(1, 9), "k": st.tuples(st.integers(1, 4), st.integers(1, 4)),
    "stride": st.tuples(st.integers(1, 3), st.integers(1, 3)), "dilation": st.tuples(st.integers(1, 3), st.integers(1, 3)),
    "padding": st.one_of(st.tuples(st.integers(0, 2), st.integers(0, 2)), st.just("same"), st.just("valid")),
    "bias": st.booleans(), "seed": st.integers(0, 999),
})


@given(conv_cfg)
def test_conv2d_matches_torch(cfg):
    padding, stride = cfg["padding"], cfg["stride"]
    if padding == "same":
        stride = (1, 1)
    pads = (0, 0) if isinstance(padding, str) else padding
    for a, size in enumerate((cfg["h"], cfg["w"])):
        if padding != "same":
            assume(cfg["dilation"][a] * (cfg["k"][a] - 1) + 1 <= size + 2 * pads[a])
    cin, cout = cfg["cin_g"] * cfg["groups"], cfg["cout_g"] * cfg["groups"]
    args = dict(stride=stride, padding=padding, dilation=cfg["dilation"], groups=cfg["groups"], bias=cfg["bias"])
    ours, theirs = nn.Conv2d(cin, cout, cfg["k"], **args), torch.nn.Conv2d(cin, cout, cfg["k"], **args)
    x = np.random.default_rng(cfg["seed"]).standard_normal((cfg["n"], cin, cfg["h"], cfg["w"])).astype(np.float32)
    out = _compare_layer(ours, theirs, x)
    if padding != "same":
        assert out.shape[2:] == tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in
                                      zip((cfg["h"], cfg["w"]), cfg["k"], stride, pads, cfg["dilation"]))


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 2), st.integers(1, 5), st.integers(1, 5),
       st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2), st.integers(1, 2),
       st.booleans(), st.integers(0, 999))
def test_conv_transpose2d_matches_torch(n, groups, cg, h, w, k, stride, padding, out_pad, dilation, bias, seed):
    assume(out_pad < max(stride, dilation))
    assume((min(h, w) - 1) * stride - 2 * padding + dilation * (k - 1) + out_pad + 1 >= 1)
    cin, cout = cg * groups, (3 - cg) * groups
    args = dict(stride=stride, padding=padding, output_padding=out_pad, groups=groups, bias=bias, dilation=dilation)
    ours, theirs = nn.ConvTranspose2d(cin, cout, k, **args), torch.nn.ConvTranspose2d(cin, cout, k, **args)
    x = np.random.default_rng(seed).standard_normal((n, cin, h, w)).astype(np.float32)
    _compare_layer(ours, theirs, x)


def test_conv_transpose2d_output_size_argument():
    ours, theirs = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4)).astype(np.float32)
    out = _compare_layer(ours, theirs, x, output_size=(10, 8))
    assert out.shape == (2, 2, 10, 8)
    with pytest.raises(ValueError, match="output_size"):
        ours(sg.tensor(x), output_size=(12, 8))


@given(st.integers(1, 4), st.integers(1, 3), st.sampled_from([1, 3, 5]), st.integers(1, 2), st.integers(1, 3),
       st.integers(1, 2), st.integers(4, 9), st.integers(0, 999))
def test_depthwise_equals_grouped_conv2d_with_same_weights(c, multiplier, k, stride, dilation, n, size, seed):
    dw = nn.DepthwiseConv2d(c, k, stride=stride, dilation=dilation, depth_multiplier=multiplier)
    assert (dw.in_channels, dw.out_channels, dw.groups) == (c, c * multiplier, c)
    assert isinstance(dw, nn.Conv2d)
    pad = dilation * (k - 1) // 2
    ref = nn.Conv2d(c, c * multiplier, k, stride=stride, padding=pad, dilation=dilation, groups=c)
    ref.weight.data[...] = dw.weight.data
    ref.bias.data[...] = dw.bias.data
    x = sg.tensor(np.random.default_rng(seed).standard_normal((n, c, size, size + 1)).astype(np.float32))
    np.testing.assert_array_equal(dw(x).data, ref(x).data)
    if stride == 1:
        assert dw(x).shape[2:] == x.shape[2:]  # the default padding keeps the size
    _compare_layer(dw, torch.nn.Conv2d(c, c * multiplier, k, stride=stride, padding=pad, dilation=dilation,
                                       groups=c), x.data)


def test_pointwise_is_1x1_conv():
    pw = nn.PointwiseConv2d(4, 6)
    assert pw.kernel_size == (1, 1) and pw.weight.shape == (6, 4, 1, 1)
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 3)).astype(np.float32)
    _compare_layer(pw, torch.nn.Conv2d(4, 6, 1), x)


@given(st.integers(1, 4), st.integers(1, 5), st.sampled_from([1, 3, 5]), st.integers(1, 3),
       st.one_of(st.none(), st.integers(0, 2), st.just("valid")), st.integers(1, 3), st.integers(5, 12),
       st.integers(5, 12), st.sampled_from([None, "bn", "bn_relu"]))
def test_separable_is_a_drop_in_for_conv2d(m, n, k, stride, padding, dilation, h, w, norm_act):
    sep = nn.SeparableConv2d(m, n, k, stride=stride, padding=padding, dilation=dilation, norm_act=norm_act)
    pad = dilation * (k - 1) // 2 if padding is None else padding
    conv = nn.Conv2d(m, n, k, stride=stride, padding=pad, dilation=dilation)
    pads = 0 if pad == "valid" else pad
    assume(dilation * (k - 1) + 1 <= min(h, w) + 2 * pads)
    x = sg.tensor(np.random.default_rng(0).standard_normal((2, m, h, w)).astype(np.float32))
    out = sep(x)
    assert out.shape == conv(x).shape
    out.sum().backward()
    assert all(p.grad is not None for p in sep.parameters())
    norm_params = 0 if norm_act is None else 2 * m
    assert sum(p.data.size for p in sep.parameters()) == k * k * m + norm_params + m * n + n


def test_separable_structure_names_and_norm_act_factory():
    sep = nn.SeparableConv2d(8, 16, norm_act=lambda c: nn.Sequential(nn.BatchNorm2d(c), nn.ReLU()))
    names = [name for name, _ in sep.named_modules()]
    assert names[:3] == ["", "depthwise", "norm_act"] and "pointwise" in names
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Identity(), sep)
    assert "3.depthwise" in dict(model.named_modules())
    assert sep.depthwise.bias is None and sep.pointwise.bias is not None
    plain = nn.SeparableConv2d(8, 16)
    assert plain.norm_act is None and [n for n, _ in plain.named_children()] == ["depthwise", "pointwise"]
    # without norm_act it is exactly pointwise(depthwise(x))
    x = sg.tensor(np.random.default_rng(0).standard_normal((1, 8, 6, 6)).astype(np.float32))
    np.testing.assert_array_equal(plain(x).data, plain.pointwise(plain.depthwise(x)).data)


def test_default_init_bounds_like_torch():
    sg.manual_seed(0)
    for layer, fan_in in [(nn.Conv2d(16, 32, 3), 16 * 9), (nn.Conv2d(16, 32, (3, 5), groups=4), 4 * 15),
                          (nn.ConvTranspose2d(16, 8, 2), 8 * 4), (nn.DepthwiseConv2d(32, 3), 9)]:
        bound = 1 / math.sqrt(fan_in)
        for p in (layer.weight, layer.bias):
            assert p.dtype == np.float32
            assert np.abs(p.data).max() <= bound + 1e-7
            assert np.abs(p.data).max() > 0.8 * bound  # really uniform over the whole range
    sg.manual_seed(5)
    a = nn.Conv2d(3, 4, 3).weight.data.copy()
    sg.manual_seed(5)
    np.testing.assert_array_equal(a, nn.Conv2d(3, 4, 3).weight.data)


@pytest.mark.parametrize("make, torch_make, match", [
    (lambda: nn.Conv2d(3, 16, 3, groups=2), lambda: torch.nn.Conv2d(3, 16, 3, groups=2), "in_channels must be divisible"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), lambda: torch.nn.Conv2d(4, 6, 3, groups=4), "out_channels must be divisible"),
    (lambda: nn.Conv2d(4, 4, 3, groups=0), lambda: torch.nn.Conv2d(4, 4, 3, groups=0), "groups"),
    (lambda: nn.Conv2d(4, 4, 3, padding="full"), lambda: torch.nn.Conv2d(4, 4, 3, padding="full"), "padding"),
    (lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same"), lambda: torch.nn.Conv2d(4, 4, 3, stride=2, padding="same"),
     "strided"),
    (lambda: nn.Conv2d(4, 4, 3, padding_mode="wrap"), lambda: torch.nn.Conv2d(4, 4, 3, padding_mode="wrap"),
     "padding_mode"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"),
     lambda: torch.nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"), "padding_mode"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, groups=3), lambda: torch.nn.ConvTranspose2d(4, 4, 3, groups=3), "divisible"),
])
def test_bad_configurations_raise_in_init(make, torch_make, match):
    with pytest.raises((ValueError, RuntimeError)):
        torch_make()
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_configurations_torch_rejects_at_forward_raise_in_init():
    x = torch.zeros(1, 4, 8, 8)
    for kwargs in [dict(kernel_size=0), dict(kernel_size=3, stride=0), dict(kernel_size=3, dilation=0),
                   dict(kernel_size=3, padding=-1)]:
        with pytest.raises(RuntimeError):
            torch.nn.Conv2d(4, 4, **kwargs)(x)
        with pytest.raises(ValueError, match="|".join(kwargs)):
            nn.Conv2d(4, 4, **kwargs)
    with pytest.raises(RuntimeError):
        torch.nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=2)(x)
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
        nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=2)


def test_forward_errors_name_the_layer():
    conv = nn.Conv2d(3, 16, kernel_size=3)
    msg = r"Conv2d\(3, 16, kernel_size=3\): expected input of shape \(N, 3, H, W\), got \(8, 4, 32, 32\)"
    with pytest.raises(ValueError, match=msg):
        conv(sg.tensor(np.zeros((8, 4, 32, 32), np.float32)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\), got \(32, 32\)"):
        conv(sg.tensor(np.zeros((32, 32), np.float32)))
    with pytest.raises(RuntimeError):  # torch too: kernel larger than the padded input
        torch.nn.Conv2d(3, 16, 5, padding=1)(torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 16, kernel_size=5\): kernel height 5 .* padded input height 4"):
        nn.Conv2d(3, 16, 5, padding=1)(sg.tensor(np.zeros((1, 3, 2, 9), np.float32)))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 16, kernel_size=5\): kernel width 5 .* padded input width 2"):
        nn.Conv2d(3, 16, 5, padding="valid")(sg.tensor(np.zeros((1, 3, 9, 2), np.float32)))
    with pytest.raises(ValueError, match=r"DepthwiseConv2d\(4, kernel_size=3\): expected input of shape \(N, 4, H, W\)"):
        nn.DepthwiseConv2d(4)(sg.tensor(np.zeros((1, 3, 5, 5), np.float32)))
    with pytest.raises(ValueError, match=r"SeparableConv2d\(4, 8, kernel_size=3\): expected input"):
        nn.SeparableConv2d(4, 8)(sg.tensor(np.zeros((1, 3, 5, 5), np.float32)))
    out = conv(sg.tensor(np.zeros((3, 7, 7), np.float32)))  # unbatched input, as in PyTorch
    assert out.shape == (16, 5, 5)


def test_repr_matches_torch():
    for ours, theirs in [
        (nn.Conv2d(3, 16, 3), torch.nn.Conv2d(3, 16, 3)),
        (nn.Conv2d(3, 16, 3, stride=2), torch.nn.Conv2d(3, 16, 3, stride=2)),
        (nn.Conv2d(4, 8, (3, 5), padding=(1, 2), dilation=2, groups=2, bias=False),
         torch.nn.Conv2d(4, 8, (3, 5), padding=(1, 2), dilation=2, groups=2, bias=False)),
        (nn.Conv2d(4, 8, 3, padding="same"), torch.nn.Conv2d(4, 8, 3, padding="same")),
        (nn.ConvTranspose2d(4, 8, 2, stride=2, output_padding=1),
         torch.nn.ConvTranspose2d(4, 8, 2, stride=2, output_padding=1)),
    ]:
        assert repr(ours) == repr(theirs)
    assert repr(nn.DepthwiseConv2d(32)) == "DepthwiseConv2d(32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.PointwiseConv2d(32, 64, bias=False)) == "PointwiseConv2d(32, 64, bias=False)"
    text = repr(nn.SeparableConv2d(32, 64, stride=2))
    assert "SeparableConv2d(" in text and "32, 64, kernel_size=(3, 3), stride=(2, 2)" in text
    assert "(depthwise): DepthwiseConv2d(32, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)" in text
    assert "(pointwise): PointwiseConv2d(32, 64)" in text


def test_saved_state_is_freed_and_memory_does_not_grow():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.SeparableConv2d(8, 8, norm_act="bn_relu"), nn.Upsample(scale_factor=2),
                          nn.ConvTranspose2d(8, 3, 3, padding=1), nn.AdaptiveAvgPool2d(2))
    x = sg.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32))
    import tracemalloc
    tracemalloc.start()
    sizes = []
    for _ in range(6):
        out = model(x)
        ctx = out._ctx
        out.sum().backward()
        assert ctx.freed and not ctx.__dict__  # saved arrays released after backward
        sizes.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    assert sizes[-1] <= sizes[2] + 64 * 1024


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("kwargs, shape", [
    (dict(kernel_size=3, padding=1), (2, 4, 6, 5)),
    (dict(kernel_size=(2, 3), padding=(1, 2), stride=2, groups=2), (1, 4, 7, 6)),
    (dict(kernel_size=4, padding="same", dilation=(1, 2)), (4, 9, 8)),        # unbatched, asymmetric 'same'
    (dict(kernel_size=3, padding="valid"), (1, 4, 5, 5)),
])
def test_padding_modes_match_torch(mode, kwargs, shape):
    # PyTorch accepts 'reflect', 'replicate' and 'circular' (regression: slimgrad rejected every mode but 'zeros')
    ours, theirs = nn.Conv2d(4, 6, padding_mode=mode, **kwargs), torch.nn.Conv2d(4, 6, padding_mode=mode, **kwargs)
    assert repr(ours) == repr(theirs)
    _compare_layer(ours, theirs, np.random.default_rng(0).standard_normal(shape).astype(np.float32))


def test_device_and_dtype_arguments_like_torch():
    for layer, theirs in [(nn.Conv2d(2, 4, 3, device="cpu", dtype=np.float64),
                           torch.nn.Conv2d(2, 4, 3, device="cpu", dtype=torch.float64)),
                          (nn.ConvTranspose2d(2, 4, 3, stride=2, device=None, dtype=np.float64),
                           torch.nn.ConvTranspose2d(2, 4, 3, stride=2, device=None, dtype=torch.float64))]:
        assert layer.weight.dtype == layer.bias.dtype == np.float64
        x = np.random.default_rng(1).standard_normal((2, 2, 5, 6))
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(layer.weight.data))
            theirs.bias.copy_(torch.tensor(layer.bias.data))
        out = layer(sg.tensor(x))
        assert out.dtype == np.float64
        np.testing.assert_allclose(out.data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="device"):
        nn.Conv2d(2, 4, 3, device="cuda")


@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.Conv2d(4, 6, (3, 2), groups=2, bias=False), lambda: torch.nn.Conv2d(4, 6, (3, 2), groups=2, bias=False)),
    (lambda: nn.ConvTranspose2d(4, 6, 3, groups=2), lambda: torch.nn.ConvTranspose2d(4, 6, 3, groups=2)),
    (lambda: nn.DepthwiseConv2d(4, 5, depth_multiplier=2), lambda: torch.nn.Conv2d(4, 8, 5, padding=2, groups=4)),
    (lambda: nn.PointwiseConv2d(4, 5), lambda: torch.nn.Conv2d(4, 5, 1)),
])
def test_state_dict_round_trips_with_torch(ours, theirs):
    ours, theirs = ours(), theirs()
    state, torch_state = ours.state_dict(), theirs.state_dict()
    assert [(k, np.asarray(v).shape) for k, v in state.items()] == [(k, tuple(v.shape)) for k, v in torch_state.items()]
    theirs.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in state.items()})
    x = np.random.default_rng(0).standard_normal((2, 4, 7, 6)).astype(np.float32)
    np.testing.assert_allclose(ours(sg.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
