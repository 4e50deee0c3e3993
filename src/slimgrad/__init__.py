"""slimgrad: a deep-learning framework on NumPy with its own backpropagation engine."""
import numpy as _np

from . import ops as _ops  # noqa: F401  (binds Tensor methods)
from .autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad, set_grad_enabled, tensor
from .gradcheck import GradcheckError, gradcheck
from .backend import (get_default_dtype, get_rng_state, keep_freed_memory, manual_seed, set_default_dtype,
                      set_rng_state)
from .factory import (arange, empty, eye, full, full_like, linspace, ones, ones_like, rand, rand_like, randint, randn,
                      randn_like, randperm, zeros, zeros_like)
from .ops.elementwise import abs, clamp, exp, log, maximum, minimum, sqrt, where
from .ops.indexing import gather
from .ops.linalg import matmul
from .ops.reduce import amax, amin, argmax, argmin, logsumexp, max, mean, min, prod, std, sum, var
from .ops.shape import cat, chunk, concat, flatten, permute, reshape, split, squeeze, stack, transpose, unsqueeze

from . import functional, nn, optim  # noqa: E402  (PyTorch-shaped: sg.nn, sg.optim, sg.functional)

__version__ = "0.1.0"

keep_freed_memory()  # reuse freed activation memory across steps instead of page-faulting it in again

# dtype names as in PyTorch (``sg.tensor(x, dtype=sg.float32)``)
float16, float32, float64 = _np.float16, _np.float32, _np.float64
int32, int64 = _np.int32, _np.int64

__all__ = [
    "Function", "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled",
    "float16", "float32", "float64", "int32", "int64",
    "gradcheck", "GradcheckError", "get_rng_state", "set_rng_state",
    "arange", "eye", "full", "linspace", "ones", "ones_like", "rand", "randint", "randn", "randperm", "zeros",
    "zeros_like", "empty", "full_like", "rand_like", "randn_like",
    "functional", "nn", "optim", "manual_seed", "get_default_dtype", "set_default_dtype", "__version__",
    "abs", "clamp", "exp", "log", "maximum", "minimum", "sqrt", "where", "gather", "matmul", "amax", "amin",
    "argmax", "argmin", "logsumexp", "max", "mean", "min", "prod", "std", "sum", "var", "cat", "chunk", "concat",
    "flatten", "permute", "reshape", "split", "squeeze", "stack", "transpose", "unsqueeze",
]
