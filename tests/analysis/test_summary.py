"""summary(): traced rows with nested names, renderers, measurement, and no side effects on the model."""
import json

import numpy as np
import pytest

import slimgrad as sg
import slimgrad.functional as F
from slimgrad import backend, nn
from slimgrad.analysis import summary


def _mobile_block_net():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.SeparableConv2d(8, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def test_rows_follow_execution_order_with_nested_names():
    s = summary(_mobile_block_net().eval(), (3, 16, 16), batch_size=2)
    names = [r.name for r in s.rows]
    assert names[:3] == ["0", "1", "2"]
    assert "3.depthwise" in names and "3.pointwise" in names
    assert names.index("3.depthwise") < names.index("3.pointwise") < names.index("4")
    assert s.row("3.depthwise").output_shape == (2, 8, 8, 8)
    assert s.row("7").output_shape == (2, 10)
    assert s.row("7").rf is None  # no spatial axes after Flatten
    dw = s.row("3.depthwise")
    assert dw.macs == 2 * 8 * 8 * 8 * 9  # N H' W' C K^2
    assert dw.activation_bytes == 2 * 8 * 8 * 8 * 4  # float32 output
    assert s.totals["macs"] == sum(r.macs for r in s.rows)
    assert s.totals["activation_bytes"] == sum(r.activation_bytes for r in s.rows)
    assert s.row("1").flops == 2 * 2 * 8 * 8 * 8  # eval batch norm: scale + shift per element


def test_renderers_table_markdown_json():
    s = summary(_mobile_block_net(), (3, 16, 16))
    table = str(s)
    assert table == s.to_table()
    assert "2 FLOPs" in table and "3.depthwise" in table and "total" in table
    assert f"{s.totals['macs']:,}" in table
    md = s.to_markdown()
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert len({ln.count("|") for ln in lines}) == 1  # every Markdown row has the same number of cells
    assert len(lines) == len(s.rows) + 3  # header, separator, rows, total
    data = json.loads(s.to_json())
    assert data["totals"]["macs"] == s.totals["macs"]
    assert [r["name"] for r in data["rows"]] == [r.name for r in s.rows]
    assert data["rows"][0]["rf"]["h"] == {"size": 3, "jump": 2, "start": 0}
    assert data["input_shape"] == [1, 3, 16, 16]


def test_summary_has_no_side_effects():
    model = _mobile_block_net()  # training mode: batch norm would update its running statistics
    before = {k: v.copy() for k, v in model.state_dict().items()}
    sg.manual_seed(3)
    expected = backend.default_rng().standard_normal(4)
    sg.manual_seed(3)
    summary(model, (3, 16, 16), batch_size=2, measure=True, repeats=1)
    assert np.array_equal(backend.default_rng().standard_normal(4), expected)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks for m in model.modules())


def test_measure_reports_speed_and_intensity():
    model = nn.Sequential(nn.DepthwiseConv2d(32, 3, padding=1), nn.PointwiseConv2d(32, 32))
    s = summary(model, (32, 16, 16), batch_size=2, measure=True, repeats=2)
    dw, pw = s.rows
    for r in (dw, pw):
        m = r.measured
        assert m["forward_ms"] > 0 and m["backward_ms"] > 0
        assert m["forward_gflops"] == pytest.approx(r.flops / (m["forward_ms"] * 1e6))
        assert m["bytes_moved"] > 0
    # bytes moved = input + weight + output (float32)
    assert pw.measured["bytes_moved"] == 4 * (2 * 32 * 256 * 2 + 32 * 32 + 32)  # + bias
    assert dw.measured["intensity"] < pw.measured["intensity"]  # 9 MACs per output vs 32
    assert "fwd GFLOP/s" in s.to_table() and "measured" in s.totals


def test_shared_module_counts_parameters_once():
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    s = summary(model, (4,))
    assert s.totals["params"] == 20
    assert [r.params for r in s.rows] == [20, 0, 0]
    assert [r.name for r in s.rows] == ["0", "1", "0"]
    assert s.rows[2].macs == s.rows[0].macs == 16


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="input_shape"):
        summary(nn.Linear(2, 2), (0,))
    with pytest.raises(ValueError, match="batch_size"):
        summary(nn.Linear(2, 2), (2,), batch_size=0)


