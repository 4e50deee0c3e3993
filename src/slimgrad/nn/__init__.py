"""Neural-network layers, losses and initialisers (PyTorch-shaped)."""
from .module import Module
from .parameter import Parameter

# -- containers and basic layers (container.py, linear.py, activation.py, flatten)
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
from .container import Flatten, Identity, ModuleDict, ModuleList, Sequential
from .linear import Linear
# -- initialisers: ``slimgrad.nn.init``
from . import init
# -- losses (loss.py)
from .loss import (BCELoss, BCEWithLogitsLoss, CategoricalCrossEntropyLoss, CrossEntropyLoss, HuberLoss, L1Loss,
                   MSELoss, NLLLoss, SquaredLoss, ZeroOneLoss)
# -- convolution, pooling, upsampling, normalisation (conv.py, pool.py, norm.py)
from .conv import Conv2d, ConvTranspose2d, DepthwiseConv2d, PointwiseConv2d, SeparableConv2d
from .norm import BatchNorm1d, BatchNorm2d
from .pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .upsample import Upsample
# -- dropout (dropout.py)
from .dropout import Dropout, Dropout2d
# -- gradient clipping: ``slimgrad.nn.utils``
from . import utils
# -- ``slimgrad.nn.functional`` is ``slimgrad.functional`` (one API, the import path PyTorch users know)
import sys as _sys

from .. import functional

_sys.modules[__name__ + ".functional"] = functional

__all__ = [
    "functional", "Sequential", "ModuleList", "ModuleDict", "Flatten", "Identity", "Linear", "init",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "ELU", "SiLU", "Softplus",
    "MSELoss", "L1Loss", "HuberLoss", "SquaredLoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
    "NLLLoss", "CategoricalCrossEntropyLoss", "ZeroOneLoss",
    "Conv2d", "ConvTranspose2d", "DepthwiseConv2d", "PointwiseConv2d", "SeparableConv2d",
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "GlobalAvgPool2d", "Upsample",
    "BatchNorm1d", "BatchNorm2d",
    "Dropout", "Dropout2d", "Module", "Parameter", "utils"]
