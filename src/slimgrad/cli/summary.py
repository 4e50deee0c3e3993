"""``slimgrad summary MODEL --input C,H,W``: the cost and receptive-field table of a zoo model."""
from __future__ import annotations

import inspect
import sys


def add_arguments(parser) -> None:
    parser.add_argument("model", help="model name from the zoo (slimgrad.models.get_model), e.g. sep_cnn")
    parser.add_argument("--input", required=True, metavar="C,H,W",
                        help="input shape without the batch, comma-separated (e.g. 1,28,28; 784 for an MLP)")
    parser.add_argument("--batch-size", type=int, default=1, help="batch size of the traced input (default 1)")
    parser.add_argument("--measure", action="store_true",
                        help="also time each layer's forward/backward: GFLOP/s and arithmetic intensity")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    parser.add_argument("--num-classes", type=int, default=None, help="passed to the model if it takes it")
    parser.add_argument("--train-mode", action="store_true",
                        help="cost the model in training mode (batch statistics, dropout); default eval")


def parse_shape(text: str) -> tuple:
    """``"3,32,32"`` -> (3, 32, 32); every item must be a positive integer."""
    items = text.split(",")
    if not all(v.strip().isdigit() and int(v) > 0 for v in items):
        raise ValueError(f"--input: expected positive integers separated by commas like 3,32,32, got {text!r}")
    return tuple(int(v) for v in items)


def build_model(name: str, shape: tuple, num_classes=None):
    """``get_model(name, ...)`` passing the input channels/size and classes where the builder accepts them."""
    from ..models import MODELS, get_model

    builder = MODELS.get(str(name).lower().replace("-", "_"))
    params = inspect.signature(builder).parameters if builder is not None else {}
    kwargs = {}
    if len(shape) == 1:
        candidates = {"in_features": shape[0]}
    else:
        candidates = {"in_channels": shape[0], "input_size": shape[1]}
    candidates["num_classes"] = num_classes
    for key, value in candidates.items():
        if key in params and value is not None:
            kwargs[key] = value
    return get_model(name, **kwargs)


def run(args) -> int:
    from ..analysis import summary

    try:
        shape = parse_shape(args.input)
        if args.batch_size < 1:
            raise ValueError(f"--batch-size: expected a positive integer, got {args.batch_size}")
        model = build_model(args.model, shape, args.num_classes)
        model.train(args.train_mode)
        s = summary(model, shape, batch_size=args.batch_size, measure=args.measure)
    except (ValueError, TypeError, KeyError) as exc:
        print(f"slimgrad summary: {exc}", file=sys.stderr)
        return 2
    text = {"table": s.to_table, "markdown": s.to_markdown, "json": s.to_json}[args.format]()
    print(text)
    return 0
