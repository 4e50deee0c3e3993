"""The PyTorch-style functional API: ``import slimgrad.functional as F``. Thin over :mod:`slimgrad.ops`."""
# -- arithmetic, comparison, reductions, shape and indexing
from .ops.compare import eq, ge, gt, le, lt, ne, sign
from .ops.elementwise import (abs, add, clamp, clip, div, exp, log, maximum, minimum, mul, neg, pow, reciprocal,
                              sqrt, square, sub, where)
from .ops.indexing import gather, masked_fill, narrow, one_hot
from .ops.linalg import matmul
from .ops.reduce import amax, amin, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .ops.shape import (broadcast_to, cat, chunk, concat, expand, flatten, pad, permute, reshape, split, squeeze,
                        stack, transpose, unsqueeze)
# -- activations (ops/activation.py)
from .ops.activation import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, silu, softmax, softplus, tanh
# -- linear, dropout
from .ops.linalg import linear
from .ops.random import dropout, dropout2d
# -- losses (ops/loss.py, ops/cross_entropy.py): reduction='none' is the per-sample loss, 'mean' the cost
from .ops.cross_entropy import categorical_cross_entropy, cross_entropy, nll_loss, softmax_cross_entropy
from .ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss, l1_loss, mae_loss,
                       mse_loss, squared_loss, zero_one_loss)
# -- convolution (ops/conv.py)
from .ops.conv import conv2d, conv_transpose2d
# -- pooling, interpolation (ops/pool.py, ops/interpolate.py)
from .ops.interpolate import interpolate
from .ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
# -- normalisation (ops/norm.py)
from .ops.norm import batch_norm
