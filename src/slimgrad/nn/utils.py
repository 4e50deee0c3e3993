"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's semantics).

Both modify the ``.grad`` arrays of the given parameters in place; parameters without a gradient are
skipped.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _grads(parameters) -> list[np.ndarray]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad.data for p in parameters if p.grad is not None]


def _vector_norm(x: np.ndarray, norm_type: float) -> np.ndarray:
    """``‖x‖_p`` over all elements, as a 0-d array of ``x``'s dtype (``p = inf``: max |x|; ``p = 0``: count)."""
    flat = x.reshape(-1)
    if flat.size == 0:
        return np.zeros((), dtype=x.dtype)
    if norm_type == 2.0:
        return np.sqrt(np.dot(flat, flat)).astype(x.dtype)
    if norm_type == math.inf:
        return np.max(np.abs(flat))
    if norm_type == -math.inf:
        return np.min(np.abs(flat))
    if norm_type == 0.0:
        return np.asarray(np.count_nonzero(flat), dtype=x.dtype)
    if norm_type == 1.0:
        return np.sum(np.abs(flat))
    with np.errstate(divide="ignore", over="ignore"):  # p < 0 with a zero entry: 0^p = inf, norm 0 (as PyTorch)
        return (np.sum(np.abs(flat) ** norm_type) ** (1.0 / norm_type)).astype(x.dtype)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The ``norm_type`` norm of the norms of ``tensors`` (tensors or arrays): the norm of all their
    elements together, as a 0-d tensor."""
    if isinstance(tensors, (Tensor, np.ndarray)):
        tensors = [tensors]
    return Tensor._wrap(np.asarray(_total_norm(list(tensors), norm_type, error_if_nonfinite)))


def _total_norm(tensors, norm_type: float, error_if_nonfinite: bool) -> np.ndarray:
    norm_type = float(norm_type)
    arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
    if not arrays:
        return np.zeros((), dtype=np.float32)
    dtype = np.result_type(*arrays)  # mixed float32/float64 gradients: a float64 norm, as PyTorch
    norms = np.stack([_vector_norm(a, norm_type).astype(dtype) for a in arrays])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} for gradients from `parameters` is "
            f"non-finite ({float(total)}), so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set error_if_nonfinite=False"
        )
    return total


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale all gradients together so that their total norm is at most ``max_norm``.

    ``total = ‖(‖g₁‖_p, …, ‖gₙ‖_p)‖_p`` (``p = inf``: the largest absolute entry);
    ``g ← g · min(1, max_norm / (total + 1e-6))``. Returns ``total`` (before clipping) as a 0-d tensor.
    ``foreach`` is accepted for PyTorch compatibility and ignored.
    """
    max_norm = float(max_norm)
    if math.isnan(max_norm) or max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a non-negative number, got {max_norm!r}")
    grads = _grads(parameters)
    total = _total_norm(grads, norm_type, error_if_nonfinite)
    _scale(grads, max_norm, total)
    return Tensor._wrap(np.asarray(total))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))``, with a precomputed total norm
    (e.g. from :func:`get_total_norm` over several parameter sets)."""
    total = total_norm.data if isinstance(total_norm, Tensor) else np.asarray(total_norm, dtype=np.float32)
    _scale(_grads(parameters), float(max_norm), total)


def _scale(grads: list[np.ndarray], max_norm: float, total: np.ndarray) -> None:
    if not grads:
        return
    one = total.dtype.type(1.0)
    coef = np.minimum(total.dtype.type(max_norm) / (total + total.dtype.type(1e-6)), one)
    if not coef == one:  # (a NaN coefficient propagates into the gradients, as in PyTorch)
        with np.errstate(invalid="ignore"):  # inf · nan: NaN by design here, not a warning
            for g in grads:
                g *= coef.astype(g.dtype)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    if math.isnan(clip_value):
        raise ValueError("clip_grad_value_: clip_value must be a number, got nan")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
