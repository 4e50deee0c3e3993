import numpy as np

import slimgrad as sg
from helpers import check_gradients, compare_with_torch


def test_elementwise_matches_torch(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32) + 3
    compare_with_torch(lambda x, y: (x * y + x / y - y) ** 2 @ x.reshape(4, 3),
                       lambda x, y: (x * y + x / y - y) ** 2 @ x.reshape(4, 3), [a, b], rtol=1e-5, atol=1e-5)
    check_gradients(lambda x, y: (x * y + x / y - y) ** 2 @ x.reshape(4, 3), [a, b])
