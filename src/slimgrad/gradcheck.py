"""Finite-difference gradient check in float64: ``sg.gradcheck(fn, inputs)``."""
from __future__ import annotations

import numpy as np

from .autograd import Tensor


class GradcheckError(AssertionError):
    """Raised when backward disagrees with finite differences; the message names the worst mismatch."""


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              max_elementwise: int = 64, n_directions: int = 8, seed: int = 0,
              raise_exception: bool = True) -> bool:
    """Compare ``fn``'s backward with central finite differences, in float64.

    ``inputs`` are Tensors or arrays; floating ones that require grad (all floating ones if none does)
    are checked. The output is reduced to a scalar with a fixed random weighting ``<fn(x), r>``. An input
    with at most ``max_elementwise`` elements is checked element by element; a larger one along
    ``n_directions`` random unit directions ``v`` (``<grad, v>`` against ``(f(x+eps v) - f(x-eps v)) / 2eps``).
    Returns True, or raises :class:`GradcheckError` (returns False if ``raise_exception=False``).
    """
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    rng = np.random.default_rng(seed)
    xs = []
    for x in inputs:
        arr = x.data if isinstance(x, Tensor) else np.asarray(x)
        if np.issubdtype(arr.dtype, np.floating):
            wants = x.requires_grad if isinstance(x, Tensor) else True
            xs.append([np.array(arr, dtype=np.float64), wants])
        else:
            xs.append([arr, False])
    if not any(w for _, w in xs):  # nobody asked: check every floating input
        for item in xs:
            item[1] = np.issubdtype(item[0].dtype, np.floating)

    arrays = [a for a, _ in xs]
    ts = [Tensor(a, requires_grad=w) for a, w in xs]
    out = fn(*ts)
    if not isinstance(out, Tensor):
        raise GradcheckError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if not out.requires_grad:
        raise GradcheckError("gradcheck: fn's output does not require grad (no differentiable path from the "
                             "checked inputs was recorded)")
    if out.dtype != np.float64:
        raise GradcheckError(f"gradcheck: fn returned dtype {out.dtype} for float64 inputs (float64 expected)")
    r = rng.standard_normal(out.shape)
    out.backward(r)
    worst = (0.0, None)

    def scalar(arrs):
        with_no_grad = fn(*[Tensor(a) for a in arrs])
        return float(np.sum(with_no_grad.data * r))

    for i, ((a, wants), t) in enumerate(zip(xs, ts)):
        if not wants:
            continue
        analytic = np.zeros_like(a) if t.grad is None else t.grad.data
        if a.size <= max_elementwise:
            directions = np.eye(a.size).reshape((a.size,) + a.shape)
        else:
            directions = [v / np.linalg.norm(v) for v in rng.standard_normal((n_directions,) + a.shape)]
        for v in directions:
            plus = [x if j != i else np.asarray(a + eps * v) for j, x in enumerate(arrays)]
            minus = [x if j != i else np.asarray(a - eps * v) for j, x in enumerate(arrays)]
            numeric = (scalar(plus) - scalar(minus)) / (2 * eps)
            exact = float(np.sum(analytic * v))
            err = abs(numeric - exact)
            excess = err - (atol + rtol * abs(numeric))
            if worst[1] is None or excess > worst[0]:
                worst = (excess, (i, numeric, exact, err))
    if worst[1] is not None and worst[0] > 0:
        i, numeric, exact, err = worst[1]
        msg = (f"gradcheck: input {i}: backward gives {exact:.8g}, finite differences give {numeric:.8g} "
               f"(abs error {err:.3g} > atol {atol} + rtol {rtol} * |numeric|)")
        if raise_exception:
            raise GradcheckError(msg)
        return False
    return True
