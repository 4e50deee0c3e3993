"""Measured cost: time each traced layer's forward and backward on real random data.

For every module call of a trace the layer is run alone on a fresh random input of the traced shape (the
input requires grad only if a real backward would compute its gradient), ``repeats`` times after one
warm-up; the median times give

* achieved ``GFLOP/s = FLOPs / seconds / 1e9`` (forward and backward separately);
* arithmetic intensity ``FLOPs / bytes moved``, bytes = inputs + weights + output (each read or written
  once: the least traffic any implementation needs). A depthwise conv does ``k*k`` MACs per output element
  against a pointwise conv's ``C_in``, so its intensity, and with it its achievable GFLOP/s, is far lower.

Parameter gradients, buffers and the global RNG are restored afterwards (the caller restores the latter two).
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from .. import backend
from ..autograd import Function, Tensor


class _Source(Function):
    """Feeds a timed layer an input that needs a gradient like a hidden activation does: the gradient is
    computed by the layer's backward but, unlike a leaf's, not copied into a ``.grad`` buffer."""

    def forward(self, anchor, array=None):
        return array

    def backward(self, grad_output):
        return None


def _input(array, needs_grad: bool) -> Tensor:
    if not needs_grad:
        return Tensor._wrap(array, False)
    anchor = Tensor._wrap(np.zeros((), dtype=array.dtype), True)
    return _Source.apply(anchor, array=array)


def _time_layer(module, shapes, dtypes, needs, repeats: int):
    rng = backend.default_rng()
    fwd, bwd = [], []
    out = None
    for i in range(repeats + 1):
        inputs = [_input(rng.standard_normal(s).astype(d), bool(n)) for s, d, n in zip(shapes, dtypes, needs)]
        t0 = time.perf_counter()
        out = module(*inputs)
        t1 = time.perf_counter()
        if i:
            fwd.append(t1 - t0)
        if isinstance(out, Tensor) and out.requires_grad:
            g = np.ones(out.shape, dtype=out.dtype)
            t2 = time.perf_counter()
            out.backward(g)
            t3 = time.perf_counter()
            if i:
                bwd.append(t3 - t2)
    return statistics.median(fwd), (statistics.median(bwd) if bwd else None), out


def measure_rows(trace, rows, repeats: int = 5) -> None:
    """Fill ``row.measured`` for the module rows of ``trace`` (glue operations are not timed)."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"measure: repeats must be a positive integer, got {repeats!r}")
    for node, row in zip(trace.nodes, rows):
        if node.module is None or not row.known or not node.inputs:
            continue
        m = node.module
        params = list(m.parameters())
        saved_grads = [p.grad for p in params]
        shapes = [tuple(t.shape) for t in node.inputs]
        dtypes = [t.dtype for t in node.inputs]
        needs = [trace.tensor_needs_grad(t) for t in node.inputs]
        try:
            fwd_s, bwd_s, out = _time_layer(m, shapes, dtypes, needs, repeats)
        finally:
            for p, g in zip(params, saved_grads):
                p.grad = g
        in_bytes = sum(t.data.nbytes for t in node.inputs)
        w_bytes = sum(p.data.nbytes for p in params)
        out_bytes = out.data.nbytes if isinstance(out, Tensor) else 0
        moved = in_bytes + w_bytes + out_bytes
        row.measured = {
            "forward_ms": fwd_s * 1e3,
            "backward_ms": None if bwd_s is None else bwd_s * 1e3,
            "forward_gflops": row.flops / fwd_s / 1e9 if fwd_s > 0 else None,
            "backward_gflops": (row.backward_flops / bwd_s / 1e9) if bwd_s else None,
            "bytes_moved": int(moved),
            "intensity": row.flops / moved if moved else None,
        }
