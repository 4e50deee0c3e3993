"""Receptive fields: Yu & Koltun's context module, dilated stacks, strided stacks against the closed form and
against the support of real input gradients (PyTorch as the oracle), transposed conv, upsampling, residuals."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from slimgrad import nn
from slimgrad.analysis import AxisRF, conv_rf, conv_transpose_rf, receptive_field, stack_rf, summary, upsample_rf


def _sizes(rows):
    return [r["rf"][0].size for r in rows]


def test_yu_koltun_context_module():
    dilations = [1, 1, 2, 4, 8, 16, 1]
    layers = [nn.Conv2d(2, 2, 3, padding=d, dilation=d) for d in dilations] + [nn.Conv2d(2, 2, 1)]
    rows = receptive_field(layers, (2, 70, 70))
    assert _sizes(rows) == [3, 5, 9, 17, 33, 65, 67, 67]
    assert all(r["rf"][0] == r["rf"][1] for r in rows)
    assert all(r["rf"][0].jump == 1 and r["rf"][0].start == 0 for r in rows)  # 'same' padding keeps centres
    assert [f.size for f in stack_rf([(3, 1, d, d) for d in dilations] + [(1, 1, 0, 1)])] == [3, 5, 9, 17, 33,
                                                                                               65, 67, 67]


def test_stacked_dilations_1_2_4():
    layers = [nn.Conv2d(1, 1, 3, dilation=d, padding=d) for d in (1, 2, 4)]
    assert _sizes(receptive_field(layers, (1, 20, 20))) == [3, 7, 15]


def _torch_fields(torch_model, size, channels=1, width=None):
    """Size, jump and start of the field along H from the support of input gradients of interior units.

    Rows are separable (the H-field of output row i is the same in any column), so one batched backward
    gives them all: sample i of the batch back-propagates from output row i only."""
    width = width or size
    rows_out = torch_model(torch.ones(1, channels, size, width)).shape[-2]
    x = torch.ones(rows_out, channels, size, width, requires_grad=True)
    out = torch_model(x)
    index = torch.arange(rows_out)
    out[index, 0, index, :].sum().backward()
    support = (x.grad.abs().sum(dim=(1, 3)) > 0).numpy()  # (output row, input row)
    spans = {}
    for i in range(rows_out):
        rows = np.nonzero(support[i])[0]
        if len(rows):
            spans[i] = (rows[0], rows[-1])
    extent = max(hi - lo + 1 for lo, hi in spans.values())
    # units whose field is not clipped by the border (or the padding) have the full extent
    centres = {i: (lo + hi) / 2 for i, (lo, hi) in spans.items() if hi - lo + 1 == extent}
    return extent, centres


def _ones(module):
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(1.0)
    return module


@given(spec=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(0, 1), st.booleans()),
                     min_size=1, max_size=4))
def test_strided_stacks_match_closed_form_and_gradient_support(spec):
    layers, torch_layers = [], []
    for k, s, p, pool in spec:
        p = min(p, k // 2)
        if pool:
            layers.append(nn.MaxPool2d(k, stride=s, padding=p))
            torch_layers.append(torch.nn.AvgPool2d(k, stride=s, padding=p))  # same window, no argmax routing
        else:
            layers.append(nn.Conv2d(1, 1, k, stride=s, padding=p))
            torch_layers.append(_ones(torch.nn.Conv2d(1, 1, k, stride=s, padding=p, bias=False)))
    jump, r = 1, 1
    for k, s, _, _ in spec:  # r = 1 + sum_l (k_l - 1) prod_{i<l} s_i
        r += (k - 1) * jump
        jump *= s
    size = 2 * r + 4 * jump + 8
    rows = receptive_field(layers, (1, size, size))
    last = rows[-1]["rf"][0]
    assert last.size == r and last.jump == jump
    extent, centres = _torch_fields(torch.nn.Sequential(*torch_layers), size, width=r + 2)
    assert extent == r
    for i, c in centres.items():  # centre of unit i = start + i * jump
        assert c == pytest.approx(float(last.start + i * last.jump))


@given(k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2))
def test_transposed_conv_rule_matches_gradient_support(k, s, p, d):
    p = min(p, d * (k - 1))
    layer = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, dilation=d)
    size = 12
    rf = receptive_field([layer], (1, size, size))[0]["rf"][0]
    assert rf == conv_transpose_rf(AxisRF(), k, s, p, d)
    assert rf.jump == pytest.approx(1 / s)
    t = _ones(torch.nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False))
    extent, centres = _torch_fields(t, size)
    assert extent == rf.size  # the largest field over the s output phases
    if s == 1:  # uniform fields: the centres follow start + i * jump exactly
        for i, c in centres.items():
            assert c == pytest.approx(float(rf.start + i * rf.jump))
    else:  # one period of s outputs moves the field by exactly one input pixel
        for i, c in centres.items():
            if i + s in centres:
                assert centres[i + s] - c == pytest.approx(1.0)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("bilinear", False), ("bilinear", True)])
@pytest.mark.parametrize("scale", [2, 3])
def test_upsample_rule_matches_gradient_support(mode, align, scale):
    size = 10
    kwargs = {} if align is None else {"align_corners": align}
    layer = nn.Upsample(scale_factor=scale, mode=mode, **kwargs)
    rows = receptive_field([nn.Conv2d(1, 1, 3), layer, nn.Conv2d(1, 1, 3)], (1, size, size))
    up, last = rows[1]["rf"][0], rows[2]["rf"][0]
    t = torch.nn.Sequential(_ones(torch.nn.Conv2d(1, 1, 3, bias=False)),
                            torch.nn.Upsample(scale_factor=scale, mode=mode, **kwargs))
    extent, _ = _torch_fields(t, size)
    assert up.size == extent
    if align:
        assert up.jump == pytest.approx((size - 2 - 1) / ((size - 2) * scale - 1))
    else:
        assert up.jump == pytest.approx(1 / scale)
    t2 = torch.nn.Sequential(*t, _ones(torch.nn.Conv2d(1, 1, 3, bias=False)))
    extent2, _ = _torch_fields(t2, size)
    # after a fractional jump the fields depend on the output phase: the reported size is their continuous
    # (phase-average) value, within one step of the coarser grid of every unit's exact field
    assert abs(last.size - extent2) < 1


def test_upsample_rf_algebra():
    assert upsample_rf(AxisRF(), 4, 8, "nearest") == AxisRF(1, 0.5, 0)
    assert upsample_rf(AxisRF(3, 2, 1), 4, 8, "bilinear") == AxisRF(5, 1, 1)
    with pytest.raises(ValueError, match="mode"):
        upsample_rf(AxisRF(), 4, 8, "bicubic")


class _Residual(nn.Module):
    def __init__(self, channels, skip_conv=False):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.skip = nn.Conv2d(channels, channels, 5, padding=2) if skip_conv else None

    def forward(self, x):
        y = self.conv2(self.relu(self.conv1(x)))
        return y + (self.skip(x) if self.skip is not None else x)


def test_residual_block_alignment_is_reported():
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), _Residual(4), nn.ReLU())
    s = summary(model, (2, 12, 12))
    names = [r.name for r in s.rows]
    assert names == ["0", "1.conv1", "1.relu", "1.conv2", "1.add", "2"]
    add = s.row("1.add")
    assert add.kind == "op" and add.type == "Add"
    assert add.rf[0].size == 7 and add.rf[1].size == 7  # max of 7 (conv path) and 3 (skip)
    assert not add.aligned and any("different receptive fields" in n for n in add.notes)
    assert any("1.conv2" in n and "0" in n for n in add.notes)
    assert s.totals["misaligned_merges"] == ["1.add"]
    assert add.flops == 4 * 12 * 12 and add.backward_flops == 0  # one add per element; gradient passes through
    assert s.row("2").rf[0].size == 7
    # the fork before the block: conv "0"'s output gets two gradients (conv1 and the skip), summed in backward
    conv0 = s.row("0")
    assert conv0.macs == 12 * 12 * 4 * 2 * 9
    assert conv0.backward_flops == 2 * conv0.macs + 4 * 144 + 4 * 144  # grad_weight, grad_bias, the sum
    assert any("used 2 times" in n for n in conv0.notes)


def test_residual_with_equal_fields_is_aligned():
    block = _Residual(2, skip_conv=True)  # 3x3 then 3x3 = 5, skip 5x5 = 5
    s = summary(block, (2, 9, 9))
    add = s.row("add")
    assert add.aligned and add.rf[0] == AxisRF(5, 1, 0)


def test_conv_rf_effective_padding():
    f = conv_rf(AxisRF(), 3, stride=2, padding=1)
    assert f == AxisRF(3, 2, 0)
    f = conv_rf(f, 3, stride=2, padding=0)
    assert f == AxisRF(7, 4, 2)


def _effective_padding(f):
    """Araujo et al. (Distill 2019) report P = (r - 1)/2 - start: how far the first field reaches left of 0."""
    return (f.size - 1) / 2 - f.start


def test_alexnet_and_vgg16_match_published_receptive_fields():
    """Araujo, Norris & Sim, "Computing receptive fields of CNNs" (Distill 2019), table of architectures:
    AlexNet r=195, S=32, P=64 and VGG-16 r=212, S=32, P=90, both at the last (pool5) feature map."""
    alex = [nn.Conv2d(3, 2, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(2, 2, 5, padding=2),
            nn.MaxPool2d(3, 2)] + [nn.Conv2d(2, 2, 3, padding=1) for _ in range(3)] + [nn.MaxPool2d(3, 2)]
    rows = receptive_field(alex, (3, 227, 227))
    assert _sizes(rows)[-2] == 163  # conv5 (r = 11 + 2*4 + 4*8 + 2*8 + 3 * 2*16)
    pool5 = rows[-1]["rf"][0]
    assert (pool5.size, pool5.jump, _effective_padding(pool5)) == (195, 32, 64)
    vgg = []
    for convs in (2, 2, 3, 3, 3):
        vgg += [nn.Conv2d(1, 1, 3, padding=1) for _ in range(convs)] + [nn.MaxPool2d(2, 2)]
    rows = receptive_field(vgg, (1, 224, 224))
    assert _sizes(rows)[-2] == 196  # conv5_3
    pool5 = rows[-1]["rf"][0]
    assert (pool5.size, pool5.jump, _effective_padding(pool5)) == (212, 32, 90)
    assert rows[-1]["rf"][0] == rows[-1]["rf"][1]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_functional_pad_shifts_the_field_like_conv_padding(mode):
    import slimgrad.functional as F

    class Padded(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, stride=2)

        def forward(self, x):
            return self.conv(F.pad(x, (2, 1, 1, 0), mode=mode))  # left 2, right 1, top 1, bottom 0

    rows = summary(Padded(), (1, 9, 9)).rows
    assert rows[-1].rf == summary(nn.Conv2d(1, 1, 3, stride=2, padding=(1, 2)), (1, 9, 9)).rows[0].rf
    assert rows[0].rf == (AxisRF(1, 1, -1), AxisRF(1, 1, -2))


@pytest.mark.parametrize("mode, pad, size, start", [
    ("circular", (3, 0, 0, 0), 3, (0, -3)),     # left width == size: the gather's index starts with a full period
    ("replicate", (2, 0, 2, 0), 1, (-2, -2)),   # a size-1 axis: the index is all zeros
    ("reflect", (2, 1, 1, 0), 5, (-1, -2)),
])
def test_functional_pad_shift_is_the_left_width(mode, pad, size, start):
    """The padded tensor's pixel 0 sits ``left`` pixels before the input's pixel 0, whatever the gather."""
    import slimgrad.functional as F

    class Padded(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            return self.conv(F.pad(x, pad, mode=mode))

    rf = summary(Padded(), (1, size, size)).rows[0].rf
    assert (rf[0].start, rf[1].start) == start
