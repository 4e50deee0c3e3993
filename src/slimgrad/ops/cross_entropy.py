"""Classification losses: ``cross_entropy`` (softmax loss), ``nll_loss``, ``categorical_cross_entropy``.

Inputs are (N, C) or (N, C, d1, ...) with the classes on dim 1 (or unbatched (C,)); targets are class
indices (N, d1, ...) or class probabilities of the input's shape. ``reduction='none'`` gives the loss of
each sample (and position), ``'mean'`` the cost (note section 4), ``'sum'`` the total; as in PyTorch, a
class-weighted ``'mean'`` with index targets divides by the summed weights of the targets.

``cross_entropy`` is one fused Function (log-softmax, pick, reduce): its backward is
``softmax(x) - onehot(target)``, scaled, the hot path of classifier training.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from .cast import cast
from .loss import check_input, check_no_nan, check_probabilities, check_reduction, reduce_array, upstream
from .shape import reshape


# ----------------------------------------------------------------- target handling
def _index_shape(input_shape: tuple) -> tuple:
    return input_shape[:1] + input_shape[2:]


def _classify_target(input: Tensor, target, fn: str, ignore_index: int | None, allow_probs: bool = True):
    """``('indices', int array)`` or ``('probs', Tensor)``, validated against ``input`` (N, C, ...)."""
    data = target.data if isinstance(target, Tensor) else np.asarray(target)
    n_classes, index_shape = input.shape[1], _index_shape(input.shape)
    if np.issubdtype(data.dtype, np.floating):
        check_no_nan(data, fn)
        if allow_probs and data.shape == input.shape:
            t = target if isinstance(target, Tensor) else Tensor._wrap(data)
            if t.dtype != input.dtype:
                t = cast(t, input.dtype)  # differentiable, so a target that requires grad keeps its gradient
            return "probs", t
        if data.shape == index_shape or not allow_probs:
            raise TypeError(
                f"{fn}: expected class indices of an integer dtype"
                + (f" (or class probabilities of the input's shape {tuple(input.shape)})" if allow_probs else "")
                + f", got target of dtype {data.dtype} and shape {data.shape}"
            )
    elif not np.issubdtype(data.dtype, np.integer):
        raise TypeError(f"{fn}: expected class indices of an integer dtype, got target of dtype {data.dtype}")
    if data.shape != index_shape:
        raise ValueError(
            f"{fn}: target shape {data.shape} does not match input shape {tuple(input.shape)}: expected class "
            f"indices of shape {index_shape}" + (f" or probabilities of shape {tuple(input.shape)}" if allow_probs else "")
        )
    if data.size and (data.min() < 0 or data.max() >= n_classes):
        bad = data[(data != ignore_index) & ((data < 0) | (data >= n_classes))]
        if bad.size:
            raise IndexError(
                f"{fn}: target value {int(bad.flat[0])} is out of range for n_classes={n_classes} "
                f"(expected 0 <= target < {n_classes}"
                + (f", or ignore_index={ignore_index})" if ignore_index is not None else ")")
            )
    return "indices", data


def _class_weight(weight, input: Tensor, fn: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (input.shape[1],):
        raise ValueError(f"{fn}: weight must have shape (n_classes,) = ({input.shape[1]},), got shape {w.shape}")
    check_no_nan(w, fn, "weight")
    return w.astype(input.dtype, copy=False)


def _batched(input: Tensor, target, fn: str):
    """Give an unbatched (C,) input and its target a batch dim of 1; returns (input, target, was_unbatched)."""
    if input.ndim == 0:
        raise ValueError(f"{fn}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    if input.ndim > 1:
        return input, target, False
    if isinstance(target, Tensor) and target.ndim == 1:
        return reshape(input, 1, -1), reshape(target, 1, -1), True
    data = target.data if isinstance(target, Tensor) else np.asarray(target)
    return reshape(input, 1, -1), data.reshape((1,) + data.shape), True


def _unbatched(loss: Tensor, reduction: str, was_unbatched: bool) -> Tensor:
    return reshape(loss, ()) if was_unbatched and reduction == "none" else loss


def _pick(array: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``array[n, target[n, ...], ...]``: the target class's entry at every position."""
    if array.ndim == 2:
        return array[np.arange(array.shape[0]), target]
    return np.take_along_axis(array, target[:, None], axis=1)[:, 0]


