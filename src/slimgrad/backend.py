"""The array backend: one array module (``xp``), the default dtype and the random generator.

Ops are written once against ``xp``. NumPy is the backend now; a CuPy backend can be added by
setting ``xp`` through :func:`set_array_module` (imported lazily, never at import time).
"""
from __future__ import annotations

import numpy as np

xp = np
"""The active array module (``numpy``)."""

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()


def get_array_module(*arrays):
    """Return the array module that owns ``arrays`` (NumPy here; CuPy when that backend is added)."""
    return xp


def set_array_module(name: str) -> None:
    """Select the array module by name: ``'numpy'`` or ``'cupy'`` (imported only when asked for)."""
    global xp
    if name == "numpy":
        xp = np
    elif name == "cupy":
        try:
            import cupy  # noqa: F401  (optional GPU backend)
        except ImportError as exc:
            raise RuntimeError("set_array_module('cupy'): CuPy is not installed") from exc
        xp = cupy
    else:
        raise ValueError(f"set_array_module: expected 'numpy' or 'cupy', got {name!r}")


def get_default_dtype() -> np.dtype:
    """The floating dtype new tensors get from Python floats (float32)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype: float32 or float64."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_dtype = dtype


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global random generator (weights init, dropout, shuffling) and return it."""
    global _rng
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative integer seed, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    return _rng


def default_rng() -> np.random.Generator:
    """The global random generator that :func:`manual_seed` seeds."""
    return _rng


def get_rng_state() -> dict:
    """The global generator's state as a JSON-serialisable dict (for checkpoints)."""
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore the global generator's state saved by :func:`get_rng_state`."""
    _rng.bit_generator.state = state


def is_floating(dtype) -> bool:
    """Whether ``dtype`` is a floating-point dtype (the dtypes that can require grad)."""
    return np.issubdtype(np.dtype(dtype), np.floating)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 1 << 30) -> bool:
    """Tell glibc's allocator to keep freed blocks for reuse instead of returning them to the kernel.

    A training step frees and reallocates the same tens of megabytes of activations every step; with
    glibc's defaults each of those big blocks is unmapped and page-faulted in again (~0.1 ms per MB), which
    costs a NumPy engine about a quarter of a conv-net step. Blocks up to ``mmap_threshold`` bytes (glibc's
    maximum is 32 MB) then come from the heap, and up to ``trim_threshold`` bytes of free heap are kept.
    ``import slimgrad`` calls this once. Returns False where the C library is not glibc (nothing changes).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl without mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)))
