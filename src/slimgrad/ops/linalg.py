"""Matrix products: ``matmul`` with NumPy's broadcasting rules (batched, 1-D operands promoted)."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, Tensor, unbroadcast
from .operands import _binary_operands


class MatMul(Function):
    """``a @ b``: d/da = g @ b^T, d/db = a^T @ g (batch axes summed back where broadcast)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        a2 = a[None, :] if a.ndim == 1 else a          # (.., 1, k)
        b2 = b[:, None] if b.ndim == 1 else b          # (.., k, 1)
        g2 = g  # restore the axes that 1-D operands dropped from the output: (.., n, m)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if self.needs_input_grad[0]:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = np.swapaxes(a2, -1, -2) @ g2
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb


def matmul(a, b) -> Tensor:
    a, b = _binary_operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes {a.shape} and {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: inner dimensions must match: input has shape {a.shape} (last dim {ka}), other has shape "
            f"{b.shape} (expected {'first' if b.ndim == 1 else 'second-to-last'} dim {ka}, got {kb})"
        )
    if a.ndim > 2 or b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} are not broadcastable") from None
    return MatMul.apply(a, b)


class Linear(Function):
    """``y = x W^T + b`` as one GEMM over the flattened leading axes.

    x: (*, in), W: (out, in), b: (out,). d/dx = g W, d/dW = g^T x, d/db = sum of g over leading axes.
    """

    def forward(self, x, weight, bias=None):
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # explicit rows: in_features may be 0
        out = x2 @ weight.T
        if bias is not None:
            out += bias
        self.x2, self.weight, self.x_shape = x2, weight, x.shape
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, g):
        g2 = g.reshape(math.prod(g.shape[:-1]), g.shape[-1])
        needs = self.needs_input_grad
        gx = (g2 @ self.weight).reshape(self.x_shape) if needs[0] else None
        gw = g2.T @ self.x2 if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if needs[2] else None)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """PyTorch's ``F.linear``: ``input @ weight.T + bias`` with weight of shape (out_features, in_features)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: expected weight of shape (out_features, in_features), got shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input's last dimension must equal in_features={weight.shape[1]} (weight shape "
            f"{weight.shape}), got input shape {input.shape}"
        )
    if input.dtype.kind != "f":
        raise TypeError(f"linear: expected a floating-point input, got dtype {input.dtype}")
    if bias is None:
        return Linear.apply(input, weight)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: expected bias of shape ({weight.shape[0]},), got shape {bias.shape}")
    return Linear.apply(input, weight, bias)
