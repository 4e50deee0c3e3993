"""Neural-network layers, losses and initialisers (PyTorch-shaped)."""
from .module import Module
from .parameter import Parameter

# -- containers and basic layers (container.py, linear.py, activation.py, flatten)
# -- initialisers: ``slimgrad.nn.init``
# -- losses (loss.py)
# -- convolution, pooling, upsampling, normalisation (conv.py, pool.py, norm.py)
# -- dropout (dropout.py)
from .dropout import Dropout, Dropout2d

__all__ = ["Dropout", "Dropout2d", "Module", "Parameter"]
