"""Activation functions: relu, leaky_relu, elu, sigmoid, tanh, silu, softplus, gelu, softmax, log_softmax.

Each is one Function (forward with its backward below). Constants are Python floats so float32 stays
float32. softmax/log_softmax subtract the max first: logits of +-1e4 give finite values and gradients.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor
from .cast import cast
from .operands import _check_float
from .reduce import _normalize_dim
from .window import run_halves


def _sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow: exp is only taken of ``-|x|``."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# Rational approximations of erf and erfc from the public-domain Cephes library (S. L. Moshier), accurate
# to double precision: erf(x) = x T(x^2) / U(x^2) for |x| <= 1; erfc(x) = exp(-x^2) P(x) / Q(x) for
# 1 < x < 8 (Q, U monic, leading 1 omitted; coefficients high to low). From 8 on erfc(x) < 1e-29, so erf is
# exactly 1.0 in double precision: the 1 < x < 8 formula evaluated at 8 gives it.
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
def _poly(x, coefficients, monic=False):
    """Horner's rule; ``monic`` prepends a leading coefficient 1."""
    out = x + coefficients[0] if monic else np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out = out * x + c
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """Vectorised error function to double precision (Cephes' rational approximations), in x's dtype.

    float64 results match ``math.erf`` / PyTorch to about 1e-16; float32 ones (evaluated in float32)
    to a few units in the last place.
    """
    z = np.abs(x).astype(np.float64 if x.dtype == np.float64 else np.float32, copy=False)
    out = np.empty_like(z)
    small = z <= 1.0
    zm = np.minimum(z[~small], 8.0)  # NaN stays NaN
    out[~small] = 1.0 - np.exp(-zm * zm) * _poly(zm, _ERFC_P) / _poly(zm, _ERFC_Q, monic=True)
    zs = z[small]
    out[small] = zs * _poly(zs * zs, _ERF_T) / _poly(zs * zs, _ERF_U, monic=True)
    return np.copysign(out, x).astype(x.dtype, copy=False)


class ReLU(Function):
    """``max(x, 0)``; gradient 1 where x > 0 (0 at x == 0, as PyTorch). A batch's two halves run concurrently."""

    def forward(self, x):
        if x.ndim == 0:
            self.positive = x > 0
            return np.maximum(x, 0)  # a Python 0 keeps x's dtype; NaN propagates as in PyTorch
        self.positive = np.empty(x.shape, dtype=bool)
        out = np.empty_like(x)

        def half(n0, n1):
            np.greater(x[n0:n1], 0, out=self.positive[n0:n1])
            np.maximum(x[n0:n1], 0, out=out[n0:n1])

        run_halves(half, x.shape[0], 2 * x.nbytes)
        return out

    def backward(self, g):
        if g.ndim == 0:
            return g * self.positive
        out = np.empty_like(g)

        def half(n0, n1):
            np.multiply(g[n0:n1], self.positive[n0:n1], out=out[n0:n1])

        run_halves(half, g.shape[0], 2 * g.nbytes)
        return out


class LeakyReLU(Function):
    """``x if x > 0 else negative_slope * x``."""

    def forward(self, x, negative_slope=0.01):
        self.positive, self.slope = x > 0, negative_slope
        return np.where(self.positive, x, x * negative_slope)

    def backward(self, g):
        return np.where(self.positive, g, g * self.slope)


class ELU(Function):
    """``x if x > 0 else alpha (exp(x) - 1)``; gradient ``out + alpha`` on the negative side."""

    def forward(self, x, alpha=1.0):
        self.positive, self.alpha = x > 0, alpha
        self.out = np.where(self.positive, x, alpha * np.expm1(np.minimum(x, 0)))
        return self.out

    def backward(self, g):
        return np.where(self.positive, g, g * (self.out + self.alpha))


class Sigmoid(Function):
    """``1 / (1 + exp(-x))``; d/dx = s (1 - s)."""

    def forward(self, x):
        self.out = _sigmoid(x)
        return self.out

    def backward(self, g):
        return g * self.out * (1 - self.out)


class Tanh(Function):
    """d/dx tanh = 1 - tanh^2."""

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, g):
        return g * (1 - self.out * self.out)


