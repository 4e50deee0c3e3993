"""The one direction of dependencies in DESIGN.md: a lower layer never imports a higher one."""
import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "slimgrad"

RANK = {
    "backend": 0,
    "autograd": 1, "gradcheck": 1, "factory": 1,
    "ops": 2,
    "functional": 3,
    "nn": 4,
    "optim": 5, "data": 5, "io": 5, "analysis": 5, "train": 5,
    "models": 6, "experiments": 6,
    "cli": 7,
}


def _top(module_path: pathlib.Path) -> str:
    rel = module_path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def _imported_tops(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    pkg_parts = list(path.relative_to(SRC).parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
                if target:
                    yield target[0], node.lineno
                else:  # "from . import x" at the package root
                    for alias in node.names:
                        yield alias.name, node.lineno
            elif node.module and node.module.split(".")[0] == "slimgrad":
                parts = node.module.split(".")
                if len(parts) > 1:
                    yield parts[1], node.lineno
                else:
                    for alias in node.names:
                        yield alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "slimgrad" and len(parts) > 1:
                    yield parts[1], node.lineno


FILES = sorted(p for p in SRC.rglob("*.py") if p.relative_to(SRC).as_posix() != "__init__.py")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_upward_imports(path):
    own = _top(path)
    assert own in RANK, f"{path.name}: package {own!r} has no layer in DESIGN.md; add it to RANK"
    for target, line in _imported_tops(path):
        if target not in RANK:
            continue
        assert RANK[target] <= RANK[own], (
            f"{path.relative_to(SRC)}:{line} imports slimgrad.{target} (layer {RANK[target]}) from layer "
            f"{RANK[own]} ({own}): dependencies must point down"
        )


def test_nn_functional_is_the_functional_api():
    import slimgrad.functional as F
    import slimgrad.nn.functional as nnF
    from slimgrad.nn.functional import conv2d

    assert nnF is F and conv2d is F.conv2d
