"""``std_cnn`` and ``sep_cnn``: the benchmark CNNs W6 and W7, built by one builder.

Both are ``features`` (a stem and downsampling blocks) followed by ``classifier`` (global average pool,
dropout, linear head). ``std_cnn`` uses standard 3x3 conv blocks (conv -> BN -> ReLU); ``sep_cnn``
replaces every conv after the stem by a depthwise-separable block (dw 3x3 -> BN -> ReLU -> pw 1x1 -> BN ->
ReLU, MobileNet-style), with the same output shapes and ``1/N + 1/9`` of the multiply-adds (note section 2).
Convs feeding a BatchNorm have no bias (BN's shift makes it redundant).
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..autograd import Tensor


def check_positive_int(value, name: str, model: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{model}: {name} must be a positive integer, got {value!r}")
    return value


def check_dropout(p, model: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"{model}: dropout must be a probability in [0, 1), got {p!r}")
    return float(p)


def conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """``conv`` 3x3 (padding 1, no bias) -> ``bn`` -> ``relu``."""
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        bn=nn.BatchNorm2d(out_channels),
        relu=nn.ReLU(),
    ))


def separable_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """``depthwise`` 3x3 (stride s) -> ``bn1`` -> ``relu1`` -> ``pointwise`` 1x1 -> ``bn2`` -> ``relu2``."""
    return nn.Sequential(OrderedDict(
        depthwise=nn.DepthwiseConv2d(in_channels, 3, stride=stride, padding=1, bias=False),
        bn1=nn.BatchNorm2d(in_channels),
        relu1=nn.ReLU(),
        pointwise=nn.PointwiseConv2d(in_channels, out_channels, bias=False),
        bn2=nn.BatchNorm2d(out_channels),
        relu2=nn.ReLU(),
    ))


class ConvClassifier(nn.Module):
    """``classifier(features(x))``: a convolutional trunk and a pooled linear head.

    ``classifier`` = global average pool -> flatten -> dropout -> linear, so any input size works.
    """

    def __init__(self, features: nn.Sequential, feature_channels: int, num_classes: int, dropout: float,
                 in_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.features = features
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(feature_channels, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got shape {tuple(x.shape)}")
        return self.classifier(self.features(x))


class StdCNN(ConvClassifier):
    """W6: standard 3x3 conv blocks (``features.i.conv``/``bn``/``relu``)."""


class SepCNN(ConvClassifier):
    """W7: a standard stem, then depthwise-separable blocks (``features.i.depthwise``/``pointwise``)."""


def _cnn(separable: bool, in_channels: int, num_classes: int, widths, dropout: float, input_size: int) -> ConvClassifier:
    """The shared builder: stem conv (stride 1), then one stride-2 block per further width."""
    name = "sep_cnn" if separable else "std_cnn"
    check_positive_int(in_channels, "in_channels", name)
    check_positive_int(num_classes, "num_classes", name)
    check_positive_int(input_size, "input_size", name)
    widths = tuple(widths)
    if not widths or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"{name}: widths must be a non-empty sequence of positive integers, got {widths!r}")
    block = separable_block if separable else conv_block
    layers = [conv_block(in_channels, widths[0])]
    layers += [block(c_in, c_out, stride=2) for c_in, c_out in zip(widths, widths[1:])]
    cls = SepCNN if separable else StdCNN
    return cls(nn.Sequential(*layers), widths[-1], num_classes, check_dropout(dropout, name), in_channels)


def std_cnn(in_channels: int = 1, num_classes: int = 10, widths=(32, 64, 128), dropout: float = 0.25,
            input_size: int = 28) -> StdCNN:
    """W6: conv3x3(1->32) -BN-ReLU, conv3x3(32->64, s2) -BN-ReLU, conv3x3(64->128, s2) -BN-ReLU, global avg
    pool, dropout, linear 128 -> num_classes. ``input_size`` is only checked: the head pools globally."""
    return _cnn(False, in_channels, num_classes, widths, dropout, input_size)


def sep_cnn(in_channels: int = 1, num_classes: int = 10, widths=(32, 64, 128), dropout: float = 0.25,
            input_size: int = 28) -> SepCNN:
    """W7: ``std_cnn`` with every conv after the stem a depthwise-separable block (``features.1.depthwise``, ...)."""
    return _cnn(True, in_channels, num_classes, widths, dropout, input_size)
