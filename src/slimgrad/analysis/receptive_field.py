"""Receptive-field algebra: how far back in the input one output unit sees, per spatial axis.

Each feature map's units, along one axis, are described by three numbers in *input pixel* units
(pixel ``i`` of the input has its centre at ``i``):

* ``size``  r: the width of the input region one unit depends on;
* ``jump``  j: the distance in the input between two neighbouring units (the product of the strides);
* ``start``: the centre of the first unit's field (``-p`` shifts it left: the effective padding).

The input itself is ``r = 1, j = 1, start = 0``. A layer with kernel k, stride s, padding p, dilation d
(``k_eff = d (k - 1) + 1``) maps ``(r, j, start)`` to::

    conv / pool:        r' = r + (k_eff - 1) j      j' = j s      start' = start + ((k_eff - 1)/2 - p) j

    transposed conv:    j' = j / s                  start' = start + (p - (k_eff - 1)/2) j / s
                        output o reads inputs (o + p - t d) / s for the taps t with t d = o + p (mod s), so
                        r' = r + max over the s phases of (t_max - t_min) d / s  * j
                        (exact and integral; the continuous estimate (k_eff - 1) j' over-counts when s does
                        not divide k_eff - 1, e.g. k=4, s=2 gives r + j, not r + 1.5 j).

    upsample by s:      j' = j / s  (jumps may become fractional: 1/2 means two outputs per input step);
                        nearest r' = r, start' = start; bilinear (align_corners=False) reads 2 neighbours:
                        r' = r + j, start' = start + max(0, 1/(2s) - 1/2) j;
                        bilinear align_corners=True: j' = j (in-1)/(out-1), r' = r + j, start' = start.

Values are exact :class:`fractions.Fraction` s. After a transposed conv or an upsampling the fields differ
between output phases: the size reported for that layer is the largest; layers further down apply the
formulas above to the fractional jump, which gives the phase average, within one step of the coarser grid of
every unit's exact field (e.g. a 3-tap conv after 3x nearest upsampling: 1 + 2/3, exact fields 1 or 2).
Where paths with different fields are added (a residual connection) the largest field is reported and the
merge is flagged as misaligned (:func:`merge_rf`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..nn.module import Module
from .rules import lookup_rule


@dataclass(frozen=True)
class AxisRF:
    """Receptive field along one axis: ``size``, ``jump`` and ``start`` (see the module docstring)."""

    size: Fraction = Fraction(1)
    jump: Fraction = Fraction(1)
    start: Fraction = Fraction(0)

    def as_tuple(self) -> tuple:
        return tuple(_plain(v) for v in (self.size, self.jump, self.start))


def _plain(v):
    v = Fraction(v)
    return int(v) if v.denominator == 1 else float(v)


def _pair(v) -> tuple:
    return (v, v) if isinstance(v, (int, float, Fraction)) else tuple(v)


def conv_rf(rf: AxisRF, kernel_size: int, stride: int = 1, padding=0, dilation: int = 1) -> AxisRF:
    """One axis through a convolution or pooling window (see the module docstring)."""
    k_eff = dilation * (kernel_size - 1) + 1
    return AxisRF(rf.size + (k_eff - 1) * rf.jump, rf.jump * stride,
                  rf.start + (Fraction(k_eff - 1, 2) - Fraction(padding)) * rf.jump)


def conv_transpose_rf(rf: AxisRF, kernel_size: int, stride: int = 1, padding: int = 0,
                      dilation: int = 1) -> AxisRF:
    """One axis through a transposed convolution: exact largest span over the ``stride`` output phases."""
    span = 0
    for phase in range(stride):
        taps = [t for t in range(kernel_size) if (t * dilation) % stride == phase]
        if taps:
            span = max(span, (taps[-1] - taps[0]) * dilation // stride)
    k_eff = dilation * (kernel_size - 1) + 1
    return AxisRF(rf.size + span * rf.jump, rf.jump / stride,
                  rf.start + (Fraction(padding) - Fraction(k_eff - 1, 2)) / stride * rf.jump)


def upsample_rf(rf: AxisRF, size_in: int, size_out: int, mode: str = "nearest",
                align_corners: bool = False, scale_factor=None) -> AxisRF:
    """One axis through ``Upsample``/``interpolate`` from ``size_in`` to ``size_out`` samples."""
    scale = Fraction(scale_factor).limit_denominator(10 ** 6) if scale_factor else Fraction(size_out, size_in)
    if mode == "nearest":
        return AxisRF(rf.size, rf.jump / scale, rf.start)
    if mode not in ("bilinear", "linear"):
        raise ValueError(f"upsample_rf: mode must be 'nearest', 'linear' or 'bilinear', got {mode!r}")
    if align_corners:
        ratio = Fraction(size_in - 1, size_out - 1) if size_out > 1 else Fraction(0)
        grow = 0 if ratio.denominator == 1 else 1
        return AxisRF(rf.size + grow * rf.jump, rf.jump * ratio, rf.start)
    grow = 0 if scale == 1 else 1
    shift = max(Fraction(0), 1 / (2 * scale) - Fraction(1, 2))
    return AxisRF(rf.size + grow * rf.jump, rf.jump / scale, rf.start + shift * rf.jump)


def stack_rf(layers, rf: AxisRF | None = None) -> list:
    """Fields after each of ``layers`` = [(kernel_size, stride, padding, dilation), ...] on one axis."""
    rf = rf or AxisRF()
    out = []
    for layer in layers:
        rf = conv_rf(rf, *layer)
        out.append(rf)
    return out


def merge_rf(fields) -> tuple:
    """Merge the fields of tensors combined elementwise: ``(largest field, aligned?)`` per the docstring."""
    fields = [f for f in fields if f is not None]
    if not fields:
        return None, True
    widest = max(fields, key=lambda f: f.size)
    aligned = all(f == fields[0] for f in fields)
    return widest, aligned


# ----------------------------------------------------------------------------- layer rules
def _same_padding(k_eff: int) -> int:
    return (k_eff - 1) // 2  # PyTorch pads the extra pixel of an even k_eff on the right/bottom


def _window_params(module):
    ks = _pair(module.kernel_size)
    stride = getattr(module, "stride", None)
    stride = ks if stride is None or stride == () else _pair(stride)
    dil = _pair(getattr(module, "dilation", 1) or 1)
    pad = getattr(module, "padding", 0)
    if isinstance(pad, str):
        if pad == "valid":
            pad = (0, 0)
        elif pad == "same":
            pad = tuple(_same_padding(d * (k - 1) + 1) for k, d in zip(ks, dil))
        else:
            raise ValueError(f"receptive field: unknown padding {pad!r} on {type(module).__name__}")
    return ks, tuple(stride), _pair(pad), dil


def window_rule(module, rf, input_shape, output_shape):
    """Conv2d, depthwise/pointwise convs, MaxPool2d, AvgPool2d: :func:`conv_rf` per axis."""
    ks, st, pad, dil = _window_params(module)
    return tuple(conv_rf(rf[a], ks[a], st[a], pad[a], dil[a]) for a in range(2))


def transpose_rule(module, rf, input_shape, output_shape):
    """ConvTranspose2d: :func:`conv_transpose_rf` per axis."""
    ks, st, pad, dil = _window_params(module)
    return tuple(conv_transpose_rf(rf[a], ks[a], st[a], pad[a], dil[a]) for a in range(2))


def upsample_rule(module, rf, input_shape, output_shape):
    """Upsample: :func:`upsample_rf` per axis, the scale from the shapes (or ``scale_factor``)."""
    mode = getattr(module, "mode", "nearest")
    mode = "bilinear" if mode in ("bilinear", "linear") else mode
    sf = getattr(module, "scale_factor", None)
    sf = _pair(sf) if sf is not None else (None, None)
    return tuple(upsample_rf(rf[a], input_shape[2 + a], output_shape[2 + a], mode,
                             bool(getattr(module, "align_corners", False) or False), sf[a]) for a in range(2))


def adaptive_rule(module, rf, input_shape, output_shape):
    """AdaptiveAvgPool2d/GlobalAvgPool2d: window ``ceil(in/out)`` (the largest), stride ``in/out``."""
    if len(output_shape) != 4:
        return None  # the spatial axes are gone (global pooling to (N, C))
    out = []
    for a in range(2):
        n_in, n_out = input_shape[2 + a], output_shape[2 + a]
        k = max(-(-((i + 1) * n_in) // n_out) - (i * n_in) // n_out for i in range(n_out))
        r = rf[a]
        out.append(AxisRF(r.size + (k - 1) * r.jump, r.jump * Fraction(n_in, n_out),
                          r.start + Fraction(k - 1, 2) * r.jump))
    return tuple(out)


def identity_rule(module, rf, input_shape, output_shape):
    """Elementwise layers (activations, batch norm, dropout, identity): the field is unchanged."""
    return rf


def flat_rule(module, rf, input_shape, output_shape):
    """Layers after which there are no spatial axes (Flatten, Linear): no per-axis field."""
    return None


RF_RULES = {
    "Conv2d": window_rule, "DepthwiseConv2d": window_rule, "PointwiseConv2d": window_rule,
    "MaxPool2d": window_rule, "AvgPool2d": window_rule,
    "ConvTranspose2d": transpose_rule,
    "Upsample": upsample_rule, "UpsamplingNearest2d": upsample_rule, "UpsamplingBilinear2d": upsample_rule,
    "AdaptiveAvgPool2d": adaptive_rule, "GlobalAvgPool2d": adaptive_rule, "AdaptiveMaxPool2d": adaptive_rule,
    "Flatten": flat_rule, "Linear": flat_rule,
    **{name: identity_rule for name in (
        "ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "ELU", "SiLU", "Softplus", "Softmax", "LogSoftmax",
        "BatchNorm1d", "BatchNorm2d", "Dropout", "Dropout2d", "Identity")},
}
_user_rf_rules: dict = {}


# ----------------------------------------------------------------------------- rules for functional ops
# ``F.conv2d`` / ``F.max_pool2d`` / ``F.interpolate`` written in a container's forward appear as glue
# operations; their geometry is read from the autograd Function that ran (keyed by its class name).
def _conv_op_rf(fn, rf, input_shape, output_shape):
    g = fn.geometry  # ConvGeometry: kernel_size, stride, dilation, padding (top, left), groups
    return tuple(conv_rf(rf[a], g.kernel_size[a], g.stride[a], g.padding[a], g.dilation[a]) for a in range(2))


def _conv_transpose_op_rf(fn, rf, input_shape, output_shape):
    g = fn.geometry
    return tuple(conv_transpose_rf(rf[a], g.kernel_size[a], g.stride[a], g.padding[a], g.dilation[a])
                 for a in range(2))


def _pool_op_rf(fn, rf, input_shape, output_shape):
    kernel, stride, padding = fn.geometry[:3]
    dilation = fn.geometry[3] if len(fn.geometry) == 5 else (1, 1)  # max pool: (k, s, p, d, out); avg: (k, s, p, out)
    return tuple(conv_rf(rf[a], kernel[a], stride[a], padding[a], dilation[a]) for a in range(2))


def _resize_op_rf(fn, rf, input_shape, output_shape):
    """``interpolate``: nearest reads one source per output; bilinear two. ``align_corners`` is recognised
    from where output 1 reads (``(n-1)/(o-1)`` with it, ``1.5 n/o - 1/2`` without)."""
    out = []
    for a, index in enumerate((fn.rows, fn.cols)):
        n_in, n_out = input_shape[2 + a], output_shape[2 + a]
        if type(fn).__name__ == "ResizeNearest":
            out.append(upsample_rf(rf[a], n_in, n_out, "nearest"))
            continue
        align = False
        if n_out > 1 and n_out != n_in:
            i0, _, _, w1 = index
            src1 = float(i0[1]) + float(w1[1])
            align = abs(src1 - (n_in - 1) / (n_out - 1)) < abs(src1 - (1.5 * n_in / n_out - 0.5))
        out.append(upsample_rf(rf[a], n_in, n_out, "bilinear", align))
    return tuple(out)


def _shift(rf, left):
    """A map padded by ``left`` pixels (negative: cropped) before its first unit: the field moves ``-left``."""
    return AxisRF(rf.size, rf.jump, rf.start - left * rf.jump)


def _pad_op_rf(fn, rf, input_shape, output_shape):
    """``F.pad``: constant padding (``widths`` and ``crop`` per axis) or a gather (``pairs`` of widths per axis);
    the input's first pixel moves right by the left width, and padded units are treated like a convolution's
    padding."""
    if type(fn).__name__ == "ConstantPad":
        left = [w[0] - (c.start or 0) for w, c in zip(fn.widths, fn.crop)]
    else:
        left = [lo for lo, _ in fn.pairs]
    return tuple(_shift(rf[a], left[2 + a]) for a in range(2))


OP_RF_RULES = {
    "Conv2d": _conv_op_rf, "ConvTranspose2d": _conv_transpose_op_rf, "MaxPool2d": _pool_op_rf,
    "AvgPool2d": _pool_op_rf, "AdaptiveAvgPool2d": adaptive_rule, "AdaptiveMaxPool2d": adaptive_rule,
    "ResizeNearest": _resize_op_rf, "ResizeBilinear": _resize_op_rf,
    "ConstantPad": _pad_op_rf, "IndexPad": _pad_op_rf,
}
"""Function class name -> ``rule(function, (rf_h, rf_w), input_shape, output_shape)``; other operations
(elementwise, concatenation) keep the field of their inputs, merged where several meet."""


def get_op_rf_rule(function):
    return OP_RF_RULES.get(type(function).__name__)


def register_rf_rule(cls, rule) -> None:
    """Use ``rule(module, (rf_h, rf_w), input_shape, output_shape) -> (rf_h, rf_w) | None`` for ``cls``."""
    if not isinstance(cls, type) or not callable(rule):
        raise TypeError(f"register_rf_rule: expected a class and a callable, got {cls!r}, {rule!r}")
    _user_rf_rules[cls] = rule


def get_rf_rule(module):
    """The receptive-field rule for ``module``'s class (user rules first, then built-ins, along the MRO)."""
    return lookup_rule(module, _user_rf_rules, RF_RULES)


def receptive_field(layers_or_model, input_shape) -> list:
    """Receptive field after every layer of a model (or of a list of layers applied in order).

    ``input_shape`` is (C, H, W). Returns the summary's rows as dicts ``{name, type, output_shape, rf,
    aligned}`` with ``rf = (AxisRF_h, AxisRF_w)`` (None where the output has no spatial axes).
    """
    from .summary import summary

    model = layers_or_model
    if isinstance(layers_or_model, (list, tuple)):
        model = _Chain(layers_or_model)
    s = summary(model, input_shape)
    return [{"name": r.name, "type": r.type, "output_shape": r.output_shape, "rf": r.rf,
             "aligned": r.aligned} for r in s.rows]


class _Chain(Module):
    """Layers applied one after another (named "0", "1", ... as in Sequential)."""

    def __init__(self, layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"receptive_field: layer {i} is not a Module, got {type(layer).__name__}")
            setattr(self, str(i), layer)

    def forward(self, x):
        for layer in self.children():
            x = layer(x)
        return x


__all__ = ["AxisRF", "conv_rf", "conv_transpose_rf", "upsample_rf", "stack_rf", "merge_rf", "register_rf_rule",
           "get_rf_rule", "get_op_rf_rule", "receptive_field"]
