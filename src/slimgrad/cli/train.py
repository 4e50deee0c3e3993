"""``slimgrad train``: train a zoo model on a dataset; per-epoch loss/accuracy, final test accuracy.

Writes into ``--out DIR`` (default ``runs/<model>-<dataset>``): ``checkpoint/`` (exact-resume checkpoints,
every ``--checkpoint-every`` steps and every epoch), ``model.safetensors`` (final weights),
``history.csv``/``history.json``, ``metrics.json`` (final test accuracy/loss, per-epoch history, wall
time, parameters, MACs, configuration) and ``curves.png`` (needs matplotlib, the ``plot`` extra).
``--resume DIR`` continues a run from its last checkpoint with the configuration it was started with;
the result is bit for bit that of an uninterrupted run.
"""
from __future__ import annotations

import json
import os
import sys
import time

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "nadam", "adamax",
              "radam", "lion")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.05, "adadelta": 1.0, "rmsprop": 0.002,
              "adam": 0.01, "adamw": 0.01, "nadam": 0.004, "adamax": 0.01, "radam": 0.01, "lion": 0.001}
"""Learning rates by optimizer (the peak rate under the default one-cycle schedule)."""
SCHEDULERS = ("none", "cosine", "step", "onecycle")
DEFAULTS = {"model": "sep_cnn", "dataset": "mnist-5k", "optimizer": "adam", "lr": None, "epochs": None,
            "batch_size": 32, "dropout": 0.0, "augment": None, "seed": 0, "scheduler": "onecycle"}
DATASET_DEFAULTS = {"digits": {"epochs": 20, "augment": "none"}}
"""Epochs and augmentation when not given: 8x8 digits train unaugmented; other sets use the values below."""
OTHER_DEFAULTS = {"epochs": 30, "augment": "rotate=10,translate=0.1"}
# options that may differ when resuming (they do not change what the run computes, or extend it)
RESUMABLE_OVERRIDES = ("epochs", "checkpoint_every", "quiet", "out")


def add_arguments(parser) -> None:
    d = DEFAULTS
    parser.add_argument("--model", help=f"zoo model: mlp, lenet5, std_cnn, sep_cnn, mobilenet_v1 (default {d['model']})")
    parser.add_argument("--dataset", help=f"dataset name, e.g. digits, mnist-5k (default {d['dataset']})")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help=f"optimizer (default {d['optimizer']})")
    parser.add_argument("--lr", type=float, help="learning rate (default per optimizer: "
                        + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    parser.add_argument("--epochs", type=int, help=f"epochs (default {OTHER_DEFAULTS['epochs']}; "
                        f"{DATASET_DEFAULTS['digits']['epochs']} on digits)")
    parser.add_argument("--batch-size", type=int, help=f"batch size (default {d['batch_size']})")
    parser.add_argument("--dropout", type=float, help="dropout probability of the model (default 0)")
    parser.add_argument("--augment", metavar="PRESET_OR_SPEC",
                        help="augmentation preset (none, light, standard, heavy) or key=value spec "
                             f"(default {OTHER_DEFAULTS['augment']}; {DATASET_DEFAULTS['digits']['augment']} on digits)")
    parser.add_argument("--seed", type=int, help=f"seed of init, data order, augmentation, dropout (default {d['seed']})")
    parser.add_argument("--scheduler", choices=SCHEDULERS,
                        help="learning-rate schedule, per epoch (cosine, step) or per step (onecycle, peak --lr); "
                             "default onecycle")
    parser.add_argument("--out", metavar="DIR", help="output directory (default runs/<model>-<dataset>)")
    parser.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (its --out directory)")
    parser.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                        help="also checkpoint every STEPS optimizer steps (checkpoints are always written per epoch)")
    parser.add_argument("--quiet", action="store_true", help="print only the final results")


