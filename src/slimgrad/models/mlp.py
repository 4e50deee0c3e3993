"""``mlp``: the feedforward network of the note's section 5 (Flatten -> [Linear -> ReLU -> Dropout]* -> Linear)."""
from __future__ import annotations

from .. import nn
from .cnn import check_dropout, check_positive_int


def mlp(in_features: int | None = None, hidden=(256, 256), num_classes: int = 10, dropout: float = 0.0,
        in_channels: int = 1, input_size: int = 28) -> nn.Sequential:
    """A multi-layer perceptron on flattened inputs; W8 is ``mlp(784, (256, 256), 10)``.

    ``in_features`` defaults to ``in_channels * input_size**2``. Every hidden layer is followed by ReLU and a
    ``Dropout(dropout)`` (kept even at p = 0, so the state-dict keys do not depend on ``dropout``).
    """
    name = "mlp"
    if in_features is None:
        in_features = check_positive_int(in_channels, "in_channels", name) * \
            check_positive_int(input_size, "input_size", name) ** 2
    check_positive_int(in_features, "in_features", name)
    check_positive_int(num_classes, "num_classes", name)
    hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    for width in hidden:
        check_positive_int(width, "every hidden width", name)
    p = check_dropout(dropout, name)
    layers = [nn.Flatten()]
    width_in = in_features
    for width in hidden:
        layers += [nn.Linear(width_in, width), nn.ReLU(), nn.Dropout(p)]
        width_in = width
    layers.append(nn.Linear(width_in, num_classes))
    return nn.Sequential(*layers)
