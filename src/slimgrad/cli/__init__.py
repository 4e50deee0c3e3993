"""The ``slimgrad`` command line: ``slimgrad <command> [options]``.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``; modules are
imported only when their command runs, so ``slimgrad --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "train": ("slimgrad.cli.train", "train a model on a dataset (default: sep_cnn on mnist-5k with Adam)"),
    "summary": ("slimgrad.cli.summary", "per-layer shapes, parameters, MACs, FLOPs and receptive fields"),
    "augment": ("slimgrad.cli.augment", "write a grid of original and augmented samples as PNG"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="slimgrad", description="slimgrad: deep learning on NumPy")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"slimgrad {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if name in sys.argv[1:2]:  # only the chosen command's module is imported
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    saved, sys.argv = sys.argv, [sys.argv[0]] + argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    finally:
        sys.argv = saved
    if not args.command:
        parser.print_help()
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