def _config(args) -> tuple:
    """``(config, checkpoint directory to resume from or None)``: the checkpoint's configuration when
    resuming (with a few overrides), else the command line over :data:`DEFAULTS`."""
    from ..train.checkpoint import read_state

    given = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}
    if args.resume:
        run_dir = args.resume
        ck_dir = os.path.join(run_dir, "checkpoint")
        if not os.path.exists(os.path.join(ck_dir, "state.json")) and os.path.exists(os.path.join(run_dir, "state.json")):
            ck_dir, run_dir = run_dir, os.path.dirname(os.path.abspath(run_dir))
        saved = dict(read_state(ck_dir)["extra"]["run"]["config"])
        for key, value in given.items():
            if key not in RESUMABLE_OVERRIDES and value != saved.get(key):
                raise ValueError(f"--{key.replace('_', '-')} {value} differs from the resumed run's "
                                 f"{saved.get(key)!r}; a resumed run keeps its configuration")
        saved.update({k: v for k, v in given.items() if k in RESUMABLE_OVERRIDES})
        saved["out"] = args.out or run_dir
        return saved, ck_dir
    config = {**DEFAULTS, **given}
    if config["lr"] is None:
        config["lr"] = DEFAULT_LR[config["optimizer"]]
    for key, value in DATASET_DEFAULTS.get(config["dataset"], OTHER_DEFAULTS).items():
        if config[key] is None:
            config[key] = value
    config["out"] = args.out or os.path.join("runs", f"{config['model']}-{config['dataset']}")
    return config, None


def _validate(config: dict, checkpoint_every) -> None:
    for key in ("epochs", "batch_size"):
        if not isinstance(config[key], int) or config[key] < (0 if key == "epochs" else 1):
            raise ValueError(f"--{key.replace('_', '-')}: expected a {'non-negative' if key == 'epochs' else 'positive'} "
                             f"integer, got {config[key]}")
    if config["dropout"] is not None and not 0.0 <= config["dropout"] < 1.0:
        raise ValueError(f"--dropout: expected a probability in [0, 1), got {config['dropout']}")
    if not config["lr"] > 0.0:
        raise ValueError(f"--lr: expected a positive learning rate, got {config['lr']}")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ValueError(f"--checkpoint-every: expected a positive number of steps, got {checkpoint_every}")


def build_optimizer(name: str, params, lr: float):
    from .. import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr)
    if name in ("momentum", "nesterov"):
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=name == "nesterov")
    classes = {"adagrad": optim.Adagrad, "adadelta": optim.Adadelta, "rmsprop": optim.RMSprop, "adam": optim.Adam,
               "adamw": optim.AdamW, "nadam": optim.NAdam, "adamax": optim.Adamax, "radam": optim.RAdam,
               "lion": optim.Lion}
    return classes[name](params, lr=lr)


def build_scheduler(name: str, optimizer, epochs: int, steps_per_epoch: int):
    """``(scheduler, interval)``: cosine and step per epoch, one-cycle per step."""
    from ..optim import lr_scheduler

    if name == "none":
        return None, "epoch"
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1)), "epoch"
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(epochs // 3, 1), gamma=0.1), "epoch"
    lr = optimizer.param_groups[0]["lr"]
    return lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(epochs * steps_per_epoch, 1)), "step"


def build_model(config: dict, info):
    from ..models import get_model

    size = info.image_size[0] if len(set(info.image_size)) == 1 else tuple(info.image_size)
    kwargs = {} if config["dropout"] is None else {"dropout": config["dropout"]}
    return get_model(config["model"], in_channels=info.in_channels, input_size=size,
                     num_classes=info.num_classes, **kwargs)


def _cost(model, info) -> dict:
    """Parameters and MACs per sample (from ``slimgrad.analysis.summary``)."""
    params = int(sum(p.data.size for p in model.parameters()))
    try:
        from ..analysis import summary

        totals = summary(model, (info.in_channels, *info.image_size)).totals
        return {"parameters": params, "macs": int(totals["macs"]), "macs_partial": bool(totals["partial"])}
    except Exception as exc:  # the cost table is informative; training results stand without it
        return {"parameters": params, "macs": None, "macs_error": f"{type(exc).__name__}: {exc}"}


