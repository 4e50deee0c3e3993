"""The PyTorch-style functional API: ``import slimgrad.functional as F``. Thin over :mod:`slimgrad.ops`."""
from .ops.elementwise import abs, add, clamp, clip, div, exp, log, maximum, minimum, mul, neg, pow, sqrt, sub, where
from .ops.linalg import matmul
from .ops.reduce import mean, sum

# -- activations (ops/activation.py)
# -- linear, dropout
# -- losses (ops/loss.py)
# -- convolution (ops/conv.py)
# -- pooling, interpolation (ops/pool.py)
# -- normalisation (ops/norm.py)
