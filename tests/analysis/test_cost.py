"""Cost rules: closed forms (MobileNet Table 3), MACs counted by instrumented reference loops, backward FLOPs,
parameter totals, unknown layers."""
import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
from slimgrad import nn
from slimgrad.analysis import compare_separable, conv_cost, register_rule, summary
from slimgrad.analysis.cost import Cost


# ----------------------------------------------------------------------------- MobileNet Table 3
def test_mobilenet_table3_compare_separable():
    c = compare_separable(M=512, N=512, K=3, D_F=14)
    assert c["standard_macs"] == 462_422_016
    assert c["separable_macs"] == 52_283_392
    assert c["standard_params"] == 2_359_296
    assert c["separable_params"] == 266_752
    # ratio == 1/N + 1/K^2 exactly: compare as fractions of the integer counts
    assert Fraction(c["separable_macs"], c["standard_macs"]) == Fraction(1, 512) + Fraction(1, 9)
    assert c["ratio"] == pytest.approx(1 / 512 + 1 / 9, rel=1e-12)
    assert c["formula_value"] == pytest.approx(c["ratio"], rel=1e-12)


def test_mobilenet_table3_summary_of_real_layers():
    std = summary(nn.Conv2d(512, 512, 3, padding=1, bias=False), (512, 14, 14))
    sep = summary(nn.SeparableConv2d(512, 512, bias=False), (512, 14, 14))
    assert std.rows[0].output_shape == sep.rows[-1].output_shape == (1, 512, 14, 14)
    assert std.totals["macs"] == 462_422_016
    assert sep.totals["macs"] == 52_283_392
    assert std.totals["params"] == 2_359_296
    assert sep.totals["params"] == 266_752
    assert Fraction(sep.totals["macs"], std.totals["macs"]) == Fraction(1, 512) + Fraction(1, 9)
    names = [r.name for r in sep.rows]
    assert "depthwise" in names and "pointwise" in names
    # the standard conv with its default bias: same MACs, 512 more parameters, one add per output for the bias
    biased = summary(nn.Conv2d(512, 512, 3, padding=1), (512, 14, 14))
    assert biased.totals["macs"] == 462_422_016 and biased.totals["params"] == 2_359_296 + 512
    assert biased.totals["flops"] == 2 * 462_422_016 + 512 * 14 * 14


@given(m=st.integers(1, 8), n=st.integers(1, 8), k=st.integers(1, 5), d=st.integers(1, 9),
       batch=st.integers(1, 3), bias=st.booleans())
def test_conv_cost_kinds_are_consistent(m, n, k, d, batch, bias):
    std = conv_cost(m, n, k, d, "standard", bias=bias, batch_size=batch)
    dw = conv_cost(m, m, k, d, "depthwise", bias=bias, batch_size=batch)
    pw = conv_cost(m, n, 1, d, "pointwise", bias=bias, batch_size=batch)
    sep = conv_cost(m, n, k, d, "separable", bias=bias, batch_size=batch)
    assert std["macs"] == k * k * m * n * d * d * batch
    assert sep["macs"] == dw["macs"] + pw["macs"]
    assert sep["params"] == dw["params"] + pw["params"]
    assert std["flops"] == 2 * std["macs"] + (batch * n * d * d if bias else 0)


def test_conv_cost_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        conv_cost(4, 4, 3, 8, kind="dilated")
    with pytest.raises(ValueError, match="in_channels"):
        conv_cost(0, 4, 3, 8)
    with pytest.raises(ValueError, match="must be a multiple of in_channels=4"):
        conv_cost(4, 6, 3, 8, kind="depthwise")


def test_depthwise_cost_with_a_depth_multiplier_matches_the_layer():
    """PyTorch's depthwise conv with ``out_channels = 2 * in_channels`` (groups = in_channels)."""
    closed = conv_cost(4, 8, 3, 6, kind="depthwise", bias=True)
    s = summary(nn.Conv2d(4, 8, 3, padding=1, groups=4), (4, 6, 6))
    assert closed["macs"] == s.totals["macs"] == 3 * 3 * 8 * 6 * 6
    assert closed["params"] == s.totals["params"] == 3 * 3 * 8 + 8 and closed["flops"] == s.totals["flops"]


