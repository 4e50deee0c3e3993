"""Shared test helpers: compare an op with PyTorch (outputs and gradients), gradcheck it in float64, check
that repeated steps do not grow memory."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import torch

import slimgrad as sg

torch.set_num_threads(1)


def _as_list(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def compare_with_torch(sg_fn, torch_fn, arrays, rtol=1e-5, atol=1e-6, grad=True, grad_rtol=None,
                       grad_atol=None, seed=0):
    """Run ``sg_fn`` and ``torch_fn`` on the same inputs and compare outputs and input gradients.

    ``arrays`` are NumPy arrays; floating ones get ``requires_grad`` when ``grad`` is true. The output
    is backpropagated with the same random upstream gradient on both sides. Returns the slimgrad output.
    """
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    grad_atol = atol if grad_atol is None else grad_atol
    arrays = _as_list(arrays)
    floating = [np.issubdtype(a.dtype, np.floating) for a in arrays]
    sg_in = [sg.tensor(a, requires_grad=grad and f) for a, f in zip(arrays, floating)]
    th_in = [torch.tensor(a, requires_grad=grad and f) for a, f in zip(arrays, floating)]
    out = sg_fn(*sg_in)
    ref = torch_fn(*th_in)
    assert out.shape == tuple(ref.shape), f"shape {out.shape} != torch {tuple(ref.shape)}"
    assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", "")), f"dtype {out.dtype} != torch {ref.dtype}"
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    if grad and out.requires_grad:
        upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
        out.backward(upstream)
        ref.backward(torch.tensor(upstream))
        for i, (s, t) in enumerate(zip(sg_in, th_in)):
            if not t.requires_grad:
                continue
            tg = t.grad
            if tg is None:
                assert s.grad is None or not np.any(s.grad.data), f"input {i}: torch has no grad"
                continue
            assert s.grad is not None, f"input {i}: no gradient"
            assert s.grad.dtype == s.dtype, f"input {i}: grad dtype {s.grad.dtype} != {s.dtype}"
            np.testing.assert_allclose(s.grad.data, tg.numpy(), rtol=grad_rtol, atol=grad_atol,
                                       err_msg=f"gradient of input {i}")
    return out


def assert_both_reject(sg_fn, torch_fn, arrays, match=None):
    """Where PyTorch raises (RuntimeError) on these inputs, slimgrad raises a ValueError (matching ``match``)."""
    import pytest

    with pytest.raises(RuntimeError):
        torch_fn(*(torch.tensor(a) for a in arrays))
    with pytest.raises(ValueError, match=match):
        sg_fn(*(sg.tensor(a) for a in arrays))


def check_gradients(sg_fn, arrays, **kwargs):
    """``sg.gradcheck`` in float64 on the floating inputs."""
    arrays = [a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a for a in _as_list(arrays)]
    assert sg.gradcheck(sg_fn, arrays, **kwargs)


def compare_module_with_torch(ours, theirs, x, rtol=1e-5, atol=1e-6, seed=0, **call):
    """Forward and backward through a slimgrad layer and its ``torch.nn`` twin (weights already equal).

    Compares the output, the input gradient and the gradient of every named parameter. Returns our output.
    """
    xs, xt = sg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xs, **call), theirs(xt, **call)
    assert out.shape == tuple(ref.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    g = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(xs.grad.data, xt.grad.numpy(), rtol=rtol, atol=atol, err_msg="input gradient")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, theirs_params[name].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {name}")
    return out


def assert_memory_steady(step, warm: int = 3, steps: int = 20, slack: int = 64 << 10):
    """Run ``step`` ``warm`` then ``steps`` times: traced memory (current and peak) must not grow after the
    warm-up (one leaked activation-sized array per step would; ``slack`` allows Python's small-object free
    lists), and the kernels' work-buffer cache stays within its bounds."""
    from slimgrad.ops.window import workspaces

    step()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(warm):
            step()
        gc.collect()
        current_warm, peak_warm = tracemalloc.get_traced_memory()
        for _ in range(steps):
            step()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current <= current_warm + slack
    assert peak <= peak_warm + slack
    assert workspaces.nbytes <= workspaces.max_bytes and len(workspaces) <= workspaces.max_entries


def assert_same_with_workers(fn, arrays, worker_counts=(1, 2, 1)):
    """``fn(*tensors)`` forward and backward (a fixed upstream gradient) with the conv kernels on each worker
    count in turn: the output and every input gradient must be bit-for-bit the same each time."""
    from slimgrad.ops import window

    results = []
    try:
        for workers in worker_counts:
            window.set_num_workers(workers)
            tensors = [sg.tensor(a, requires_grad=True) for a in arrays]
            out = fn(*tensors)
            out.backward(np.cos(np.arange(out.data.size, dtype=out.dtype)).reshape(out.shape))
            results.append([out.data.copy()] + [t.grad.data.copy() for t in tensors])
    finally:
        window.set_num_workers(None)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.dtype == b.dtype and np.array_equal(a, b)
