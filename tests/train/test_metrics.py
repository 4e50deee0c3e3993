"""Metrics against scikit-learn and PyTorch on hypothesis-drawn predictions."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn import metrics as skm

import slimgrad as sg
from slimgrad.train import metrics as M


@st.composite
def scores_and_targets(draw, spatial=False):
    n = draw(st.integers(1, 40))
    c = draw(st.integers(2, 7))
    extra = (draw(st.integers(1, 4)), draw(st.integers(1, 4))) if spatial else ()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = rng.standard_normal((n, c) + extra).astype(np.float32)
    target = rng.integers(0, c, (n,) + extra)
    return scores, target


@given(scores_and_targets())
def test_accuracy_and_zero_one_loss_match_sklearn(data):
    scores, target = data
    pred = scores.argmax(1)
    assert M.accuracy(scores, target) == pytest.approx(skm.accuracy_score(target, pred))
    assert M.accuracy(pred, target) == pytest.approx(skm.accuracy_score(target, pred))
    assert M.accuracy(sg.tensor(scores), sg.tensor(target)) == pytest.approx(skm.accuracy_score(target, pred))
    assert M.zero_one_loss(scores, target) == pytest.approx(skm.zero_one_loss(target, pred))
    assert M.zero_one_loss(scores, target, reduction="sum") == pytest.approx(
        skm.zero_one_loss(target, pred, normalize=False))
    np.testing.assert_array_equal(M.zero_one_loss(scores, target, reduction="none"), (pred != target).astype(float))


@given(scores_and_targets(), st.integers(1, 7))
def test_top_k_matches_torch_topk(data, k):
    scores, target = data
    k = min(k, scores.shape[1])
    topk = torch.topk(torch.tensor(scores), k, dim=1).indices.numpy()
    expected = np.mean((topk == target[:, None]).any(axis=1))
    assert M.top_k_accuracy(scores, target, k) == pytest.approx(expected)
    assert M.get_metric(f"top{k}")(scores, target) == pytest.approx(expected)


def test_top_1_is_accuracy_and_top_c_is_one(rng):
    scores, target = rng.standard_normal((50, 4)), rng.integers(0, 4, 50)
    assert M.top_k_accuracy(scores, target, 1) == M.accuracy(scores, target)
    assert M.top_k_accuracy(scores, target, 4) == 1.0


@given(scores_and_targets(spatial=True))
def test_confusion_matrix_and_mean_iou_match_sklearn(data):
    scores, target = data
    c = scores.shape[1]
    pred = scores.argmax(1)
    cm = M.confusion_matrix(scores, target, num_classes=c)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(target.ravel(), pred.ravel(), labels=range(c)))
    assert cm.sum() == target.size
    expected = skm.jaccard_score(target.ravel(), pred.ravel(), average="macro")
    assert M.mean_iou(scores, target, num_classes=c) == pytest.approx(expected)


def test_mean_iou_ignore_index():
    target = np.array([[0, 1, 255], [1, 1, 255]])
    pred = np.array([[0, 1, 0], [0, 1, 1]])
    # class 0: tp 1, fp 1 (one wrong pixel at target 1) -> 1/2; class 1: tp 2, fn 1 -> 2/3
    assert M.mean_iou(pred, target, num_classes=2, ignore_index=255) == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="k must be an integer in \\[1, 3\\], got 4"):
        M.top_k_accuracy(np.zeros((2, 3)), np.zeros(2, int), k=4)
    with pytest.raises(ValueError, match="output shape"):
        M.accuracy(np.zeros((2, 3, 4, 5)), np.zeros(2, int))
    with pytest.raises(TypeError, match="integer class indices"):
        M.accuracy(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        M.zero_one_loss(np.zeros((2, 3)), np.zeros(2, int), reduction="bogus")
    with pytest.raises(ValueError, match=r"target class indices must lie in \[0, 2\)"):
        M.confusion_matrix(np.array([0, 1]), np.array([0, 5]), num_classes=2)
    with pytest.raises(ValueError, match="metric"):
        M.get_metric("bogus")