# ----------------------------------------------------------------------------- counted by reference loops
def _reference_conv(x, w, b, stride, padding, dilation, groups):
    """Explicit loops: forward output, grads for (x, w, b) given grad_output g, and multiply-add counts."""
    n, cin, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, cout, oh, ow))
    macs = 0
    cout_g = cout // groups
    for b_, co, i, j in itertools.product(range(n), range(cout), range(oh), range(ow)):
        g0 = (co // cout_g) * cin_g
        for ci, u, v in itertools.product(range(cin_g), range(kh), range(kw)):
            out[b_, co, i, j] += xp[b_, g0 + ci, i * stride + u * dilation, j * stride + v * dilation] * w[co, ci, u, v]
            macs += 1
        if b is not None:
            out[b_, co, i, j] += b[co]
    return out, macs


def _reference_conv_backward(x, w, g, stride, padding, dilation, groups):
    n, cin, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    gxp, gw = np.zeros_like(xp), np.zeros_like(w)
    macs = 0
    cout_g = cout // groups
    for b_, co, i, j in itertools.product(*map(range, g.shape)):
        g0 = (co // cout_g) * cin_g
        for ci, u, v in itertools.product(range(cin_g), range(kh), range(kw)):
            r, c = i * stride + u * dilation, j * stride + v * dilation
            gxp[b_, g0 + ci, r, c] += g[b_, co, i, j] * w[co, ci, u, v]
            gw[co, ci, u, v] += g[b_, co, i, j] * xp[b_, g0 + ci, r, c]
            macs += 2
    return gxp[:, :, padding:padding + h, padding:padding + wd], gw, macs


@given(data=st.data())
def test_conv_macs_equal_counted_multiply_adds(data):
    groups = data.draw(st.sampled_from([1, 2]))
    cin = groups * data.draw(st.integers(1, 2))
    cout = groups * data.draw(st.integers(1, 2))
    k = data.draw(st.integers(1, 3))
    stride, dilation = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    padding = data.draw(st.integers(0, 1))
    size = dilation * (k - 1) + 1 + data.draw(st.integers(0, 3))
    bias = data.draw(st.booleans())
    layer = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias)
    x = np.random.default_rng(0).standard_normal((1, cin, size, size))
    w = layer.weight.data.astype(np.float64)
    b = layer.bias.data.astype(np.float64) if bias else None
    ref, macs = _reference_conv(x, w, b, stride, padding, dilation, groups)
    out = layer(sg.tensor(x.astype(np.float32)))
    np.testing.assert_allclose(out.data, ref, rtol=1e-4, atol=1e-5)  # the loops compute this very layer
    s = summary(layer, (cin, size, size), input_requires_grad=True)
    assert s.totals["macs"] == macs
    # backward: the reference's grad_input + grad_weight loops, checked against torch, then counted
    g = np.random.default_rng(1).standard_normal(ref.shape)
    gx, gw, back_macs = _reference_conv_backward(x, w, g, stride, padding, dilation, groups)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, None, stride, padding, dilation, groups).backward(torch.tensor(g))
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-9, atol=1e-9)
    bias_adds = ref.size if bias else 0  # grad_bias sums grad_output: one add per output element
    assert back_macs == 2 * macs
    assert s.totals["backward_flops"] == 2 * back_macs + bias_adds == 2 * macs * 2 + bias_adds


def test_conv_backward_of_first_layer_skips_grad_input():
    layer = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    s = summary(layer, (3, 10, 10))  # data input: only grad_weight is computed
    assert s.totals["backward_flops"] == 2 * s.totals["macs"]
    frozen = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    frozen.weight.requires_grad = False
    s2 = summary(frozen, (3, 10, 10), input_requires_grad=True)  # frozen: only grad_input
    assert s2.totals["backward_flops"] == 2 * s2.totals["macs"]
    assert s2.totals["params_frozen"] == frozen.weight.data.size and s2.totals["params_trainable"] == 0


