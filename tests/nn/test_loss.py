"""Loss modules vs the matching torch.nn modules (values, gradients, state dict) and their argument checks."""
import numpy as np
import pytest
import torch

import slimgrad as sg
import slimgrad.nn as nn
from helpers import compare_with_torch

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 3)).astype(np.float32)
Y = rng.standard_normal((4, 3)).astype(np.float32)
P = rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
B = rng.uniform(0, 1, (4, 3)).astype(np.float32)
T = np.array([0, 2, 1, 2])
W = np.array([0.5, 1.0, 2.0], dtype=np.float32)

CASES = [
    ("MSELoss", lambda r: nn.MSELoss(reduction=r), lambda r: torch.nn.MSELoss(reduction=r), [X, Y]),
    ("L1Loss", lambda r: nn.L1Loss(reduction=r), lambda r: torch.nn.L1Loss(reduction=r), [X, Y]),
    ("HuberLoss", lambda r: nn.HuberLoss(reduction=r, delta=0.5),
     lambda r: torch.nn.HuberLoss(reduction=r, delta=0.5), [X, Y]),
    ("BCELoss", lambda r: nn.BCELoss(W, reduction=r), lambda r: torch.nn.BCELoss(torch.tensor(W), reduction=r),
     [P, B]),
    ("BCEWithLogitsLoss", lambda r: nn.BCEWithLogitsLoss(W, reduction=r, pos_weight=W[::-1].copy()),
     lambda r: torch.nn.BCEWithLogitsLoss(torch.tensor(W), reduction=r, pos_weight=torch.tensor(W[::-1].copy())),
     [X, B]),
    ("CrossEntropyLoss", lambda r: nn.CrossEntropyLoss(W, ignore_index=1, reduction=r, label_smoothing=0.1),
     lambda r: torch.nn.CrossEntropyLoss(torch.tensor(W), ignore_index=1, reduction=r, label_smoothing=0.1),
     [X, T]),
    ("NLLLoss", lambda r: nn.NLLLoss(W, reduction=r), lambda r: torch.nn.NLLLoss(torch.tensor(W), reduction=r),
     [X, T]),
]


@pytest.mark.parametrize("name,make,make_torch,arrays", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_loss_modules_match_torch(name, make, make_torch, arrays, reduction):
    compare_with_torch(make(reduction), make_torch(reduction), arrays, rtol=1e-5, atol=1e-5)
    assert list(make(reduction).state_dict()) == list(make_torch(reduction).state_dict())


def test_losses_without_torch_counterpart_match_their_functional_form():
    x, y = sg.tensor(X), sg.tensor(Y)
    np.testing.assert_allclose(nn.SquaredLoss(reduction="none")(x, y).data, ((X - Y) ** 2).sum(1), rtol=1e-6)
    assert nn.SquaredLoss()(x, y).item() == pytest.approx(((X - Y) ** 2).sum(1).mean(), rel=1e-6)
    probs = torch.softmax(torch.tensor(X), 1)
    expected = torch.nn.functional.nll_loss(torch.log(probs), torch.tensor(T)).item()
    assert nn.CategoricalCrossEntropyLoss()(sg.tensor(probs.numpy()), T).item() == pytest.approx(expected, rel=1e-5)
    assert nn.ZeroOneLoss(reduction="sum")(x, T).item() == float((X.argmax(1) != T).sum())


def test_mean_is_the_cost_the_average_of_per_sample_losses():
    for loss in (nn.CrossEntropyLoss, nn.SquaredLoss, nn.ZeroOneLoss):
        target = Y if loss is nn.SquaredLoss else T
        per_sample = loss(reduction="none")(sg.tensor(X), target)
        assert per_sample.shape == (4,)
        assert loss()(sg.tensor(X), target).item() == pytest.approx(per_sample.data.mean(), rel=1e-6)


@pytest.mark.parametrize("loss", [nn.MSELoss, nn.L1Loss, nn.HuberLoss, nn.SquaredLoss, nn.BCELoss,
                                  nn.BCEWithLogitsLoss, nn.CrossEntropyLoss, nn.NLLLoss,
                                  nn.CategoricalCrossEntropyLoss, nn.ZeroOneLoss])
def test_bogus_reduction_is_rejected_at_construction(loss):
    with pytest.raises(ValueError, match=f"{loss.__name__}: reduction must be one of 'none', 'mean', 'sum', "
                                         f"got 'bogus'"):
        loss(reduction="bogus")


def test_repr_matches_torch():
    assert repr(nn.MSELoss()) == repr(torch.nn.MSELoss())
    assert repr(nn.CrossEntropyLoss()) == repr(torch.nn.CrossEntropyLoss())
    assert repr(nn.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)
    with pytest.raises(ValueError, match="delta must be positive"):
        nn.HuberLoss(delta=-1)
