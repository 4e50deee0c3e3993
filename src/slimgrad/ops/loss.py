"""Loss functions (regression, binary, 0-1) and the input checks shared by every loss.

A **loss** measures the fit on one sample, the **cost** is the average loss over the samples (the note's
section 4): ``reduction='none'`` returns the losses, ``'mean'`` the cost, ``'sum'`` their total. As in
PyTorch, the elementwise losses (mse, l1, huber, bce) treat every element as a sample; ``squared_loss``
sums over each sample's elements first. Cross-entropy, NLL and categorical cross-entropy live in
:mod:`slimgrad.ops.cross_entropy`.

Each loss is one fused Function (loss and its derivative side by side) with the reduction inside, so a
training step records a single node for its loss.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from .operands import as_tensor

REDUCTIONS = ("none", "mean", "sum")


# ----------------------------------------------------------------- checks shared by the losses
def check_reduction(reduction, fn: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of 'none', 'mean', 'sum', got {reduction!r}")
    return reduction


def check_input(input, fn: str, arg: str = "input") -> Tensor:
    input = as_tensor(input)
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(f"{fn}: expected a floating-point {arg}, got dtype {input.dtype}")
    return input


def check_no_nan(array: np.ndarray, fn: str, arg: str = "target") -> None:
    if np.issubdtype(array.dtype, np.floating) and np.isnan(array).any():
        raise ValueError(f"{fn}: {arg} contains NaN ({int(np.isnan(array).sum())} of {array.size} values)")


def check_float_target(input: Tensor, target, fn: str) -> Tensor:
    """A real-valued target of the input's shape and dtype, without NaN."""
    target = as_tensor(target, like=input)
    if target.shape != input.shape:
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} must equal input shape {tuple(input.shape)}")
    if target.dtype != input.dtype:
        if target.requires_grad:
            raise TypeError(f"{fn}: target dtype {target.dtype} must equal input dtype {input.dtype}")
        target = Tensor._wrap(target.data.astype(input.dtype))
    check_no_nan(target.data, fn)
    return target


def check_probabilities(array: np.ndarray, fn: str, arg: str = "input") -> None:
    if array.size and (array.min() < 0 or array.max() > 1):
        raise ValueError(
            f"{fn}: all elements of {arg} should be between 0 and 1, got values in "
            f"[{array.min():.6g}, {array.max():.6g}]"
        )