@given(cin=st.integers(1, 3), cout=st.integers(1, 3), k=st.integers(1, 3), stride=st.integers(1, 3),
       size=st.integers(1, 4))
def test_conv_transpose_macs_counted_over_input_positions(cin, cout, k, stride, size):
    layer = nn.ConvTranspose2d(cin, cout, k, stride=stride, bias=False)
    x = np.random.default_rng(0).standard_normal((1, cin, size, size))
    w = layer.weight.data.astype(np.float64)  # (C_in, C_out, kh, kw)
    oh = (size - 1) * stride + k
    ref = np.zeros((1, cout, oh, oh))
    macs = 0
    for ci, i, j in itertools.product(range(cin), range(size), range(size)):  # scatter every input position
        for co, u, v in itertools.product(range(cout), range(k), range(k)):
            ref[0, co, i * stride + u, j * stride + v] += x[0, ci, i, j] * w[ci, co, u, v]
            macs += 1
    np.testing.assert_allclose(layer(sg.tensor(x.astype(np.float32))).data, ref, rtol=1e-4, atol=1e-5)
    s = summary(layer, (cin, size, size), input_requires_grad=True)
    assert s.totals["macs"] == macs
    assert s.totals["backward_flops"] == 2 * macs * 2


@given(rows=st.integers(1, 4), fin=st.integers(1, 5), fout=st.integers(1, 5), bias=st.booleans())
def test_linear_macs_equal_counted_multiply_adds(rows, fin, fout, bias):
    layer = nn.Linear(fin, fout, bias=bias)
    x = np.random.default_rng(0).standard_normal((rows, fin))
    w = layer.weight.data.astype(np.float64)
    ref, macs = np.zeros((rows, fout)), 0
    for r, o, i in itertools.product(range(rows), range(fout), range(fin)):
        ref[r, o] += x[r, i] * w[o, i]
        macs += 1
    if bias:
        ref += layer.bias.data
    np.testing.assert_allclose(layer(sg.tensor(x.astype(np.float32))).data, ref, rtol=1e-4, atol=1e-5)
    s = summary(layer, (fin,), batch_size=rows, input_requires_grad=True)
    assert s.totals["macs"] == macs
    assert s.totals["flops"] == 2 * macs + (rows * fout if bias else 0)
    assert s.totals["backward_flops"] == 4 * macs + (rows * fout if bias else 0)


def test_pooling_and_activation_flops_follow_the_documented_rules():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(3, stride=1),
                          nn.Flatten())
    s = summary(model, (2, 8, 8), batch_size=2)
    relu, maxp, avgp, flat = s.rows[1:]
    assert relu.flops == 2 * 4 * 8 * 8 and relu.macs == 0
    assert maxp.output_shape == (2, 4, 4, 4) and maxp.flops == (2 * 2 - 1) * 2 * 4 * 4 * 4
    assert avgp.output_shape == (2, 4, 2, 2) and avgp.flops == 3 * 3 * 2 * 4 * 2 * 2
    assert flat.flops == 0 and flat.known


def test_every_activation_layer_has_a_rule_and_keeps_the_field():
    acts = [nn.ReLU(), nn.LeakyReLU(), nn.Sigmoid(), nn.Tanh(), nn.GELU(), nn.ELU(), nn.SiLU(), nn.Softplus()]
    s = summary(nn.Sequential(nn.Conv2d(1, 2, 3), *acts), (1, 6, 6))
    assert not s.partial and [r.type for r in s.rows[1:]] == [type(a).__name__ for a in acts]
    for row in s.rows[1:]:
        assert row.rf == s.rows[0].rf and row.macs == 0
    assert (s.rows[1].flops, s.rows[1].backward_flops) == (2 * 4 * 4, 2 * 4 * 4)  # ReLU: 1 compare per element


