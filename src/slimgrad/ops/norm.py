"""Batch normalisation over (N, C) or (N, C, *) inputs, one fused Function per mode.

Training: per-channel batch mean ``mu`` and biased variance ``var`` over N and the spatial axes (M values
per channel), ``xhat = (x - mu) / sqrt(var + eps)``, ``y = weight * xhat + bias``; the running statistics
are updated in place with PyTorch's convention ``r = (1 - momentum) * r + momentum * batch`` (the running
variance takes the *unbiased* batch variance ``var * M / (M - 1)``). Compact backward, with ``k = weight /
sqrt(var + eps)``::

    grad_bias = sum(g),  grad_weight = sum(g * xhat),
    grad_input = k * (g - grad_bias / M - xhat * grad_weight / M)

Evaluation: ``y = x * k + (bias - running_mean * k)`` with ``k = weight / sqrt(running_var + eps)``.
Per-channel sums go through BLAS (``x @ ones``, ``vecdot``); elementwise work is a few in-place passes and
the only temporary lives in a reused workspace (no fresh page faults per step).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from .window import run_halves, sum_in_order, workspaces


def _spatial(shape) -> int:
    """The number of values per sample and channel (explicit, so an empty batch reshapes too)."""
    return int(np.prod(shape[2:], dtype=np.int64))


def _channel_sum(x3: np.ndarray) -> np.ndarray:
    """Sum of (N, C, L) over N and L: a matrix-vector product per sample, then a small sum."""
    if x3.shape[2] == 1:  # (N, C) input: a plain column sum
        return x3[:, :, 0].sum(axis=0)
    return (x3 @ np.ones(x3.shape[2], dtype=x3.dtype)).sum(axis=0)


def _channel_dot(a3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """``sum(a * b)`` over N and L of two (N, C, L) arrays, without the product temporary."""
    if a3.shape[2] == 1:
        return np.einsum("nc,nc->c", a3[:, :, 0], b3[:, :, 0])
    return np.vecdot(a3, b3).sum(axis=0)


class BatchNormTrain(Function):
    """Saves only the input (a reference), the mean and ``1/sqrt(var + eps)``; ``x - mean`` is rebuilt in a
    reused workspace during backward, so a step allocates just the output and the input gradient."""

    def forward(self, x, *affine, has_weight=False, running_mean=None, running_var=None, momentum=0.1,
                eps=1e-5):
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, _spatial(x.shape))
        count = n * x3.shape[2]
        out = np.empty_like(x3)
        if n == 0:
            mean = var = np.full(c, np.nan, dtype=x.dtype)
        else:
            mean = sum_in_order(run_halves(lambda n0, n1: _channel_sum(x3[n0:n1]), n, x.nbytes)) / count

            def center(n0, n1):
                np.subtract(x3[n0:n1], mean[:, None], out=out[n0:n1])
                return _channel_dot(out[n0:n1], out[n0:n1])

            var = sum_in_order(run_halves(center, n, 2 * x.nbytes)) / count
        invstd = 1.0 / np.sqrt(var + eps)
        weight = affine[0] if has_weight else None
        bias = affine[1 if has_weight else 0] if len(affine) > has_weight else None
        scale = invstd * weight if weight is not None else invstd

        def normalize(n0, n1):
            out[n0:n1] *= scale[:, None]
            if bias is not None:
                out[n0:n1] += bias[:, None]

        run_halves(normalize, n, 2 * x.nbytes)
        if running_mean is not None:
            running_mean.data *= 1.0 - momentum
            running_mean.data += momentum * mean
        if running_var is not None:
            running_var.data *= 1.0 - momentum
            running_var.data += (momentum * count / max(count - 1, 1)) * var
        self.x3, self.mean, self.invstd, self.scale = x3, mean, invstd, scale
        self.count, self.has_weight, self.in_shape = count, has_weight, x.shape
        return out.reshape(x.shape)

    def backward(self, g):
        n, c = self.in_shape[:2]
        g3 = g.reshape(n, c, _spatial(g.shape))
        centered = workspaces.get("batch_norm.centered", self.x3.shape, self.x3.dtype)

        def sums(n0, n1):
            np.subtract(self.x3[n0:n1], self.mean[:, None], out=centered[n0:n1])
            return np.stack([_channel_sum(g3[n0:n1]), _channel_dot(g3[n0:n1], centered[n0:n1])])

        both = sum_in_order(run_halves(sums, n, 2 * g.nbytes), empty=np.zeros((2, c), dtype=g.dtype))
        grad_bias, grad_weight = both[0], both[1] * self.invstd  # sum(g), sum(g * xhat)
        grad_input = None
        if self.needs_input_grad[0]:
            # k * (g - grad_bias/M - xhat * grad_weight/M), xhat = centered * invstd, k = scale
            k = self.scale
            slope = (-k * self.invstd * grad_weight / self.count)[:, None]
            shift = (-k * grad_bias / self.count)[:, None]
            grad_input = np.empty_like(g3)

            def input_grad(n0, n1):
                out = grad_input[n0:n1]
                np.multiply(centered[n0:n1], slope, out=out)
                out += shift
                out += np.multiply(g3[n0:n1], k[:, None], out=centered[n0:n1])

            run_halves(input_grad, n, 3 * g.nbytes)
            grad_input = grad_input.reshape(self.in_shape)
        grads = [grad_input]
        if self.has_weight:
            grads.append(grad_weight if self.needs_input_grad[len(grads)] else None)
        if len(self.needs_input_grad) > len(grads):
            grads.append(grad_bias if self.needs_input_grad[len(grads)] else None)
        return tuple(grads)


class BatchNormEval(Function):
    def forward(self, x, *affine, has_weight=False, running_mean=None, running_var=None, eps=1e-5):
        n, c = x.shape[:2]
        x3 = x.reshape(n, c, _spatial(x.shape))
        invstd = 1.0 / np.sqrt(running_var + eps)
        weight = affine[0] if has_weight else None
        bias = affine[1 if has_weight else 0] if len(affine) > has_weight else None
        scale = invstd * weight if weight is not None else invstd
        shift = -running_mean * scale
        if bias is not None:
            shift += bias
        out = x3 * scale[:, None]
        out += shift[:, None]
        self.scale, self.invstd, self.has_weight, self.in_shape = scale, invstd, has_weight, x.shape
        if has_weight and self.needs_input_grad[1]:
            self.x3, self.running_mean = x3, running_mean
        return out.reshape(x.shape)

    def backward(self, g):
        n, c = self.in_shape[:2]
        g3 = g.reshape(n, c, _spatial(g.shape))
        needs = self.needs_input_grad
        has_bias = len(needs) > 1 + self.has_weight
        grads = [(g3 * self.scale[:, None]).reshape(self.in_shape) if needs[0] else None]
        grad_bias = _channel_sum(g3) if (has_bias and needs[-1]) or (self.has_weight and needs[1]) else None
        if self.has_weight:
            grads.append(self.invstd * (_channel_dot(g3, self.x3) - self.running_mean * grad_bias)
                         if needs[1] else None)
        if len(needs) > len(grads):
            grads.append(grad_bias if needs[len(grads)] else None)
        return tuple(grads)


def _check_vector(name, t, c):
    if t is not None and (not isinstance(t, Tensor) or t.shape != (c,)):
        got = t.shape if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f"batch_norm: {name} must be a tensor of shape ({c},) (one value per channel), got {got}")


def batch_norm(input: Tensor, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation of (N, C) or (N, C, *) ``input``, as ``torch.nn.functional.batch_norm``.

    ``training``: normalise with the batch statistics and update ``running_mean`` / ``running_var`` (if
    given) in place; otherwise normalise with the running statistics. ``weight`` / ``bias`` are the
    optional per-channel affine parameters (gamma, beta).
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C) or (N, C, *), got {input.shape}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_vector(name, t, c)
    affine = tuple(t for t in (weight, bias) if t is not None)
    params = dict(has_weight=weight is not None, running_mean=running_mean, running_var=running_var,
                  eps=float(eps))
    if training:
        count = input.shape[0] * int(np.prod(input.shape[2:], dtype=np.int64))
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"of shape {input.shape}")
        return BatchNormTrain.apply(input, *affine, momentum=float(momentum), **params)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var must be given when training=False")
    params.update(running_mean=running_mean.data, running_var=running_var.data)
    return BatchNormEval.apply(input, *affine, **params)
