"""The model zoo: ``get_model(name, **kwargs)`` over the builders in ``MODELS``.

Every builder takes ``in_channels``, ``input_size`` (H = W), ``num_classes`` and ``dropout``.
"""
from __future__ import annotations

import inspect

from .cnn import ConvClassifier, SepCNN, StdCNN, sep_cnn, std_cnn
from .lenet import LeNet5, lenet5
from .mlp import mlp
from .mobilenet import MobileNetV1, mobilenet_v1

MODELS = {
    "mlp": mlp,
    "lenet5": lenet5,
    "std_cnn": std_cnn,
    "sep_cnn": sep_cnn,
    "mobilenet_v1": mobilenet_v1,
}


def get_model(name: str, **kwargs):
    """Build the zoo model ``name`` (``-`` and ``_`` interchangeable, case-insensitive) with ``kwargs``."""
    key = str(name).lower().replace("-", "_")
    if key not in MODELS:
        raise ValueError(f"get_model: unknown model {name!r}; expected one of {sorted(MODELS)}")
    builder = MODELS[key]
    accepted = inspect.signature(builder).parameters
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(f"get_model({key!r}): unexpected arguments {unknown}; {key} accepts {list(accepted)}")
    return builder(**kwargs)


__all__ = [
    "MODELS", "get_model", "mlp", "lenet5", "std_cnn", "sep_cnn", "mobilenet_v1",
    "ConvClassifier", "StdCNN", "SepCNN", "MobileNetV1", "LeNet5",
]
