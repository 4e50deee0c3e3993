"""Module: parameter discovery and naming, modes, state dicts and their errors, hooks and repr (vs PyTorch)."""

import numpy as np
import pytest
import torch

import slimgrad as sg
import slimgrad.nn as nn


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.register_buffer("count", np.zeros(1, dtype=np.float32))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.body = nn.Sequential(Block(3), nn.Linear(3, 4, bias=False))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.body(x * self.scale))


class TorchBlock(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = torch.nn.Linear(n, n)
        self.register_buffer("count", torch.zeros(1))
        self.act = torch.nn.ReLU()


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(3))
        self.body = torch.nn.Sequential(TorchBlock(3), torch.nn.Linear(3, 4, bias=False))
        self.head = torch.nn.Linear(4, 2)


def test_named_parameters_modules_and_state_dict_keys_match_torch():
    net, ref = Net(), TorchNet()
    assert [n for n, _ in net.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [n for n, _ in net.named_modules()] == [n for n, _ in ref.named_modules()]
    assert list(net.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in net.named_buffers()] == [n for n, _ in ref.named_buffers()]
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear"]
    assert len(list(net.parameters())) == 6
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]


def test_shared_parameters_are_listed_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = self.a

    assert [n for n, _ in Tied().named_parameters()] == ["a.weight", "a.bias"]


def test_train_eval_reach_every_descendant():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.body.train(False)
    assert net.training and not net.body[0].fc.training


def test_state_dict_round_trip_reproduces_outputs():
    sg.manual_seed(0)
    a = Net()
    sg.manual_seed(1)
    b = Net()
    x = sg.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    assert not np.allclose(a(x).data, b(x).data)
    state = a.state_dict()
    weight_before = b.head.weight
    assert b.load_state_dict(state) == ([], [])
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert b.head.weight is weight_before and b.head.weight.dtype == np.float32  # copied in place
    state["head.bias"][:] = 7  # the state dict holds copies
    assert not np.any(a.head.bias.data == 7)


def test_load_state_dict_errors_name_the_keys():
    net = Net()
    state = net.state_dict()
    del state["head.bias"]
    state["extra.weight"] = np.zeros(2, dtype=np.float32)
    with pytest.raises(KeyError, match=r"missing keys \['head.bias'\].*unexpected keys \['extra.weight'\]"):
        net.load_state_dict(state)
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["head.bias"] and unexpected == ["extra.weight"]
    bad = net.state_dict()
    bad["body.1.weight"] = np.zeros((3, 4), dtype=np.float32)
    before = net.head.weight.data.copy()
    bad["head.weight"] = before + 1
    with pytest.raises(ValueError, match=r"size mismatch for 'body.1.weight': expected shape \(4, 3\), got \(3, 4\)"):
        net.load_state_dict(bad)
    np.testing.assert_array_equal(net.head.weight.data, before)  # nothing copied when a check fails


def test_load_state_dict_accepts_torch_weights():
    net, ref = Net(), TorchNet()
    net.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    np.testing.assert_array_equal(net.head.weight.data, ref.head.weight.detach().numpy())


def test_non_persistent_buffers_stay_out_of_the_state_dict():
    m = nn.Module()
    m.register_buffer("kept", np.zeros(2))
    m.register_buffer("scratch", np.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["kept"]
    assert [n for n, _ in m.named_buffers()] == ["kept", "scratch"]


def test_repr_matches_torch():
    net, ref = Net(), TorchNet()
    # slimgrad's Block/TorchBlock only differ in name
    assert repr(net).replace("Block", "TorchBlock").replace("Net(", "TorchNet(", 1) == repr(ref)


def test_hooks_and_zero_grad():
    net = Net()
    calls = []
    handle = net.head.register_forward_hook(lambda m, inputs, out: calls.append(out.shape))
    pre = net.register_forward_pre_hook(lambda m, inputs: calls.append("pre"))
    out = net(sg.tensor(np.ones((2, 3), dtype=np.float32)))
    assert calls == ["pre", (2, 2)]
    handle.remove()
    pre.remove()
    out.sum().backward()
    net(sg.tensor(np.ones((2, 3), dtype=np.float32)))
    assert calls == ["pre", (2, 2)]
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not np.any(p.grad.data) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_assignment_registers_and_unregisters():
    m = nn.Module()
    m.w = nn.Parameter(np.ones(2, dtype=np.float32))
    m.sub = nn.Linear(2, 2)
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="cannot assign ndarray as parameter 'w'"):
        m.w = np.ones(2)  # as PyTorch: a parameter slot takes a Parameter or None, never silently a plain value
    del m.w
    m.w = np.ones(2)  # once deleted, a plain array is an attribute, not a parameter
    del m.sub
    assert list(m.named_parameters()) == []
    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        class Broken(nn.Module):
            def __init__(self):
                self.x = 1

        Broken()
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.ones(2, dtype=np.int64))


def test_parameter_is_a_leaf_that_requires_grad():
    p = nn.Parameter(np.zeros((2, 2), dtype=np.float32))
    assert p.requires_grad and p.is_leaf and isinstance(p, sg.Tensor)
    assert repr(p).startswith("Parameter containing:")
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad


def test_reassigning_a_child_or_parameter_keeps_its_place():
    net = Net()
    net.body = nn.Sequential(nn.Linear(3, 4))
    net.scale = nn.Parameter(np.zeros(3, dtype=np.float32))
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "body.0.weight", "body.0.bias", "head.weight", "head.bias"]


def test_apply_visits_children_before_parents_like_torch():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    reference = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1)))
    seen, expected = [], []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    reference.apply(lambda m: expected.append(type(m).__name__))
    assert seen == expected


def test_to_double_and_float_cast_parameters_and_grads():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    model(sg.randn(4, 2)).sum().backward()
    assert model.double() is model
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    assert model(sg.randn(4, 2, dtype=np.float64)).dtype == np.float64
    model.to(np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.to("cpu") is model
    with pytest.raises(TypeError, match="floating-point dtypes.*int64"):
        model.to(np.int64)


def test_load_state_dict_errors_are_runtime_errors_as_in_torch_and_report_keys():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    state = model.state_dict()
    state.pop("1.bias")
    with pytest.raises(RuntimeError, match=r"missing keys \['1.bias'\]"):
        model.load_state_dict(state)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["1.bias"] and result.unexpected_keys == []
    state["1.bias"] = np.zeros(2, np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for '1.bias': expected shape \(1,\), got \(2,\)"):
        model.load_state_dict(state)


def test_get_submodule_and_none_parameter():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    assert model.get_submodule("1.1") is model[1][1] and model.get_submodule("") is model
    with pytest.raises(AttributeError, match="no submodule '7'"):
        model.get_submodule("1.7")
    model[0].bias = None  # as PyTorch: a parameter may be set to None, and is then skipped
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "1.1.weight", "1.1.bias"]


def test_state_dict_lists_tied_modules_and_parameters_under_every_name_like_torch():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    reference_shared = torch.nn.Linear(2, 2)
    reference = torch.nn.Sequential(reference_shared, torch.nn.ReLU(), reference_shared)
    assert list(model.state_dict()) == list(reference.state_dict())
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in reference.named_parameters()]
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    np.testing.assert_array_equal(shared.weight.detach().numpy(), reference_shared.weight.detach().numpy())