def weight_array(weight, input: Tensor, fn: str, name: str = "weight") -> np.ndarray | None:
    """``weight`` as a constant array of the input's dtype that broadcasts against the input."""
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    try:
        fits = np.broadcast_shapes(w.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{fn}: {name} of shape {w.shape} does not broadcast to input shape {input.shape}")
    return w.astype(input.dtype, copy=False)


def reduce_array(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    return np.asarray(loss.sum() if reduction == "sum" else loss.mean(), dtype=loss.dtype)


def upstream(g: np.ndarray, reduction: str, count: int) -> np.ndarray:
    """The gradient of each unreduced loss given the gradient ``g`` of the reduced one."""
    return g / count if reduction == "mean" else g


# ----------------------------------------------------------------- regression losses
class DifferenceLoss(Function):
    """``phi(input - target)`` per element, reduced; ``d/d input = phi'(d)``, ``d/d target = -phi'(d)``.

    kind ``'squared'``: phi(d) = d^2; ``'absolute'``: |d|; ``'huber'``: d^2/2 if |d| < delta else
    delta (|d| - delta/2). With ``per_sample`` the losses are summed over all but the first axis first.
    """

    def forward(self, input, target, kind="squared", reduction="mean", delta=1.0, per_sample=False,
                weight=None, weighted_mean=False):
        d = input - target
        if kind == "squared":
            loss = d * d
        elif kind == "absolute":
            loss = np.abs(d)
        else:
            abs_d = np.abs(d)
            loss = np.where(abs_d < delta, 0.5 * d * d, delta * (abs_d - 0.5 * delta))
        if weight is not None:
            loss = loss * weight
        if per_sample and loss.ndim > 1:
            loss = loss.reshape(loss.shape[0], -1).sum(axis=1)
        self.d, self.kind, self.delta, self.reduction, self.per_sample = d, kind, delta, reduction, per_sample
        self.weight = weight
        # PyTorch: a weighted mse/l1 'mean' divides by the summed weights, a weighted huber 'mean' by the count
        self.count = weight.sum() if weighted_mean else loss.size
        if reduction == "mean" and weighted_mean:
            return np.asarray(loss.sum() / self.count, dtype=loss.dtype)
        return reduce_array(loss, reduction)

    def backward(self, g):
        d, kind = self.d, self.kind
        if kind == "squared":
            deriv = 2.0 * d
        elif kind == "absolute":
            deriv = np.sign(d)
        else:
            deriv = np.clip(d, -self.delta, self.delta)
        g = upstream(g, self.reduction, self.count)
        if self.per_sample and self.reduction == "none" and d.ndim > 1:
            g = g.reshape((-1,) + (1,) * (d.ndim - 1))
        grad = deriv * g
        if self.weight is not None:
            grad = grad * self.weight
        return (grad if self.needs_input_grad[0] else None,
                -grad if self.needs_input_grad[1] else None)


def _difference_loss(input, target, fn, reduction, weight=None, **params) -> Tensor:
    check_reduction(reduction, fn)
    input = check_input(input, fn)
    target = check_float_target(input, target, fn)
    if weight is not None:
        w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
        if w.shape != input.shape:
            raise ValueError(f"{fn}: weight must have the input's shape {tuple(input.shape)}, got shape {w.shape}")
        check_no_nan(w, fn, "weight")
        params["weight"] = w.astype(input.dtype, copy=False)
    return DifferenceLoss.apply(input, target, reduction=reduction, **params)


def mse_loss(input, target, *, reduction: str = "mean", weight=None) -> Tensor:
    """Mean squared error: ``(input - target)^2`` per element; ``'mean'`` averages over all elements.

    With ``weight`` (the input's shape) each element's loss is scaled and ``'mean'`` divides by
    ``sum(weight)`` (PyTorch's rule).
    """
    return _difference_loss(input, target, "mse_loss", reduction, weight, kind="squared",
                            weighted_mean=weight is not None)


def l1_loss(input, target, *, reduction: str = "mean", weight=None) -> Tensor:
    """Mean absolute error: ``|input - target|`` per element (gradient sign(d), 0 at d = 0).

    ``weight`` as in :func:`mse_loss` (``'mean'`` divides by ``sum(weight)``).
    """
    return _difference_loss(input, target, "l1_loss", reduction, weight, kind="absolute",
                            weighted_mean=weight is not None)


mae_loss = l1_loss


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> Tensor:
    """Huber loss: ``d^2 / 2`` if ``|d| < delta`` else ``delta (|d| - delta / 2)``, with ``d = input - target``.

    With ``weight`` (the input's shape) each element's loss is scaled; ``'mean'`` still divides by the
    number of elements (PyTorch's rule for huber, unlike mse/l1).
    """
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta!r}")
    return _difference_loss(input, target, "huber_loss", reduction, weight, kind="huber", delta=float(delta))


def squared_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """Squared loss per sample: ``sum_j (input[n, j] - target[n, j])^2`` over all non-batch dims.

    ``'none'`` gives one loss per sample (shape (N,)); ``'mean'`` is the cost, their average over N.
    """
    fn = "squared_loss"
    input = check_input(input, fn)
    if input.ndim == 0:
        raise ValueError(f"{fn}: expected input with a batch dimension, got a 0-d tensor")
    return _difference_loss(input, target, fn, reduction, kind="squared", per_sample=True)


# ----------------------------------------------------------------- binary losses
class BinaryCrossEntropy(Function):
    """``-w [y log x + (1 - y) log(1 - x)]`` with both logs clamped at -100 (PyTorch's rule).

    d/dx = w (x - y) / max(x (1 - x), 1e-12); d/dy = w (log(1 - x) - log x) (clamped logs).
    """

    def forward(self, x, y, weight=None, reduction="mean"):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100.0)
            log_1mx = np.maximum(np.log1p(-x), -100.0)
        loss = -(y * log_x + (1.0 - y) * log_1mx)
        if weight is not None:
            loss = loss * weight
        self.x, self.y, self.weight, self.reduction, self.count = x, y, weight, reduction, loss.size
        self.log_x, self.log_1mx = log_x, log_1mx
        return reduce_array(loss, reduction)

    def backward(self, g):
        g = upstream(g, self.reduction, self.count)
        if self.weight is not None:
            g = g * self.weight
        x, y = self.x, self.y
        gx = g * (x - y) / np.maximum(x * (1.0 - x), 1e-12) if self.needs_input_grad[0] else None
        gy = g * (self.log_1mx - self.log_x) if self.needs_input_grad[1] else None
        return gx, gy


def binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on probabilities ``input`` in [0, 1]; logs are clamped at -100 as in PyTorch.

    ``loss = -weight * (target * log(input) + (1 - target) * log(1 - input))`` per element.
    """
    fn = "binary_cross_entropy"
    check_reduction(reduction, fn)
    input = check_input(input, fn)
    target = check_float_target(input, target, fn)
    check_probabilities(input.data, fn)
    w = weight_array(weight, input, fn)
    return BinaryCrossEntropy.apply(input, target, weight=w, reduction=reduction)


class BinaryCrossEntropyWithLogits(Function):
    """``w [(1 - y) x + c softplus(-x)]`` with ``c = 1 + (pos_weight - 1) y`` (``c = 1`` without pos_weight).

    softplus(-x) = log(1 + exp(-|x|)) + max(-x, 0) is evaluated stably. d/dx = w (c sigmoid(x) - pos_weight y);
    d/dy = w (-x + (pos_weight - 1) softplus(-x)).
    """

    def forward(self, x, y, weight=None, pos_weight=None, reduction="mean"):
        e = np.exp(-np.abs(x))
        softplus_neg = np.log1p(e) + np.maximum(-x, 0.0)
        if pos_weight is None:
            loss = (1.0 - y) * x + softplus_neg
        else:
            loss = (1.0 - y) * x + (1.0 + (pos_weight - 1.0) * y) * softplus_neg
        if weight is not None:
            loss = loss * weight
        self.x, self.y, self.e, self.softplus_neg = x, y, e, softplus_neg
        self.weight, self.pos_weight, self.reduction, self.count = weight, pos_weight, reduction, loss.size
        return reduce_array(loss, reduction)

    def backward(self, g):
        g = upstream(g, self.reduction, self.count)
        if self.weight is not None:
            g = g * self.weight
        x, y, e, pw = self.x, self.y, self.e, self.pos_weight
        gx = gy = None
        if self.needs_input_grad[0]:
            sig = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
            gx = g * (sig - y) if pw is None else g * ((1.0 + (pw - 1.0) * y) * sig - pw * y)
        if self.needs_input_grad[1]:
            gy = -g * x if pw is None else g * ((pw - 1.0) * self.softplus_neg - x)
        return gx, gy


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one numerically stable step (finite for logits of any size).

    ``loss = -weight * (pos_weight * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x)))`` per element;
    ``pos_weight`` broadcasts along the last (class) dimension.
    """
    fn = "binary_cross_entropy_with_logits"
    check_reduction(reduction, fn)
    input = check_input(input, fn)
    target = check_float_target(input, target, fn)
    w = weight_array(weight, input, fn)
    pw = weight_array(pos_weight, input, fn, "pos_weight")
    return BinaryCrossEntropyWithLogits.apply(input, target, weight=w, pos_weight=pw, reduction=reduction)


# ----------------------------------------------------------------- 0-1 loss (a metric)
class ZeroOne(Function):
    """The 0-1 loss as a graph node whose backward refuses: the loss is piecewise constant."""

    def forward(self, input, value=None):
        return value

    def backward(self, g):
        raise RuntimeError(
            "zero_one_loss is not differentiable (it is piecewise constant, its gradient is zero almost "
            "everywhere); train with a surrogate such as cross_entropy and use zero_one_loss as a metric"
        )


def zero_one_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """0-1 loss: 1 where the prediction differs from the target, else 0; ``'mean'`` is the error rate.

    ``input`` is scores/logits (N, C, ...) (prediction: argmax over dim 1) or labels of the target's shape;
    ``target`` is class indices (N, ...) or one-hot/probabilities (N, C, ...) (argmax over dim 1).
    Not differentiable: asking for a gradient through it raises an error.
    """
    fn = "zero_one_loss"
    check_reduction(reduction, fn)
    input = as_tensor(input)
    target = target.data if isinstance(target, Tensor) else np.asarray(target)
    check_no_nan(target, fn)
    check_no_nan(input.data, fn, "input")
    if target.shape == input.shape and input.ndim >= 2 and np.issubdtype(target.dtype, np.floating):
        if input.shape[1] == 1:
            raise ValueError(f"{fn}: scores of shape {tuple(input.shape)} have a single class column, so argmax "
                             f"is always 0; threshold binary scores into 0/1 labels first")
        target = target.argmax(axis=1)  # one-hot / probability targets
    if input.shape == target.shape:
        pred = input.data
        if np.issubdtype(pred.dtype, np.floating) and not np.array_equal(pred, np.round(pred)):
            raise ValueError(f"{fn}: input of the target's shape {tuple(target.shape)} must be predicted labels, "
                             f"got non-integer values; pass scores of shape (N, C, ...) or threshold binary "
                             f"scores into 0/1 labels first")
    elif input.ndim == target.ndim + 1 and input.ndim >= 2 and input.shape[:1] + input.shape[2:] == target.shape:
        pred = input.data.argmax(axis=1)
    else:
        raise ValueError(
            f"{fn}: input shape {tuple(input.shape)} must be labels of the target's shape {tuple(target.shape)} "
            f"or scores of shape (N, C, ...) matching it"
        )
    dtype = input.dtype if np.issubdtype(input.dtype, np.floating) else np.dtype(np.float32)
    value = reduce_array((pred != target).astype(dtype), reduction)
    if not input.requires_grad:
        return Tensor._wrap(value)
    return ZeroOne.apply(input, value=value)
