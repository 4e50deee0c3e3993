import sys

import numpy as np

import slimgrad as sg
from slimgrad import backend


def test_keep_freed_memory_applies_on_glibc():
    applied = backend.keep_freed_memory()
    assert isinstance(applied, bool)
    if sys.platform.startswith("linux"):
        import platform

        if platform.libc_ver()[0] == "glibc":
            assert applied
    a = np.ones(3 << 20, np.float32)  # allocations still work after the allocator change
    assert a.sum() == 3 << 20


def test_default_dtype_and_seed():
    assert sg.get_default_dtype() == np.float32
    sg.manual_seed(5)
    a = backend.default_rng().random(3)
    sg.manual_seed(5)
    np.testing.assert_array_equal(a, backend.default_rng().random(3))