class _FunctionalNet(nn.Module):
    """Layers as modules and as functional calls in forward: the glue ops must be costed, not lost."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.weight = nn.Parameter(np.ones((3, 4), dtype=np.float32))

    def forward(self, x):
        y = F.relu(self.conv(x))
        return F.linear(y.mean(dim=(2, 3)), self.weight)


def test_functional_ops_in_forward_are_costed_as_glue():
    s = summary(_FunctionalNet(), (2, 6, 6), batch_size=2)
    assert [r.type for r in s.rows] == ["Conv2d", "ReLU", "Mean", "Linear"]
    relu, mean, lin = s.rows[1:]
    assert all(r.kind == "op" for r in (relu, mean, lin))
    assert relu.flops == 2 * 4 * 36
    assert mean.flops == 2 * 4 * 36 and mean.rf is None
    assert lin.macs == 2 * 4 * 3 and lin.params == 12  # the container's own weight, counted where it is used
    assert s.totals["params"] == 4 * 2 * 9 + 4 + 12 and not s.partial


class _Twice(sg.Function):
    def forward(self, a):
        return a * 2.0

    def backward(self, g):
        return g * 2.0


class _CustomOpNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return _Twice.apply(self.fc(x))


def test_unknown_glue_operation_is_flagged():
    s = summary(_CustomOpNet(), (3,))
    row = s.row("_twice")
    assert not row.known and row.kind == "op"
    assert s.partial and "PARTIAL" in s.to_table()


def test_mobilenet_v1_matches_the_paper():
    """Howard et al. 2017, Table 1/8: 1.0 MobileNet-224 has 569 million mult-adds and 4.2 million parameters."""
    from slimgrad.models import get_model

    s = summary(get_model("mobilenet_v1").eval(), (3, 224, 224))
    assert round(s.totals["macs"] / 1e6) == 569
    assert round(s.totals["params"] / 1e5) == 42
    assert not s.partial


def test_a_failing_forward_names_the_input_shape():
    with pytest.raises(ValueError, match=r"summary: .*Conv2d.*\(1, 1, 3, 8, 8\)"):
        summary(nn.Conv2d(3, 4, 3), (1, 3, 8, 8))  # the batch dimension given twice


@pytest.mark.parametrize("width,size,macs_m,params_m", [
    (0.75, 224, 325, 2.6), (0.5, 224, 149, 1.3), (0.25, 224, 41, 0.5), (1.0, 160, 291, 4.2), (1.0, 128, 186, 4.2)])
def test_mobilenet_v1_width_and_resolution_rows(width, size, macs_m, params_m):
    """Howard et al. 2017, Tables 6 and 7 (mult-adds and parameters in millions, as printed)."""
    from slimgrad.models import get_model

    s = summary(get_model("mobilenet_v1", width_mult=width).eval(), (3, size, size))
    assert abs(s.totals["macs"] / 1e6 - macs_m) < 1  # the paper truncates: 290.7 M is printed 290
    assert round(s.totals["params"] / 1e6, 1) == params_m


class _KeywordCalls(nn.Module):
    """Layers called with keyword arguments: their inputs must still be found."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.ConvTranspose2d(4, 2, 2, stride=2)

    def forward(self, x):
        return self.up(input=self.conv(input=x))


def test_layers_called_with_keyword_arguments():
    s = summary(_KeywordCalls(), (3, 8, 8))
    up = s.row("up")
    assert up.macs == 8 * 8 * 4 * 2 * 2 * 2  # over the input positions of the transposed conv
    assert up.backward_flops == 2 * 2 * up.macs + 2 * 16 * 16  # grad_input, grad_weight, grad_bias
    assert up.rf[0].size == 3 and up.rf[0].jump == 0.5  # k=2, s=2: every output reads one input
    assert [r.name for r in s.rows] == ["conv", "up"]


def test_summary_under_no_grad_still_sees_the_glue():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return self.conv(x) + x

    expected = summary(Residual(), (3, 6, 6)).totals
    with sg.no_grad():
        s = summary(Residual(), (3, 6, 6), measure=True, repeats=1)
    assert [r.name for r in s.rows] == ["conv", "add"]
    assert s.totals["flops"] == expected["flops"] and s.totals["backward_flops"] == expected["backward_flops"]
    assert s.row("conv").measured["backward_ms"] is not None


@pytest.mark.parametrize("align", [False, True])
def test_functional_conv_pool_resize_match_their_layers(align):
    """F.conv2d / F.max_pool2d / F.avg_pool2d / F.interpolate in a forward are costed and move the receptive
    field exactly like the equivalent layers (they used to pass the field through unchanged and be partial)."""
    weight = np.random.default_rng(0).standard_normal((2, 1, 3, 3)).astype(np.float32)

    class Functional(nn.Module):  # a container (it has a child): what its forward does between layers is glue
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(sg.tensor(weight))
            self.act = nn.ReLU()

        def forward(self, x):
            y = F.avg_pool2d(F.max_pool2d(F.conv2d(x, self.weight, stride=2, padding=1), 3, stride=2, padding=1), 2)
            y = F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=align)
            return self.act(F.adaptive_avg_pool2d(F.interpolate(y, scale_factor=3, mode="nearest"), 5))

    layers = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1, bias=False), nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2),
                           nn.Upsample(scale_factor=2, mode="bilinear", align_corners=align),
                           nn.Upsample(scale_factor=3, mode="nearest"), nn.AdaptiveAvgPool2d(5), nn.ReLU())
    a, b = summary(Functional(), (1, 32, 32)), summary(layers, (1, 32, 32))
    assert not a.partial and len(a.rows) == len(b.rows) == 7
    for fn_row, layer_row in zip(a.rows, b.rows):
        assert fn_row.rf == layer_row.rf
        assert (fn_row.macs, fn_row.flops, fn_row.backward_flops) == (
            layer_row.macs, layer_row.flops, layer_row.backward_flops)
    assert a.rows[2].rf[0].size == 11 and a.rows[2].rf[0].jump == 8