def plot_curves(history, path) -> bool:
    """Loss and accuracy per epoch, train vs test, to ``path``; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    h = history.history
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((ax_loss, "loss", "loss (cross-entropy)"), (ax_acc, "accuracy", "accuracy")):
        if key in h:
            ax.plot(h["epoch"], h[key], "o-", label="train")
        if f"val_{key}" in h:
            ax.plot(h["epoch"], h[f"val_{key}"], "s-", label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def train(config: dict, checkpoint_every=None, resume=None, quiet: bool = False) -> dict:
    """Run the configured training (continuing the checkpoint directory ``resume`` if given); returns the
    metrics written to ``<out>/metrics.json``."""
    from .. import backend
    from ..data import DataLoader, get_dataset
    from ..data.augment import parse_augment
    from ..io import safetensors
    from ..train import Reporter, evaluate, fit
    from ..train.checkpoint import atomic_write

    start = time.perf_counter()
    out = config["out"]
    os.makedirs(out, exist_ok=True)
    report = Reporter(quiet=quiet)
    train_set, test_set, info = get_dataset(config["dataset"])
    if info.task != "classification":
        raise ValueError(f"--dataset {config['dataset']}: slimgrad train handles classification datasets, "
                         f"this one is {info.task}")
    backend.manual_seed(config["seed"])
    model = build_model(config, info)
    transform = parse_augment(config["augment"], num_classes=info.num_classes)
    train_loader = DataLoader(train_set, batch_size=config["batch_size"], shuffle=True, transform=transform,
                              seed=config["seed"])
    test_loader = DataLoader(test_set, batch_size=500, seed=config["seed"])
    optimizer = build_optimizer(config["optimizer"], model.parameters(), config["lr"])
    scheduler, interval = build_scheduler(config["scheduler"], optimizer, config["epochs"], len(train_loader))
    cost = _cost(model, info)
    report.line(f"{config['model']} on {config['dataset']} ({len(train_set)} train / {len(test_set)} test), "
                f"{config['optimizer']} lr {config['lr']:g}, {cost['parameters']:,} parameters"
                + (f", {cost['macs']:,} MACs per sample" if cost.get("macs") is not None else ""))
    history = fit(model, train_loader, test_loader, optimizer=optimizer, scheduler=scheduler,
                  epochs=config["epochs"], metrics=("accuracy",), checkpoint_dir=os.path.join(out, "checkpoint"),
                  checkpoint_every=checkpoint_every, resume=resume or False, scheduler_interval=interval, log_dir=out,
                  progress=report, extra_state={"config": config})
    test = evaluate(model, test_loader)
    atomic_write(os.path.join(out, "model.safetensors"), safetensors.save(
        {k: v for k, v in model.state_dict().items()}, metadata={"model": config["model"], "dataset": config["dataset"]}))
    wall = time.perf_counter() - start
    metrics = {"test_accuracy": test["accuracy"], "test_loss": test["loss"], "wall_time_s": wall,
               "train_time_s": sum(r.get("time", 0.0) for r in history.rows), **cost,
               "config": config, "history": json.loads(history.to_json())}
    atomic_write(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=1).encode("utf-8"))
    curves = os.path.join(out, "curves.png")
    if not plot_curves(history, curves):
        report.line("note: matplotlib is not installed (extra 'plot'): curves.png skipped")
    report.result(f"test accuracy {100.0 * test['accuracy']:.2f}%  test loss {test['loss']:.4f}  "
                  f"wall time {wall:.1f} s  ({out})")
    return metrics


def run(args) -> int:
    from ..train.checkpoint import CheckpointError

    try:
        config, resume = _config(args)
        _validate(config, args.checkpoint_every)
    except (ValueError, CheckpointError, KeyError) as exc:
        print(f"slimgrad train: error: {exc}", file=sys.stderr)
        return 2
    try:
        train(config, checkpoint_every=args.checkpoint_every, resume=resume, quiet=args.quiet)
    except (ValueError, KeyError, FloatingPointError) as exc:  # CheckpointError is a ValueError
        print(f"slimgrad train: error: {exc}", file=sys.stderr)
        return 1
    return 0
