"""The training loop: :func:`fit`, :func:`evaluate`, :func:`predict`.

One step is the note's backpropagation iteration: forward pass, loss, backward pass, parameter update.
``fit`` switches the model to ``train()`` for the epoch and to ``eval()`` (under ``no_grad``) for
validation, stops with :class:`NonFiniteLossError` naming the epoch and step when the loss is NaN/Inf,
and, given ``checkpoint_dir``, saves everything a run needs to continue *exactly* (weights, optimizer and
scheduler state, the global RNG that dropout draws from, the loader's position, the running epoch's
sums, history, callbacks) every ``checkpoint_every`` steps and at the end of every epoch.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad
from . import checkpoint as ckpt
from .callbacks import Callback
from .history import History
from .metrics import get_metric
from .progress import get_reporter

__all__ = ["fit", "evaluate", "predict", "NonFiniteLossError", "RunState"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class RunState:
    """What callbacks see: the model, optimizer, scheduler, history, position, and ``stop_training``."""

    def __init__(self, model, optimizer, scheduler, history: History, epochs: int):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.history, self.epochs = history, epochs
        self.epoch = 0          # 0-based index of the current epoch
        self.step = 0           # optimizer steps taken so far
        self.stop_training = False


def _default_loss():
    from .. import functional as F

    if not hasattr(F, "cross_entropy"):  # pragma: no cover - the losses module is part of the package
        raise RuntimeError("fit: no loss given and slimgrad.functional.cross_entropy is unavailable")
    return F.cross_entropy


def _metric_fns(metrics) -> dict:
    fns = {}
    for m in metrics or ():
        fn = get_metric(m)
        fns[m if isinstance(m, str) else getattr(fn, "__name__", "metric")] = fn
    return fns


def _batch_xy(batch):
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError(f"fit: each batch must be an (input, target) pair, got {type(batch).__name__}")


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))


def _rewind(loader) -> None:
    """Put an evaluation loader at its first batch, so evaluation is a function of the model alone."""
    if hasattr(loader, "state_dict") and hasattr(loader, "load_state_dict"):
        loader.load_state_dict({**loader.state_dict(), "epoch": 0, "batch_index": 0})


# ------------------------------------------------------------------------------------------ evaluate
def evaluate(model, loader, loss=None, metrics=("accuracy",), progress=False) -> dict:
    """Average loss and metrics of ``model`` over ``loader`` in eval mode under ``no_grad``.

    The loss is the sample-weighted mean of the batch losses (the cost); metrics are computed on all the
    outputs at once (exact for non-additive ones such as mean IoU). Returns ``{'loss': ..., name: ...}``.
    """
    loss_fn = loss if loss is not None else _default_loss()
    fns = _metric_fns(metrics)
    was_training = getattr(model, "training", False)
    model.eval()
    _rewind(loader)
    total, count, outputs, targets = 0.0, 0, [], []
    try:
        with no_grad():
            for batch in loader:
                x, y = _batch_xy(batch)
                out = model(_as_tensor(x))
                y = _as_tensor(y)
                n = int(out.shape[0])
                total += float(loss_fn(out, y).item()) * n
                count += n
                if fns:
                    outputs.append(out.data)
                    targets.append(y.data)
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the loader produced no batches")
    result = {"loss": total / count}
    if fns:
        out, tgt = np.concatenate(outputs), np.concatenate(targets)
        for name, fn in fns.items():
            result[name] = float(fn(out, tgt))
    get_reporter(progress).line("evaluate  " + ", ".join(f"{k} {v:.4f}" for k, v in result.items()))
    return result


def predict(model, data, batch_size: int = 256) -> np.ndarray:
    """Outputs of ``model`` (eval mode, ``no_grad``) for an array/Tensor of inputs or a loader of batches
    (``(x, y)`` pairs or bare inputs), concatenated along the batch axis."""
    was_training = getattr(model, "training", False)
    model.eval()
    outs = []
    try:
        with no_grad():
            if isinstance(data, (np.ndarray, Tensor)):
                arr = data.data if isinstance(data, Tensor) else data
                for start in range(0, len(arr), batch_size):
                    outs.append(model(Tensor._wrap(arr[start:start + batch_size])).data)
            else:
                _rewind(data)
                for batch in data:
                    x = batch[0] if isinstance(batch, (tuple, list)) else batch
                    outs.append(model(_as_tensor(x)).data)
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("predict: no inputs")
    return np.concatenate(outs)


# ------------------------------------------------------------------------------------------ fit
class _EpochSums:
    """Running sums of the current epoch (checkpointed, so a resumed epoch reports the same numbers)."""

    def __init__(self, names):
        self.loss, self.samples, self.batches, self.seconds = 0.0, 0, 0, 0.0
        self.metrics = {n: 0.0 for n in names}

    def add(self, loss: float, n: int, values: dict) -> None:
        self.loss += loss * n
        self.samples += n
        self.batches += 1
        for k, v in values.items():
            self.metrics[k] += v * n

    def means(self) -> dict:
        n = max(self.samples, 1)
        return {"loss": self.loss / n, **{k: v / n for k, v in self.metrics.items()}}

    def state_dict(self) -> dict:
        return {"loss": self.loss, "samples": self.samples, "batches": self.batches, "seconds": self.seconds,
                "metrics": dict(self.metrics)}

    def load_state_dict(self, s: dict) -> None:
        self.loss, self.samples, self.batches = float(s["loss"]), int(s["samples"]), int(s["batches"])
        self.seconds, self.metrics = float(s["seconds"]), {k: float(v) for k, v in s["metrics"].items()}


def _lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _step_scheduler(scheduler, logs: dict | None) -> None:
    if type(scheduler).__name__ == "ReduceLROnPlateau":
        if logs is None:
            raise ValueError("fit: ReduceLROnPlateau needs scheduler_interval='epoch' (it reads val_loss)")
        scheduler.step(logs["val_loss"] if logs.get("val_loss") is not None else logs["loss"])
    else:
        scheduler.step()


def _load_callbacks(callbacks, saved: list, source) -> None:
    """Give each callback the saved state of the same type, in order (stateless ones may come and go)."""
    pending = {}
    for entry in saved:
        pending.setdefault(entry["type"], []).append(entry["state"])
    for cb in callbacks:
        states = pending.get(type(cb).__name__)
        if states:
            cb.load_state_dict(states.pop(0))
        elif cb.state_dict():
            raise ckpt.CheckpointError(f"{source}: the checkpoint holds no state for callback "
                                       f"{type(cb).__name__}; resume with the callbacks the run was saved with")


def fit(model, train_loader, val_loader=None, loss=None, optimizer=None, scheduler=None, epochs: int = 1,
        callbacks=(), metrics=("accuracy",), checkpoint_dir=None, checkpoint_every: int | None = None,
        progress=True, resume=False, scheduler_interval: str = "epoch", log_dir=None,
        extra_state: dict | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History` (one row per epoch:
    ``epoch``, ``loss``, metrics, ``val_loss``, ``val_<metric>``, ``lr``, ``time``, ``samples_per_s``).

    Args:
        loss: ``loss(output, target) -> scalar Tensor`` (a function or loss module); default cross-entropy.
        optimizer: a ``slimgrad.optim`` optimizer (required).
        scheduler: an ``optim.lr_scheduler`` scheduler, stepped every epoch or, with
            ``scheduler_interval='step'``, after every optimizer step (OneCycleLR).
        callbacks: :class:`Callback` objects (e.g. :class:`EarlyStopping`).
        metrics: names (``'accuracy'``, ``'zero_one_loss'``, ``'top5'``, ``'mean_iou'``) or functions
            ``fn(output, target) -> float``; on training batches they are averaged over samples.
        checkpoint_dir: where to save checkpoints (at every epoch end, and every ``checkpoint_every`` steps).
        resume: ``True`` to continue from ``checkpoint_dir`` when it holds a checkpoint, or a directory.
        log_dir: write ``history.csv`` and ``history.json`` there after every epoch.
        progress: ``True`` (a bar on stderr when it is a terminal, one line per epoch on stdout), ``False``,
            or a :class:`~slimgrad.train.progress.Reporter`.
        extra_state: JSON-able run information stored in each checkpoint (e.g. the CLI's configuration).
    """
    if optimizer is None:
        raise ValueError("fit: optimizer is required (e.g. slimgrad.optim.Adam(model.parameters()))")
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every < 1):
        raise ValueError(f"fit: checkpoint_every must be a positive integer or None, got {checkpoint_every!r}")
    if checkpoint_every is not None and checkpoint_dir is None:
        raise ValueError("fit: checkpoint_every needs checkpoint_dir")
    if resume is True and checkpoint_dir is None:
        raise ValueError("fit: resume=True needs checkpoint_dir (or pass the checkpoint directory as resume)")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
    resumable_loader = hasattr(train_loader, "state_dict") and hasattr(train_loader, "load_state_dict")
    if checkpoint_every is not None and not resumable_loader:
        raise ValueError("fit: checkpoint_every needs a loader with state_dict()/load_state_dict() "
                         "(slimgrad.data.DataLoader) so a resumed run continues mid-epoch")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks must be Callback instances, got {type(cb).__name__}")
    loss_fn = loss if loss is not None else _default_loss()
    fns = _metric_fns(metrics)
    reporter = get_reporter(progress)
    history = History()
    run = RunState(model, optimizer, scheduler, history, epochs)
    sums = _EpochSums(fns)
    in_epoch = False  # True when resuming in the middle of an epoch

    def save():
        extra = {
            "trainer": {"epoch": run.epoch, "step": run.step, "in_epoch": in_epoch, "sums": sums.state_dict(),
                        "stop_training": run.stop_training},
            "rng": backend.get_rng_state(),
            "loader": train_loader.state_dict() if resumable_loader else None,
            "history": history.state_dict(),
            "callbacks": [{"type": type(cb).__name__, "state": cb.state_dict()} for cb in callbacks],
            "run": extra_state or {},
        }
        ckpt.save_checkpoint(checkpoint_dir, model, optimizer, scheduler, extra)

    source = checkpoint_dir if resume is True else (resume or None)
    if source is not None and os.path.exists(os.path.join(os.fspath(source), ckpt.STATE_FILE)):
        extra = ckpt.load_checkpoint(source, model, optimizer, scheduler)
        t = extra["trainer"]
        run.epoch, run.step, in_epoch = int(t["epoch"]), int(t["step"]), bool(t["in_epoch"])
        run.stop_training = bool(t["stop_training"])
        sums.load_state_dict(t["sums"])
        backend.set_rng_state(extra["rng"])
        if resumable_loader and extra.get("loader") is not None:
            train_loader.load_state_dict(extra["loader"])
        history.load_state_dict(extra["history"])
        _load_callbacks(callbacks, extra.get("callbacks") or [], source)
    elif resume not in (False, True, None):
        raise ckpt.CheckpointError(f"{resume}: no checkpoint here (state.json is missing)")

    for cb in callbacks:
        cb.on_train_begin(run)
    while run.epoch < epochs and not run.stop_training:
        epoch = run.epoch
        if not in_epoch:
            sums = _EpochSums(fns)
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(epoch)
        for cb in callbacks:
            cb.on_epoch_begin(epoch, run)
        model.train()
        total = len(train_loader) if hasattr(train_loader, "__len__") else None
        reporter.start_epoch(epoch + 1, epochs, total, initial=sums.batches)
        start = time.perf_counter() - sums.seconds
        for batch in train_loader:
            x, y = _batch_xy(batch)
            x, y = _as_tensor(x), _as_tensor(y)
            optimizer.zero_grad()
            out = model(x)
            batch_loss = loss_fn(out, y)
            value = float(batch_loss.item())
            if not math.isfinite(value):
                raise NonFiniteLossError(f"fit: loss is {value} at epoch {epoch + 1}, step {run.step + 1} "
                                         f"(batch {sums.batches + 1} of the epoch); lower the learning rate or "
                                         f"check the inputs")
            batch_loss.backward()
            optimizer.step()
            run.step += 1
            if scheduler is not None and scheduler_interval == "step":
                _step_scheduler(scheduler, None)
            n = int(x.shape[0])
            target = y.data
            if target.dtype.kind == "f" and target.shape == out.shape:  # soft labels (MixUp/CutMix)
                target = target.argmax(axis=1)
            values = {k: float(fn(out.data, target)) for k, fn in fns.items()}
            sums.add(value, n, values)
            in_epoch = True
            logs = {"loss": value, **values}
            reporter.update(n, **logs)
            for cb in callbacks:
                cb.on_batch_end(run.step, logs, run)
            if checkpoint_every and run.step % checkpoint_every == 0 and (total is None or sums.batches < total):
                sums.seconds = time.perf_counter() - start
                save()
        seconds = time.perf_counter() - start
        if sums.samples == 0:
            raise ValueError(f"fit: the training loader produced no batches in epoch {epoch + 1}")
        logs = {"epoch": epoch + 1, **sums.means()}
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, metrics)
            logs.update({f"val_{k}": v for k, v in val.items()})
        logs.update({"lr": _lr(optimizer), "time": seconds, "samples_per_s": sums.samples / max(seconds, 1e-9)})
        if scheduler is not None and scheduler_interval == "epoch":
            _step_scheduler(scheduler, logs)
        history.append(logs)
        reporter.end_epoch(epoch + 1, epochs, {k: v for k, v in logs.items() if k not in ("epoch", "time")})
        run.epoch, in_epoch = epoch + 1, False
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs, run)
        if log_dir is not None:
            history.to_csv(os.path.join(log_dir, "history.csv"))
            history.to_json(os.path.join(log_dir, "history.json"))
        if checkpoint_dir is not None:
            save()
    for cb in callbacks:
        cb.on_train_end(run)
    reporter.close()
    return history
