"""``lenet5``: LeCun et al.'s LeNet-5 with ReLU and max pooling (its modern form)."""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..autograd import Tensor
from .cnn import check_dropout, check_positive_int


class LeNet5(nn.Module):
    """conv5x5(C->6, pad 2) -ReLU-maxpool2, conv5x5(6->16) -ReLU-maxpool2, flatten, fc 120 -ReLU, fc 84 -ReLU,
    fc num_classes (dropout before each hidden fc's successor).

    With 28x28 inputs (MNIST) the maps are 28 -> 14 -> 10 -> 5 and the first fc sees 16*5*5 = 400 features, as in
    the original on 32x32 inputs without padding.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28, dropout: float = 0.0):
        super().__init__()
        name = "lenet5"
        check_positive_int(in_channels, "in_channels", name)
        check_positive_int(num_classes, "num_classes", name)
        check_positive_int(input_size, "input_size", name)
        final = (input_size // 2 - 4) // 2
        if final < 1:
            raise ValueError(f"{name}: input_size must be at least 12 (two 5x5 convs and two 2x2 pools), "
                             f"got {input_size}")
        p = check_dropout(dropout, name)
        self.in_channels, self.input_size = in_channels, input_size
        self.features = nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(in_channels, 6, 5, padding=2), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(6, 16, 5), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        ))
        self.classifier = nn.Sequential(OrderedDict(
            flatten=nn.Flatten(),
            fc1=nn.Linear(16 * final * final, 120), relu1=nn.ReLU(), dropout1=nn.Dropout(p),
            fc2=nn.Linear(120, 84), relu2=nn.ReLU(), dropout2=nn.Dropout(p),
            fc3=nn.Linear(84, num_classes),
        ))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1:] != (self.in_channels, self.input_size, self.input_size):
            raise ValueError(f"LeNet5: expected input of shape (N, {self.in_channels}, {self.input_size}, "
                             f"{self.input_size}), got shape {tuple(x.shape)}")
        return self.classifier(self.features(x))


def lenet5(in_channels: int = 1, num_classes: int = 10, input_size: int = 28, dropout: float = 0.0) -> LeNet5:
    """LeNet-5 for ``in_channels`` x ``input_size`` x ``input_size`` images."""
    return LeNet5(in_channels, num_classes, input_size, dropout)
