"""Sequential, ModuleList, Flatten, Identity: PyTorch's indexing, naming, shapes and repr."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import slimgrad as sg
import slimgrad.nn as nn
from helpers import compare_with_torch


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_sequential_applies_modules_in_order_like_torch():
    model = _mlp()
    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ref.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    compare_with_torch(model, ref, [x])
    assert repr(model) == repr(ref)


def test_sequential_indexing_slicing_len_iteration():
    model = _mlp()
    assert len(model) == 3 and [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert model[-1] is model[2] and model[0].out_features == 8
    head = model[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is model[2]
    assert [n for n, _ in head.named_children()] == ["1", "2"]  # slices keep the names, as in torch
    with pytest.raises(IndexError, match="index 3 is out of range for 3 modules"):
        model[3]
    model[1] = nn.Tanh()
    assert isinstance(model[1], nn.Tanh)
    model.append(nn.Sigmoid())
    assert [n for n, _ in model.named_children()] == ["0", "1", "2", "3"]
    del model[1]
    assert [n for n, _ in model.named_children()] == ["0", "1", "2"]
    assert isinstance(model[1], nn.Linear) and isinstance(model[2], nn.Sigmoid)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_sequential_from_ordered_dict_uses_its_names():
    model = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU()))
    ref = torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(2, 3), act=torch.nn.ReLU()))
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert model[0] is model.fc and repr(model) == repr(ref)


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="Sequential: argument 1: expected a Module, got function"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ref = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and list(layers.state_dict()) == list(ref.state_dict())
    layers.append(nn.ReLU())
    layers.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in layers] == ["Tanh", "Linear", "Linear", "Linear", "ReLU"]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3", "4"]
    del layers[0]
    layers.extend([nn.Sigmoid()])
    assert [type(m).__name__ for m in layers[-2:]] == ["ReLU", "Sigmoid"]
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity) and len(list(layers.parameters())) == 4
    with pytest.raises(NotImplementedError, match="iterate over it"):
        layers(sg.tensor(np.zeros(2)))


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=5).map(tuple), data=st.data())
def test_flatten_matches_torch(shape, data):
    ndim = len(shape)
    start = data.draw(st.integers(-ndim, ndim - 1))
    end = data.draw(st.integers(start % ndim, ndim - 1))
    end = end - ndim if data.draw(st.booleans()) else end
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    compare_with_torch(nn.Flatten(start, end), torch.nn.Flatten(start, end), [x])


def test_flatten_default_and_bad_dims():
    x = sg.tensor(np.zeros((2, 3, 4, 5), dtype=np.float32))
    assert nn.Flatten()(x).shape == (2, 60)
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    with pytest.raises(IndexError, match="out of range for input of shape \\(2, 3, 4, 5\\)"):
        nn.Flatten(start_dim=4)(x)
    with pytest.raises(ValueError, match="start_dim must not come after end_dim"):
        nn.Flatten(start_dim=2, end_dim=1)(x)


def test_identity_returns_its_input():
    x = sg.tensor(np.ones(3, dtype=np.float32))
    assert nn.Identity(54, unused="argument")(x) is x
    assert repr(nn.Identity()) == repr(torch.nn.Identity())


@pytest.mark.parametrize("edit", [
    lambda nn_, s: s.insert(0, nn_.Tanh()), lambda nn_, s: s.insert(-1, nn_.Tanh()), lambda nn_, s: s.insert(2, nn_.Tanh()),
    lambda nn_, s: s.extend([nn_.Tanh(), nn_.ReLU()]), lambda nn_, s: s.pop(0), lambda nn_, s: s.pop(-1),
])
def test_sequential_insert_extend_pop_like_torch(edit):
    ours, theirs = nn.Sequential(nn.ReLU(), nn.Sigmoid()), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Sigmoid())
    edit(nn, ours)
    edit(torch.nn, theirs)
    assert [(n, type(m).__name__) for n, m in ours.named_children()] == \
        [(n, type(m).__name__) for n, m in theirs.named_children()]


def test_module_dict_registers_children_by_name():
    d = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(2, 3)})
    assert list(d.keys()) == ["b", "a"] and "a" in d and len(d) == 2
    assert [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias"]
    d["c"] = nn.Tanh()
    assert isinstance(d.pop("b"), nn.ReLU) and list(d) == ["a", "c"]
    with pytest.raises(TypeError, match="expected a Module, got int"):
        d["x"] = 3
    assert nn.ModuleList([nn.ReLU(), nn.Tanh()]).pop(0).__class__ is nn.ReLU
