"""Training callbacks: hooks the trainer calls at the start and end of epochs and batches."""
from __future__ import annotations

import math

__all__ = ["Callback", "EarlyStopping", "LambdaCallback"]


class Callback:
    """Base class. ``run`` is the trainer's :class:`~slimgrad.train.trainer.RunState` (model, optimizer,
    epoch, step, history; set ``run.stop_training = True`` to stop after the current epoch).
    Callbacks with state implement ``state_dict``/``load_state_dict`` so checkpoints resume them exactly.
    """

    def on_train_begin(self, run) -> None: ...

    def on_epoch_begin(self, epoch: int, run) -> None: ...

    def on_batch_end(self, step: int, logs: dict, run) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict, run) -> None: ...

    def on_train_end(self, run) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode``: ``'min'`` (loss-like), ``'max'`` (accuracy-like) or ``'auto'`` (``'max'`` when the name
    contains ``acc`` or ``iou``). With ``restore_best_weights`` the model gets the best epoch's weights back
    when training stops.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a non-negative integer, got {patience!r}")
        if not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be a non-negative number, got {min_delta!r}")
        if mode == "auto":
            mode = "max" if ("acc" in monitor or "iou" in monitor) else "min"
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, float(min_delta), mode
        self.restore_best_weights = restore_best_weights
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = None
        self.wait = 0
        self.stopped_epoch = None
        self.best_weights = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: dict, run) -> None:
        if self.monitor not in logs or logs[self.monitor] is None:
            raise KeyError(f"EarlyStopping: monitor {self.monitor!r} is not among the epoch's values "
                           f"{sorted(k for k, v in logs.items() if v is not None)}")
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = run.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            run.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                run.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch, self.wait = float(state["best"]), state["best_epoch"], int(state["wait"])
        self.stopped_epoch, self.best_weights = state["stopped_epoch"], state.get("best_weights")


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs, run: ...)``."""

    def __init__(self, on_train_begin=None, on_epoch_begin=None, on_batch_end=None, on_epoch_end=None,
                 on_train_end=None):
        for name, fn in (("on_train_begin", on_train_begin), ("on_epoch_begin", on_epoch_begin),
                         ("on_batch_end", on_batch_end), ("on_epoch_end", on_epoch_end),
                         ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, fn)