class SiLU(Function):
    """``x sigmoid(x)``; d/dx = s (1 + x (1 - s))."""

    def forward(self, x):
        self.x, self.s = x, _sigmoid(x)
        return x * self.s

    def backward(self, g):
        s = self.s
        return g * (s * (1 + self.x * (1 - s)))


class Softplus(Function):
    """``log(1 + exp(beta x)) / beta``, linear (``x``) where ``beta x > threshold``; d/dx = sigmoid(beta x)."""

    def forward(self, x, beta=1.0, threshold=20.0):
        bx = x * beta
        self.linear, self.s = bx > threshold, _sigmoid(bx)
        soft = (np.logaddexp(np.zeros((), dtype=x.dtype), bx)) / beta
        return np.where(self.linear, x, soft)

    def backward(self, g):
        return np.where(self.linear, g, g * self.s)


class GELU(Function):
    """``x Phi(x)`` with Phi the standard normal CDF: ``0.5 x (1 + erf(x / sqrt 2))``; d/dx = Phi + x phi.

    ``approximate='tanh'``: ``0.5 x (1 + tanh(u))``, ``u = sqrt(2/pi) (x + 0.044715 x^3)``, evaluated as
    ``x sigmoid(2u)`` (1 + tanh u = 2 sigmoid(2u), 1 - tanh^2 u = 4 sigmoid(2u) sigmoid(-2u)), which avoids
    the cancellation in ``1 - tanh^2`` for large |x|: d/dx = s + 2 x s (1 - s) u'.
    """

    def forward(self, x, approximate="none"):
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            z = math.sqrt(8 / math.pi) * (x + 0.044715 * x * x * x)  # 2u
            self.s, self.s_neg = _sigmoid(z), _sigmoid(-z)
            return x * self.s
        self.cdf = 0.5 * (1 + erf(x * math.sqrt(0.5)))
        return x * self.cdf

    def backward(self, g):
        x = self.x
        if self.approximate == "tanh":
            du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return g * (self.s + 2 * x * self.s * self.s_neg * du)
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return g * (self.cdf + x * pdf)


class Softmax(Function):
    """``exp(x - max) / sum(exp(x - max))`` along ``dim``; d/dx = s (g - sum(g s))."""

    def forward(self, x, dim=-1):
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        self.out, self.dim = e / e.sum(axis=dim, keepdims=True), dim
        return self.out

    def backward(self, g):
        s = self.out
        return s * (g - (g * s).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    """``x - max - log(sum(exp(x - max)))`` along ``dim``; d/dx = g - softmax * sum(g)."""

    def forward(self, x, dim=-1):
        shifted = x - x.max(axis=dim, keepdims=True)
        self.out, self.dim = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True)), dim
        return self.out

    def backward(self, g):
        return g - np.exp(self.out) * g.sum(axis=self.dim, keepdims=True)


# ----------------------------------------------------------------- lower-case API
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    _check_float(input, "relu")
    return ReLU.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    _check_float(input, "leaky_relu")
    return LeakyReLU.apply(input, negative_slope=float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    _check_float(input, "elu")
    return ELU.apply(input, alpha=float(alpha))


def sigmoid(input: Tensor) -> Tensor:
    _check_float(input, "sigmoid")
    return Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:
    _check_float(input, "tanh")
    return Tanh.apply(input)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    _check_float(input, "silu")
    return SiLU.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    _check_float(input, "softplus")
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero, got 0")
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    _check_float(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


def _softmax_dim(input: Tensor, dim, op: str) -> int:
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return _normalize_dim(dim, input.ndim, op)


def softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """Softmax along ``dim``: ``exp(x_i) / sum_j exp(x_j)``."""
    _check_float(input, "softmax")
    if dtype is not None:
        input = cast(input, dtype)
    return Softmax.apply(input, dim=_softmax_dim(input, dim, "softmax") if input.ndim else None)


def log_softmax(input: Tensor, dim: int | None = None, dtype=None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably as ``x - logsumexp(x)``."""
    _check_float(input, "log_softmax")
    if dtype is not None:
        input = cast(input, dtype)
    return LogSoftmax.apply(input, dim=_softmax_dim(input, dim, "log_softmax") if input.ndim else None)
