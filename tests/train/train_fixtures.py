"""Small models and data for the trainer and checkpoint tests (built from core parts only)."""
import numpy as np

import slimgrad as sg
import slimgrad.functional as F
from slimgrad import backend
from slimgrad.nn import Module, Parameter


class TinyMLP(Module):
    """in -> hidden (ReLU, dropout) -> classes, with a buffer, so checkpoints cover params + buffers + RNG."""

    def __init__(self, n_in=4, hidden=16, n_out=3, p=0.2):
        super().__init__()
        rng = backend.default_rng()
        self.w1 = Parameter(rng.standard_normal((hidden, n_in)).astype(np.float32) * 0.5)
        self.b1 = Parameter(np.zeros(hidden, np.float32))
        self.w2 = Parameter(rng.standard_normal((n_out, hidden)).astype(np.float32) * 0.5)
        self.b2 = Parameter(np.zeros(n_out, np.float32))
        self.register_buffer("calls", sg.tensor(np.zeros((), np.int64)))
        self.p = p

    def forward(self, x):
        if self.training:
            self.calls.data = self.calls.data + 1
        h = F.relu(F.linear(x, self.w1, self.b1))
        h = F.dropout(h, self.p, self.training)
        return F.linear(h, self.w2, self.b2)


def blobs(n=240, n_in=4, n_classes=3, seed=0):
    """Separable Gaussian blobs: (float32 features, int64 labels)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, n_in)) * 3.0
    y = rng.integers(0, n_classes, n)
    x = (centers[y] + rng.standard_normal((n, n_in))).astype(np.float32)
    return x, y.astype(np.int64)


def loaders(batch_size=16, seed=0, n=240):
    from slimgrad.data.dataset import TensorDataset
    from slimgrad.data.loader import DataLoader

    x, y = blobs(n)
    split = n * 3 // 4
    train = DataLoader(TensorDataset(x[:split], y[:split]), batch_size=batch_size, shuffle=True, seed=seed)
    val = DataLoader(TensorDataset(x[split:], y[split:]), batch_size=64)
    return train, val