def _target_index(target: np.ndarray) -> tuple:
    """A fancy index that addresses ``(n, target[n, ...], ...)`` in an (N, C, ...) array."""
    idx = np.indices(target.shape, sparse=True)
    return (idx[0].reshape(target.shape[:1] + (1,) * (target.ndim - 1)), target) + tuple(idx[1:])


def _class_axis(values: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape per-class values (C,) to broadcast along dim 1 of an ndim-d array."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def _per_position(values, shape: tuple) -> np.ndarray:
    """Per-position values (N, d1, ...) (or a scalar) broadcast and given a class axis: (N, 1, d1, ...)."""
    return np.expand_dims(np.broadcast_to(values, shape), 1)


def _zero_ignored(grad: np.ndarray, ctx) -> np.ndarray:
    """Ignored positions get a zero gradient even when every position is ignored (0/0 elsewhere)."""
    if ctx.all_valid or ctx.reduction != "mean" or ctx.denom != 0:
        return grad
    return np.where(np.expand_dims(ctx.valid, 1), grad, 0).astype(grad.dtype, copy=False)


def _per_class_upstream(g, reduction: str, count: int):
    """:func:`upstream` with a class axis inserted at 1 (for ``reduction='none'``), to broadcast over classes."""
    coef = upstream(g, reduction, count)
    return np.expand_dims(coef, 1) if np.ndim(coef) else coef


# ----------------------------------------------------------------- cross-entropy with class indices


class CrossEntropy(Function):
    """``l = (1 - eps) w_y (-log p_y) + (eps / C) sum_c w_c (-log p_c)``, ``p = softmax(x)`` over dim 1.

    Ignored positions contribute 0; ``'mean'`` divides by the sum of ``w_y`` over the kept positions.
    d l / d x_k = (1 - eps) w_y (p_k - [k = y]) + (eps / C) (sum_c w_c p_k - w_k).
    """

    def forward(self, x, target=None, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        n_classes, eps = x.shape[1], label_smoothing
        shifted = x - x.max(axis=1, keepdims=True)
        valid = target != ignore_index
        all_valid = bool(valid.all())
        safe_target = target if all_valid else np.where(valid, target, 0)
        shifted_target = _pick(shifted, safe_target)
        shifted_sum = None
        if eps:
            shifted_sum = shifted.sum(axis=1) if weight is None else (shifted * _class_axis(weight, x.ndim)).sum(axis=1)
        exp = np.exp(shifted, out=shifted)  # reuse the buffer: it becomes softmax(x) below
        sumexp = exp.sum(axis=1, keepdims=True)
        log_sumexp = np.log(sumexp)[:, 0]
        log_p_target = shifted_target - log_sumexp
        # a: each position's weight w_y (0 where ignored); None means 1 everywhere
        if weight is not None:
            a = weight[safe_target] if all_valid else weight[safe_target] * valid
        else:
            a = None if all_valid else valid.astype(x.dtype)
        loss = -log_p_target if a is None else -log_p_target * a
        if eps:
            total_weight = n_classes if weight is None else weight.sum()
            smooth = total_weight * log_sumexp - shifted_sum
            if not all_valid:
                smooth = smooth * valid
            loss = (1.0 - eps) * loss + (eps / n_classes) * smooth
        if reduction == "mean":
            denom = loss.size if a is None else a.sum()
            with np.errstate(invalid="ignore", divide="ignore"):  # every position ignored: NaN, as in PyTorch
                out = np.asarray(loss.sum() / denom, dtype=x.dtype)
        else:
            denom = 1
            out = reduce_array(loss, reduction)
        np.divide(exp, sumexp, out=exp)  # exp becomes softmax(x)
        self.p, self.target, self.a, self.valid, self.all_valid = exp, safe_target, a, valid, all_valid
        self.weight, self.eps, self.reduction, self.denom = weight, eps, reduction, denom
        return out

    def backward(self, g):
        if not self.needs_input_grad[0]:
            return None
        with np.errstate(invalid="ignore", divide="ignore"):  # zero total weight: NaN, as in PyTorch
            return _zero_ignored(self._grad(upstream(g, self.reduction, self.denom)), self)

    def _grad(self, coef):
        p, target, a, eps = self.p, self.target, self.a, self.eps
        index_shape = target.shape
        if a is None and not eps:  # the hot path: (softmax - onehot) * coef
            if np.ndim(coef) == 0:
                grad = p * coef
                grad[_target_index(target)] -= coef
            else:
                grad = p * np.expand_dims(coef, 1)
                grad[_target_index(target)] -= coef
            return grad
        n_classes = p.shape[1]
        a_or_1 = 1.0 if a is None else a
        valid = 1.0 if self.all_valid else self.valid.astype(p.dtype)
        total_weight = n_classes if self.weight is None else self.weight.sum()
        scale = coef * ((1.0 - eps) * a_or_1 + (eps / n_classes) * valid * total_weight)
        grad = p * _per_position(scale, index_shape)
        grad[_target_index(target)] -= np.broadcast_to(coef * (1.0 - eps) * a_or_1, index_shape)
        if eps:
            w = 1.0 if self.weight is None else _class_axis(self.weight, p.ndim)
            grad -= _per_position(coef * (eps / n_classes) * valid, index_shape) * w
        return grad


# ----------------------------------------------------------------- cross-entropy with class probabilities
class CrossEntropyProbs(Function):
    """``l = -sum_c w_c t_c log softmax(x)_c`` with ``t = (1 - eps) target + eps / C``.

    d l / d x = p sum_c w_c t_c - w t;  d l / d target = -(1 - eps) w log p.  ``'mean'`` averages over
    the N * d1 * ... positions (weights do not enter the divisor).
    """

    def forward(self, x, target, weight=None, reduction="mean", label_smoothing=0.0):
        n_classes, eps = x.shape[1], label_smoothing
        shifted = x - x.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sumexp = exp.sum(axis=1, keepdims=True)
        log_p = shifted - np.log(sumexp)
        t = target * (1.0 - eps) + eps / n_classes if eps else target
        w = None if weight is None else _class_axis(weight, x.ndim)
        wt = t if w is None else t * w
        loss = -(wt * log_p).sum(axis=1)
        self.p, self.log_p, self.wt, self.w = exp / sumexp, log_p, wt, w
        self.eps, self.reduction, self.count = eps, reduction, loss.size
        return reduce_array(loss, reduction)

    def backward(self, g):
        coef = _per_class_upstream(g, self.reduction, self.count)
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = coef * (self.p * self.wt.sum(axis=1, keepdims=True) - self.wt)
        if self.needs_input_grad[1]:
            scaled_log_p = self.log_p if self.w is None else self.log_p * self.w
            gt = coef * (-(1.0 - self.eps)) * scaled_log_p
        return gx, gt


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C, ...) against class indices or class probabilities.

    Index targets: ``loss_n = -w_{y_n} log softmax(x_n)_{y_n}`` (0 where ``y_n == ignore_index``); with
    ``label_smoothing`` eps the loss mixes in ``(eps / C) sum_c w_c (-log p_c)``; ``'mean'`` divides by
    ``sum_n w_{y_n}`` over kept positions. Probability targets: ``loss_n = -sum_c w_c t_c log p_c`` with
    ``t`` smoothed to ``(1 - eps) t + eps / C``; ``'mean'`` divides by the number of positions.
    """
    fn = "cross_entropy"
    check_reduction(reduction, fn)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    input = check_input(input, fn)
    input, target, was_unbatched = _batched(input, target, fn)
    kind, target = _classify_target(input, target, fn, ignore_index)
    weight = _class_weight(weight, input, fn)
    eps = float(label_smoothing)
    if kind == "probs":
        loss = CrossEntropyProbs.apply(input, target, weight=weight, reduction=reduction, label_smoothing=eps)
    else:
        loss = CrossEntropy.apply(input, target=target, weight=weight, ignore_index=ignore_index,
                                  reduction=reduction, label_smoothing=eps)
    return _unbatched(loss, reduction, was_unbatched)


softmax_cross_entropy = cross_entropy


# ----------------------------------------------------------------- negative log-likelihood
class NLLLoss(Function):
    """``l = -w_y x_y`` on log-probabilities x (0 where ignored); ``'mean'`` divides by ``sum w_y``."""

    def forward(self, x, target=None, weight=None, ignore_index=-100, reduction="mean"):
        valid = target != ignore_index
        all_valid = bool(valid.all())
        safe_target = target if all_valid else np.where(valid, target, 0)
        a = None if weight is None else weight[safe_target]
        if not all_valid:
            a = valid.astype(x.dtype) if a is None else a * valid
        picked = _pick(x, safe_target)
        loss = -picked if a is None else -picked * a
        if reduction == "mean":
            self.denom = loss.size if a is None else a.sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.asarray(loss.sum() / self.denom, dtype=x.dtype)
        else:
            self.denom = 1
            out = reduce_array(loss, reduction)
        self.shape, self.dtype, self.target, self.a, self.reduction = x.shape, x.dtype, safe_target, a, reduction
        self.valid, self.all_valid = valid, all_valid
        return out

    def backward(self, g):
        grad = np.zeros(self.shape, dtype=self.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # zero total weight: NaN, as in PyTorch
            coef = upstream(g, self.reduction, self.denom)
            values = -coef if self.a is None else -coef * self.a
            grad[_target_index(self.target)] = np.broadcast_to(values, self.target.shape)
        return _zero_ignored(grad, self)


def nll_loss(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) at class indices ``target``.

    ``loss_n = -w_{y_n} input[n, y_n]`` (0 where ``y_n == ignore_index``); ``'mean'`` divides by
    ``sum_n w_{y_n}`` over the kept positions.
    """
    fn = "nll_loss"
    check_reduction(reduction, fn)
    input = check_input(input, fn)
    input, target, was_unbatched = _batched(input, target, fn)
    _, target = _classify_target(input, target, fn, ignore_index, allow_probs=False)
    weight = _class_weight(weight, input, fn)
    loss = NLLLoss.apply(input, target=target, weight=weight, ignore_index=ignore_index, reduction=reduction)
    return _unbatched(loss, reduction, was_unbatched)


# ----------------------------------------------------------------- cross-entropy on probabilities
class CategoricalCrossEntropy(Function):
    """``l = -sum_c t_c max(log p_c, -100)``; d l / d p = -t / p (0 where the log is clamped), d l / d t = -log p."""

    def forward(self, p, target, reduction="mean"):
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100.0)
        loss = -(target * log_p).sum(axis=1)
        self.p, self.target, self.log_p, self.reduction, self.count = p, target, log_p, reduction, loss.size
        return reduce_array(loss, reduction)

    def backward(self, g):
        coef = _per_class_upstream(g, self.reduction, self.count)
        gp = gt = None
        if self.needs_input_grad[0]:
            ratio = np.zeros_like(self.p)
            np.divide(self.target, self.p, out=ratio, where=self.log_p > -100.0)
            gp = -coef * ratio
        if self.needs_input_grad[1]:
            gt = -coef * self.log_p
        return gp, gt


def categorical_cross_entropy(input, target, *, reduction: str = "mean") -> Tensor:
    """Cross-entropy of predicted probabilities ``input`` (N, C, ...) (e.g. a softmax output).

    ``loss_n = -sum_c t_{n,c} log input_{n,c}`` with ``t`` one-hot/probabilities of the input's shape, or
    class indices (N, ...) (then ``loss_n = -log input[n, y_n]``); logs are clamped at -100 like
    ``binary_cross_entropy``. Prefer ``cross_entropy`` on logits: it is stabler.
    """
    fn = "categorical_cross_entropy"
    check_reduction(reduction, fn)
    input = check_input(input, fn)
    input, target, was_unbatched = _batched(input, target, fn)
    check_probabilities(input.data, fn)
    kind, target = _classify_target(input, target, fn, ignore_index=None)
    if kind == "indices":
        onehot = np.zeros(input.shape, dtype=input.dtype)
        onehot[_target_index(target)] = 1.0
        target = Tensor._wrap(onehot)
    loss = CategoricalCrossEntropy.apply(input, target, reduction=reduction)
    return _unbatched(loss, reduction, was_unbatched)