class _Functional(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.conv, self.fn = nn.Conv2d(1, 2, 3), fn

    def forward(self, x):
        return self.fn(self.conv(x))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "elu", "silu", "softplus"])
def test_activation_layer_and_functional_call_cost_the_same(name):
    """A layer (``nn.ELU()``) and the same activation called in ``forward`` (``F.elu``) count the same FLOPs."""
    import slimgrad.functional as F

    layer = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
             "elu": nn.ELU, "silu": nn.SiLU, "softplus": nn.Softplus}[name]()
    as_layer = summary(nn.Sequential(nn.Conv2d(1, 2, 3), layer), (1, 6, 6)).rows[-1]
    as_call = summary(_Functional(getattr(F, name)), (1, 6, 6)).rows[-1]
    assert as_layer.type == as_call.type == type(layer).__name__
    assert (as_layer.flops, as_layer.backward_flops) == (as_call.flops, as_call.backward_flops)
    assert as_layer.flops >= 2 * 4 * 4  # at least one operation per output element


# ----------------------------------------------------------------------------- totals and unknown layers
@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=5), bias=st.booleans(), freeze=st.integers(0, 3))
def test_parameter_totals_equal_the_model_parameters(widths, bias, freeze):
    layers = []
    for a, b in zip(widths, widths[1:]):
        layers += [nn.Linear(a, b, bias=bias), nn.ReLU()]
    model = nn.Sequential(*layers)
    for p in list(model.parameters())[:freeze]:
        p.requires_grad = False
    s = summary(model, (widths[0],))
    params = list(model.parameters())
    assert s.totals["params"] == sum(p.data.size for p in params)
    assert s.totals["params_trainable"] == sum(p.data.size for p in params if p.requires_grad)
    assert sum(r.params for r in s.rows) == s.totals["params"]


class _Mystery(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(4, dtype=np.float32))

    def forward(self, x):
        return x * self.scale


def test_unknown_layer_gets_a_warning_row_and_partial_totals():
    model = nn.Sequential(nn.Linear(3, 4), _Mystery(), nn.Linear(4, 2))
    s = summary(model, (3,))
    row = s.row("1")
    assert not row.known and row.type == "_Mystery"
    assert any("WARNING" in n and "_Mystery" in n for n in row.notes)
    assert s.partial and s.totals["unknown_layers"] == ["1"]
    assert s.totals["params"] == 3 * 4 + 4 + 4 + 4 * 2 + 2  # its parameters still count
    table = s.to_table()
    assert "PARTIAL" in table and "_Mystery" in table and "(!)" in table
    assert s.to_dict()["totals"]["partial"] is True
    # a registered rule makes it known and complete
    register_rule(_Mystery, lambda m, call: Cost(0, call.out_elems, 0))
    s2 = summary(model, (3,))
    assert not s2.partial and s2.row("1").flops == 4


def test_known_model_is_not_partial():
    s = summary(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), (3,))
    assert not s.partial and s.totals["warnings"] == []


def test_batch_norm_follows_its_backward_formula():
    """Per element: eval y = x a + b (2), train 7; backward train = 3 reductions (grad_beta: 1, grad_gamma: 2)
    + 4 for grad_input = k (g - sum g / m - x_hat sum(g x_hat) / m); eval: g a (1) + 3 for the affine grads."""
    bn = nn.BatchNorm2d(3)
    e = 2 * 3 * 4 * 4
    train = summary(nn.Sequential(nn.Conv2d(3, 3, 1), bn), (3, 4, 4), batch_size=2).row("1")
    assert (train.flops, train.backward_flops) == (7 * e, 7 * e)
    evaluated = summary(nn.Sequential(nn.Conv2d(3, 3, 1), bn).eval(), (3, 4, 4), batch_size=2).row("1")
    assert (evaluated.flops, evaluated.backward_flops) == (2 * e, 4 * e)
    first = summary(bn.train(), (3, 4, 4), batch_size=2).rows[0]  # data input: only the affine gradients
    assert first.backward_flops == 3 * e
