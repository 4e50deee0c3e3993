"""nn.Dropout / nn.Dropout2d: training vs eval, repr as PyTorch, validation."""
import numpy as np
import pytest
import torch

import slimgrad as sg
from slimgrad import nn


@pytest.mark.parametrize("cls", ["Dropout", "Dropout2d"])
def test_dropout_layers_drop_in_training_and_pass_through_in_eval(cls):
    layer = getattr(nn, cls)(0.5)
    x = sg.tensor(np.ones((4, 8, 3, 3), np.float32), requires_grad=True)
    sg.manual_seed(0)
    out = layer(x)
    assert set(np.unique(out.data)) <= {0.0, 2.0} and (out.data == 0).any() and (out.data == 2).any()
    layer.eval()
    assert not layer.training
    assert layer(x) is x
    layer.train()
    assert not np.array_equal(layer(x).data, np.ones((4, 8, 3, 3)))


@pytest.mark.parametrize("cls", ["Dropout", "Dropout2d"])
def test_repr_matches_torch(cls):
    assert repr(getattr(nn, cls)(0.25)) == repr(getattr(torch.nn, cls)(0.25))
    assert repr(getattr(nn, cls)()) == repr(getattr(torch.nn, cls)())


def test_dropout_has_no_parameters_and_follows_its_parent_mode():
    model = nn.Module()
    model.drop = nn.Dropout(0.3)
    assert list(model.drop.parameters()) == []
    model.eval()
    assert not model.drop.training


@pytest.mark.parametrize("p", [-0.5, 1.01, "a"])
def test_bad_p_names_the_layer_and_value(p):
    with pytest.raises(ValueError, match=rf"Dropout: dropout probability p has to be between 0 and 1, but got {p!r}"):
        nn.Dropout(p)
