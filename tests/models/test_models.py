"""The model zoo against PyTorch transcriptions of the same architectures: shapes, parameter counts,
state-dict keys, eval-mode forward and train-mode gradients with copied weights, and a training sanity check."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn as tnn

import slimgrad as sg
import slimgrad.functional as F
import slimgrad.nn as nn
from slimgrad import optim
from slimgrad.models import MODELS, get_model, mobilenet_v1

torch.set_num_threads(1)


# ----------------------------------------------------------------- PyTorch transcriptions
def t_conv_block(cin, cout, stride=1):
    return tnn.Sequential(OrderedDict(conv=tnn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                                      bn=tnn.BatchNorm2d(cout), relu=tnn.ReLU()))


def t_separable_block(cin, cout, stride=1):
    return tnn.Sequential(OrderedDict(
        depthwise=tnn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), bn1=tnn.BatchNorm2d(cin),
        relu1=tnn.ReLU(), pointwise=tnn.Conv2d(cin, cout, 1, bias=False), bn2=tnn.BatchNorm2d(cout),
        relu2=tnn.ReLU()))


class TorchConvClassifier(tnn.Module):
    def __init__(self, blocks, channels, num_classes, dropout):
        super().__init__()
        self.features = tnn.Sequential(*blocks)
        self.classifier = tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Dropout(dropout),
                                         tnn.Linear(channels, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def t_cnn(separable, in_channels=1, num_classes=10, widths=(32, 64, 128), dropout=0.25):
    block = t_separable_block if separable else t_conv_block
    blocks = [t_conv_block(in_channels, widths[0])] + [block(a, b, 2) for a, b in zip(widths, widths[1:])]
    return TorchConvClassifier(blocks, widths[-1], num_classes, dropout)


def t_mobilenet_v1(width_mult=1.0, num_classes=1000, in_channels=3):
    def c(n):
        return int(n * width_mult)

    cfg = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    blocks, cin = [t_conv_block(in_channels, c(32), 2)], c(32)
    for cout, s in cfg:
        blocks.append(t_separable_block(cin, c(cout), s))
        cin = c(cout)
    return TorchConvClassifier(blocks, cin, num_classes, 0.0)


def t_mlp(in_features=784, hidden=(256, 256), num_classes=10, dropout=0.0):
    layers, width_in = [tnn.Flatten()], in_features
    for width in hidden:
        layers += [tnn.Linear(width_in, width), tnn.ReLU(), tnn.Dropout(dropout)]
        width_in = width
    return tnn.Sequential(*layers, tnn.Linear(width_in, num_classes))


class TorchLeNet5(tnn.Module):
    def __init__(self, in_channels=1, num_classes=10, input_size=28):
        super().__init__()
        final = (input_size // 2 - 4) // 2
        self.features = tnn.Sequential(OrderedDict(
            conv1=tnn.Conv2d(in_channels, 6, 5, padding=2), relu1=tnn.ReLU(), pool1=tnn.MaxPool2d(2),
            conv2=tnn.Conv2d(6, 16, 5), relu2=tnn.ReLU(), pool2=tnn.MaxPool2d(2)))
        self.classifier = tnn.Sequential(OrderedDict(
            flatten=tnn.Flatten(), fc1=tnn.Linear(16 * final * final, 120), relu1=tnn.ReLU(),
            dropout1=tnn.Dropout(0.0), fc2=tnn.Linear(120, 84), relu2=tnn.ReLU(), dropout2=tnn.Dropout(0.0),
            fc3=tnn.Linear(84, num_classes)))

    def forward(self, x):
        return self.classifier(self.features(x))


# (name, slimgrad kwargs, torch builder, input shape)
CASES = [
    ("mlp", dict(in_channels=1, input_size=28, num_classes=10), lambda: t_mlp(), (3, 1, 28, 28)),
    ("mlp_rgb", dict(in_channels=3, input_size=8, hidden=(32,), num_classes=5),
     lambda: t_mlp(192, (32,), 5), (3, 3, 8, 8)),
    ("lenet5", dict(in_channels=1, input_size=28, num_classes=10), lambda: TorchLeNet5(), (3, 1, 28, 28)),
    ("lenet5_rgb32", dict(in_channels=3, input_size=32, num_classes=7), lambda: TorchLeNet5(3, 7, 32),
     (2, 3, 32, 32)),
    ("std_cnn", dict(in_channels=1, input_size=28, num_classes=10), lambda: t_cnn(False), (3, 1, 28, 28)),
    ("sep_cnn", dict(in_channels=1, input_size=28, num_classes=10), lambda: t_cnn(True), (3, 1, 28, 28)),
    ("sep_cnn_rgb", dict(in_channels=3, input_size=16, num_classes=4, widths=(8, 16, 24, 32)),
     lambda: t_cnn(True, 3, 4, (8, 16, 24, 32)), (2, 3, 16, 16)),
    ("mobilenet_v1", dict(width_mult=0.25, in_channels=3, input_size=32, num_classes=10),
     lambda: t_mobilenet_v1(0.25, 10), (2, 3, 32, 32)),
]
IDS = [c[0] for c in CASES]


def _build(name, kwargs):
    return get_model(name.split("_rgb")[0], **kwargs)


def _randomize_batch_norm(model):
    """Non-trivial BN affine parameters and running statistics, so the eval-mode comparison tests them."""
    rng = np.random.default_rng(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data[...] = rng.uniform(0.5, 1.5, c)
            m.bias.data[...] = rng.uniform(-0.5, 0.5, c)
            m.running_mean.data[...] = rng.uniform(-0.2, 0.2, c)
            m.running_var.data[...] = rng.uniform(0.5, 2.0, c)


def _copy_to_torch(model, ref):
    state = ref.state_dict()
    assert list(model.state_dict()) == list(state), "state-dict keys differ from the PyTorch transcription"
    ref.load_state_dict({k: torch.tensor(np.asarray(v)).to(state[k].dtype) for k, v in model.state_dict().items()})


def _input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("name,kwargs,make_torch,shape", CASES, ids=IDS)
def test_shapes_and_parameter_counts_match_torch(name, kwargs, make_torch, shape):
    model, ref = _build(name, kwargs), make_torch()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
    out = model(sg.tensor(_input(shape)))
    assert out.shape == (shape[0], kwargs["num_classes"]) and out.dtype == np.float32


@pytest.mark.parametrize("name,kwargs,make_torch,shape", CASES, ids=IDS)
def test_eval_forward_matches_torch_with_copied_weights(name, kwargs, make_torch, shape):
    model, ref = _build(name, kwargs), make_torch()
    _randomize_batch_norm(model)
    _copy_to_torch(model, ref)
    model.eval()
    ref.eval()
    x = _input(shape)
    with torch.no_grad():
        expected = ref(torch.tensor(x)).numpy()
    np.testing.assert_allclose(model(sg.tensor(x)).data, expected, rtol=1e-4, atol=1e-5)


TRAIN_CASES = [c for c in CASES if c[0] in ("std_cnn", "sep_cnn", "lenet5")]


@pytest.mark.parametrize("name,kwargs,make_torch,shape", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_train_mode_gradients_match_torch(name, kwargs, make_torch, shape):
    model, ref = _build(name, dict(kwargs, dropout=0.0)), make_torch()
    for m in ref.modules():
        if isinstance(m, tnn.Dropout):
            m.p = 0.0
    _copy_to_torch(model, ref)
    x, y = _input(shape), np.arange(shape[0]) % kwargs["num_classes"]
    F.cross_entropy(model(sg.tensor(x)), y).backward()
    tnn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y)).backward()
    ref_grads = dict(ref.named_parameters())
    for pname, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, ref_grads[pname].grad.numpy(), rtol=1e-3, atol=1e-5,
                                   err_msg=pname)


@pytest.mark.parametrize("width_mult,params", [(1.0, 4_231_976), (0.75, 2_585_560), (0.5, 1_331_592),
                                               (0.25, 470_072), (0.35, None), (1.3, None)])
def test_mobilenet_v1_parameter_count_at_full_size(width_mult, params):
    model = mobilenet_v1(width_mult)
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in t_mobilenet_v1(width_mult).parameters())
    if params is not None:
        assert count == params  # the paper's Table 6: 4.2 M, 2.6 M, 1.3 M, 0.5 M
    depthwise = [m for m in model.modules() if isinstance(m, nn.DepthwiseConv2d)]
    assert len(depthwise) == 13


def test_sep_cnn_exposes_its_depthwise_and_pointwise_layers():
    modules = dict(get_model("sep_cnn").named_modules())
    assert isinstance(modules["features.1.depthwise"], nn.DepthwiseConv2d)
    assert isinstance(modules["features.2.pointwise"], nn.PointwiseConv2d)
    assert isinstance(modules["features.0.conv"], nn.Conv2d)
    assert modules["features.1.depthwise"].stride == (2, 2)
    std = dict(get_model("std_cnn").named_modules())
    assert std["features.1.conv"].stride == (2, 2) and std["features.2.conv"].out_channels == 128


@pytest.mark.parametrize("name", ["mlp", "lenet5", "std_cnn", "sep_cnn"])
def test_loss_falls_on_a_tiny_batch(name):
    sg.manual_seed(0)
    model = get_model(name, in_channels=1, input_size=16 if name != "mlp" else 8, num_classes=4, dropout=0.0)
    size = 16 if name != "mlp" else 8
    x, y = sg.tensor(_input((8, 1, size, size), seed=1)), np.arange(8) % 4
    opt = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_dropout_is_active_in_training_only():
    model = get_model("std_cnn", dropout=0.5)
    x = sg.tensor(_input((4, 1, 12, 12)))
    assert not np.allclose(model(x).data, model(x).data)
    model.eval()
    np.testing.assert_array_equal(model(x).data, model(x).data)


def test_every_builder_takes_the_common_arguments():
    for name in MODELS:
        model = get_model(name, in_channels=2, input_size=20, num_classes=3, dropout=0.1)
        assert model(sg.tensor(_input((2, 2, 20, 20)))).shape == (2, 3)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'; expected one of \['lenet5', 'mlp'"):
        get_model("resnet")
    with pytest.raises(TypeError, match=r"get_model\('std_cnn'\): unexpected arguments \['depth'\]"):
        get_model("std-cnn", depth=3)
    with pytest.raises(ValueError, match="std_cnn: dropout must be a probability in \\[0, 1\\), got 1.5"):
        get_model("std_cnn", dropout=1.5)
    with pytest.raises(ValueError, match="mobilenet_v1: width_mult must be a positive number, got 0"):
        mobilenet_v1(width_mult=0)
    with pytest.raises(ValueError, match="lenet5: input_size must be at least 12"):
        get_model("lenet5", input_size=8)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 1, H, W\), got shape \(2, 3, 8, 8\)"):
        get_model("sep_cnn")(sg.tensor(_input((2, 3, 8, 8))))
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        get_model("mlp", num_classes=0)
