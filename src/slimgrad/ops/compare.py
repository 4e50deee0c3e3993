"""Comparisons and other non-differentiable elementwise ops: eq/ne/lt/le/gt/ge (boolean tensors, as
PyTorch's operators), logical_not, sign. Their results carry no gradient."""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from .operands import _binary_operands, _check_broadcast


def _compare(ufunc, name):
    def compare(a, b) -> Tensor:
        a, b = _binary_operands(a, b)
        _check_broadcast(a, b, name)
        return Tensor._wrap(np.asarray(ufunc(a.data, b.data)))
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` (no gradient; a comparison gives a boolean tensor)."
    return compare


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")


def logical_not(a: Tensor) -> Tensor:
    return Tensor._wrap(np.logical_not(a.data))


def sign(a: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise; not differentiable (zero gradient, so the result carries none)."""
    return Tensor._wrap(np.sign(a.data))
