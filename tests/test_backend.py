import sys

import numpy as np

import slimgrad as sg
from slimgrad import backend


def test_keep_freed_memory_applies_on_glibc():
    import platform

    on_glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert backend.keep_freed_memory() is on_glibc


def test_default_dtype_and_seed():
    assert sg.get_default_dtype() == np.float32
    sg.manual_seed(5)
    a = backend.default_rng().random(3)
    sg.manual_seed(5)
    np.testing.assert_array_equal(a, backend.default_rng().random(3))
