"""Weight initialisers (``slimgrad.nn.init``), with PyTorch's names, arguments and formulas.

Every initialiser fills ``tensor.data`` in place (same array, same dtype) from the global generator
(:func:`slimgrad.backend.default_rng`, seeded by ``sg.manual_seed``) and returns the tensor.

Fans (``_calculate_fan_in_and_fan_out``): for a weight of shape ``(out, in, *kernel)``,
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``; a grouped convolution's weight
``(out, in/groups, kh, kw)`` therefore has ``fan_in = in/groups * kh * kw``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Tensor

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for ``nonlinearity``.

    linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    (``param`` is the negative slope, default 0.01); selu: 3/4.
    """
    if nonlinearity in _LINEAR_FNS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{list(_LINEAR_FNS) + ['tanh', 'relu', 'leaky_relu', 'selu']}"
    )


def _array(tensor, fn: str) -> np.ndarray:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor or Parameter, got {type(tensor).__name__}")
    if not np.issubdtype(tensor.data.dtype, np.floating):
        raise TypeError(f"{fn}: expected a floating-point tensor, got dtype {tensor.data.dtype}")
    return tensor.data


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight ``(out, in, *kernel)``: ``in * prod(kernel)``, ``out * prod(kernel)``."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, got shape {shape}"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower() if isinstance(mode, str) else mode
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill_uniform(arr: np.ndarray, low: float, high: float) -> None:
    rng = backend.default_rng()
    if arr.dtype in (np.float32, np.float64):
        values = rng.random(arr.shape, dtype=arr.dtype)  # U[0, 1) drawn in the tensor's own dtype
    else:
        values = rng.random(arr.shape)
    arr[...] = values * (high - low) + low


def _fill_normal(arr: np.ndarray, mean: float, std: float) -> None:
    rng = backend.default_rng()
    if arr.dtype in (np.float32, np.float64):
        values = rng.standard_normal(arr.shape, dtype=arr.dtype)
    else:
        values = rng.standard_normal(arr.shape)
    arr[...] = values * std + mean


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill with values drawn from U(a, b)."""
    arr = _array(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    _fill_uniform(arr, float(a), float(b))
    return tensor


def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    """Fill with values drawn from N(mean, std^2)."""
    arr = _array(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    _fill_normal(arr, float(mean), float(std))
    return tensor


def constant_(tensor, val: float):
    """Fill with the constant ``val``."""
    _array(tensor, "constant_")[...] = val
    return tensor


def zeros_(tensor):
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0):
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    arr = _array(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    _fill_uniform(arr, -bound, bound)
    return tensor


def xavier_normal_(tensor, gain: float = 1.0):
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    arr = _array(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    _fill_normal(arr, 0.0, std)
    return tensor


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """He uniform: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``, ``gain = calculate_gain(nonlinearity, a)``.

    ``mode`` picks ``fan = fan_in`` (preserves the forward variance) or ``fan_out`` (the backward one).
    With ``a = sqrt(5)`` (``nn.Linear``'s default) the bound is ``1 / sqrt(fan_in)``.
    """
    arr = _array(tensor, "kaiming_uniform_")
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor  # zero-element tensor: nothing to fill
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    _fill_uniform(arr, -bound, bound)
    return tensor


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)``, ``gain = calculate_gain(nonlinearity, a)``."""
    arr = _array(tensor, "kaiming_normal_")
    fan = _calculate_correct_fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    _fill_normal(arr, 0.0, std)
    return tensor


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0):
    """Fill with N(mean, std^2) values truncated to [a, b] (out-of-range draws are redrawn)."""
    arr = _array(tensor, "trunc_normal_")
    if not a < b or std < 0:
        raise ValueError(f"trunc_normal_: expected a < b and std >= 0, got a={a}, b={b}, std={std}")
    rng = backend.default_rng()
    values = rng.standard_normal(arr.shape) * std + mean
    bad = (values < a) | (values > b)
    for _ in range(100):  # each round redraws only the rejects; the interval holds most of the mass
        if not bad.any():
            break
        values[bad] = rng.standard_normal(int(bad.sum())) * std + mean
        bad = (values < a) | (values > b)
    arr[...] = np.clip(values, a, b)
    return tensor


def orthogonal_(tensor, gain: float = 1.0):
    """Fill with a (semi-)orthogonal matrix (rows or columns orthonormal) times ``gain``; dims past 1 flattened."""
    arr = _array(tensor, "orthogonal_")
    if arr.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape {arr.shape}")
    rows, cols = arr.shape[0], arr.size // arr.shape[0]
    flat = backend.default_rng().standard_normal((rows, cols))
    q, r = np.linalg.qr(flat.T if rows < cols else flat)
    q = q * np.sign(np.diag(r))  # a uniform (Haar) draw, as PyTorch's sign correction
    arr[...] = (gain * (q.T if rows < cols else q)).reshape(arr.shape)
    return tensor


def eye_(tensor):
    """Fill a 2-d tensor with the identity (ones on the diagonal)."""
    arr = _array(tensor, "eye_")
    if arr.ndim != 2:
        raise ValueError(f"eye_: only 2-d tensors are supported, got shape {arr.shape}")
    arr[...] = np.eye(*arr.shape, dtype=arr.dtype)
    return tensor


__all__ = [
    "calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_",
    "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_", "orthogonal_", "eye_",
]
