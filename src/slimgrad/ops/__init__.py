"""Differentiable operations, one file per kind. Importing this package binds the Tensor methods."""
from . import methods as _methods  # noqa: F401  (binds operators and methods onto Tensor)
