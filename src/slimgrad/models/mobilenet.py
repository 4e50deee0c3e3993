"""MobileNet v1 (Howard et al. 2017): a 3x3 stem and 13 depthwise-separable blocks, global pool, linear head."""
from __future__ import annotations

from .. import nn
from .cnn import ConvClassifier, check_dropout, check_positive_int, conv_block, separable_block

# (output channels, stride) of the 13 depthwise-separable blocks (the paper's Table 1); the stem is 32, s2
_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
           (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
_STEM = 32


def scaled_channels(channels: int, width_mult: float) -> int:
    """The width multiplier alpha thins every layer: ``int(alpha * channels)`` channels (at least 1).

    Truncated as the authors' Keras and TF-slim MobileNet v1 do (``int(filters * alpha)``); the paper's
    alphas (1, 0.75, 0.5, 0.25) give whole numbers for every layer.
    """
    return max(1, int(channels * width_mult))


class MobileNetV1(ConvClassifier):
    """MobileNet v1: ``features.0`` the stem, ``features.1``-``features.13`` the separable blocks."""


def mobilenet_v1(width_mult: float = 1.0, num_classes: int = 1000, input_size: int = 224, in_channels: int = 3,
                 dropout: float = 0.0) -> MobileNetV1:
    """MobileNet v1: conv3x3(s2) then 13 dw/pw blocks (each dw -> BN -> ReLU -> pw -> BN -> ReLU).

    At ``width_mult=1`` and 224x224 inputs: 4.2 M parameters, 569 M multiply-adds, a 7x7 final map.
    Any ``input_size`` works (the head pools globally); ``dropout`` precedes the linear head.
    """
    name = "mobilenet_v1"
    if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not width_mult > 0:
        raise ValueError(f"{name}: width_mult must be a positive number, got {width_mult!r}")
    check_positive_int(num_classes, "num_classes", name)
    check_positive_int(input_size, "input_size", name)
    check_positive_int(in_channels, "in_channels", name)
    channels = scaled_channels(_STEM, width_mult)
    layers = [conv_block(in_channels, channels, stride=2)]
    for out, stride in _BLOCKS:
        out = scaled_channels(out, width_mult)
        layers.append(separable_block(channels, out, stride=stride))
        channels = out
    return MobileNetV1(nn.Sequential(*layers), channels, num_classes, check_dropout(dropout, name), in_channels)
