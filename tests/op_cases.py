"""Declarative op tests: a table of :class:`Case` rows drives one parametrized test per file.

Each case names a slimgrad function, the PyTorch function it must match and an input generator
``make(draw, rng) -> [arrays]`` (``draw`` is hypothesis' for shapes and configs, ``rng`` a NumPy generator for
values). :func:`check_case` compares outputs and gradients with PyTorch in float32 and gradchecks in float64.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from helpers import check_gradients, compare_with_torch


@dataclasses.dataclass
class Case:
    name: str
    sg_fn: Callable
    torch_fn: Callable
    make: Callable
    rtol: float = 1e-5
    atol: float = 1e-6
    gradcheck: bool = True
    gradcheck_kwargs: dict = dataclasses.field(default_factory=dict)

    def __repr__(self):
        return self.name


def shape_st(min_dims=0, max_dims=4, min_side=1, max_side=5):
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def broadcast_shapes_st(min_dims=0, max_dims=4):
    """Two shapes that broadcast: the second drops some leading dims and has some sides set to 1; the
    pair may be swapped so either side can be the broadcast one."""
    @st.composite
    def pair(draw):
        a = draw(shape_st(min_dims, max_dims))
        keep = draw(st.integers(0, len(a)))
        b = list(a[len(a) - keep:])
        for i in range(len(b)):
            if draw(st.booleans()):
                b[i] = 1
        b = tuple(b)
        return (b, a) if draw(st.booleans()) else (a, b)
    return pair()


def normal(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def away_from_zero(rng, shape, low=0.5, high=2.0):
    """Values with |x| in [low, high] and random sign (avoids kinks and poles at 0)."""
    mag = rng.uniform(low, high, shape)
    return (mag * rng.choice([-1.0, 1.0], shape)).astype(np.float32)


def positive(rng, shape, low=0.5, high=2.0):
    return rng.uniform(low, high, shape).astype(np.float32)


def distinct(rng, shape):
    """Normal values with no ties (so max/argmax/sort-like ops have a unique answer)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.1 + rng.uniform(0, 0.05, shape)).astype(np.float32)


def check_case(case: Case, data) -> None:
    """Draw inputs for ``case``; compare with PyTorch (float32) and gradcheck (float64)."""
    seed = data.draw(st.integers(0, 2**31 - 1), label="seed")
    arrays = case.make(data.draw, np.random.default_rng(seed))
    compare_with_torch(case.sg_fn, case.torch_fn, arrays, rtol=case.rtol, atol=case.atol)
    if case.gradcheck:
        check_gradients(case.sg_fn, arrays, **case.gradcheck_kwargs)
