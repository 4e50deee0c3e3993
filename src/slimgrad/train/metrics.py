"""Evaluation metrics on predictions (not differentiable; they take Tensors or arrays, return floats/arrays).

``output`` is either scores of shape ``(N, C, *spatial)`` (logits or probabilities; the class axis is 1,
as in PyTorch) or predicted class indices of shape ``(N, *spatial)``; ``target`` holds class indices.
"""
from __future__ import annotations

import numpy as np

__all__ = ["accuracy", "zero_one_loss", "top_k_accuracy", "confusion_matrix", "mean_iou", "get_metric",
           "METRICS"]


def _array(x, name: str) -> np.ndarray:
    arr = np.asarray(x.data if hasattr(x, "_ctx") else x)
    if arr.dtype == object:
        raise TypeError(f"{name}: expected a numeric array or Tensor, got dtype object")
    return arr


def _labels(target, name: str) -> np.ndarray:
    t = _array(target, name)
    if not np.issubdtype(t.dtype, np.integer):
        if not np.issubdtype(t.dtype, np.floating) or not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
            raise TypeError(f"{name}: expected integer class indices, got dtype {t.dtype}")
        t = t.astype(np.int64)
    return t


def _predictions(output, target, name: str) -> np.ndarray:
    """Class indices from ``output``: argmax over axis 1 when it has one more axis than ``target``."""
    out = _array(output, name)
    if out.ndim == target.ndim + 1:
        return out.argmax(axis=1)
    if out.shape != target.shape:
        raise ValueError(f"{name}: output shape {out.shape} matches neither target {target.shape} (class indices) "
                         f"nor (N, C, ...) scores for it")
    return _labels(out, name)


def accuracy(output, target) -> float:
    """Fraction of correct predictions: ``mean(argmax(output) == target)``."""
    target = _labels(target, "accuracy: target")
    pred = _predictions(output, target, "accuracy")
    if target.size == 0:
        raise ValueError("accuracy: target is empty")
    return float(np.mean(pred == target))


def zero_one_loss(output, target, reduction: str = "mean"):
    """The 0-1 loss ``L(y, f(x)) = 1 if f(x) != y else 0``; ``'mean'`` is the error rate (1 - accuracy).

    ``reduction``: ``'none'`` (per-sample array), ``'mean'`` or ``'sum'``.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"zero_one_loss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    target = _labels(target, "zero_one_loss: target")
    losses = (_predictions(output, target, "zero_one_loss") != target).astype(np.float64)
    if reduction == "none":
        return losses
    return float(losses.sum() if reduction == "sum" else losses.mean())


def top_k_accuracy(output, target, k: int = 5) -> float:
    """Fraction of samples whose target is among the ``k`` highest scores (ties broken by index order)."""
    scores = _array(output, "top_k_accuracy: output")
    target = _labels(target, "top_k_accuracy: target")
    if scores.ndim != target.ndim + 1:
        raise ValueError(f"top_k_accuracy: output must be scores (N, C, ...) for target {target.shape}, "
                         f"got shape {scores.shape}")
    n_classes = scores.shape[1]
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n_classes:
        raise ValueError(f"top_k_accuracy: k must be an integer in [1, {n_classes}], got {k!r}")
    target_score = np.take_along_axis(scores, np.expand_dims(target, 1), axis=1)
    # rank of the target = number of classes scoring strictly higher (+ equal ones with a lower index)
    higher = (scores > target_score).sum(axis=1)
    idx = np.arange(n_classes).reshape((1, n_classes) + (1,) * (scores.ndim - 2))
    ties = ((scores == target_score) & (idx < np.expand_dims(target, 1))).sum(axis=1)
    return float(np.mean(higher + ties < k))


def confusion_matrix(output, target, num_classes: int | None = None, ignore_index: int | None = None) -> np.ndarray:
    """``M[i, j]`` = number of samples of true class ``i`` predicted as ``j`` (int64, ``(C, C)``)."""
    target = _labels(target, "confusion_matrix: target")
    pred = _predictions(output, target, "confusion_matrix").ravel()
    target = target.ravel()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    if num_classes is None:
        num_classes = int(max(pred.max(initial=-1), target.max(initial=-1))) + 1
    for arr, what in ((target, "target"), (pred, "prediction")):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {what} class indices must lie in [0, {num_classes}), got "
                             f"range [{arr.min()}, {arr.max()}]")
    flat = np.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def mean_iou(output, target, num_classes: int | None = None, ignore_index: int | None = None) -> float:
    """Mean intersection over union for segmentation: ``IoU_c = TP / (TP + FP + FN)``, averaged over the
    classes that occur in the target or the prediction (absent classes are skipped, not counted as 0 or 1).
    """
    cm = confusion_matrix(output, target, num_classes, ignore_index)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - tp
    present = union > 0
    if not present.any():
        raise ValueError("mean_iou: no pixels to score (empty target after ignore_index)")
    return float(np.mean(tp[present] / union[present]))


METRICS = {"accuracy": accuracy, "zero_one_loss": zero_one_loss, "top_k_accuracy": top_k_accuracy,
           "mean_iou": mean_iou}


def get_metric(name_or_fn):
    """A metric function from its name (``'accuracy'``, ``'top5'``...) or the callable itself."""
    if callable(name_or_fn):
        return name_or_fn
    if isinstance(name_or_fn, str):
        if name_or_fn in METRICS:
            return METRICS[name_or_fn]
        if name_or_fn.startswith("top") and name_or_fn[3:].isdigit():
            k = int(name_or_fn[3:])
            fn = lambda output, target: top_k_accuracy(output, target, k)  # noqa: E731
            fn.__name__ = name_or_fn
            return fn
    raise ValueError(f"metric: expected a callable or one of {sorted(METRICS)} or 'topK', got {name_or_fn!r}")
