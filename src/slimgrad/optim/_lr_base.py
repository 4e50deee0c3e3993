"""``LRScheduler``: the base of the learning-rate schedules (PyTorch 2.13's stepping protocol)."""
from __future__ import annotations

import copy
import warnings

from .optimizer import Optimizer, _python_scalars


EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` is deprecated (as in PyTorch); call `scheduler.step()` "
    "without it. With an epoch, the scheduler uses its closed form, if it has one."
)


def current_lrs(optimizer) -> list:
    """The learning rate of every parameter group, in order."""
    return [group["lr"] for group in optimizer.param_groups]


class LRScheduler:
    """Base class: subclasses implement :meth:`get_lr`, the next lr of every group.

    ``last_epoch`` counts the steps taken (``-1`` starts a fresh schedule); when resuming with
    ``last_epoch >= 0`` the groups must already hold ``initial_lr``.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be a slimgrad Optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param 'initial_lr' is not specified in "
                                   f"param_groups[{i}] when resuming with last_epoch={last_epoch}")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        raise NotImplementedError(f"{type(self).__name__}.get_lr")

    def get_last_lr(self) -> list:
        """The learning rates the last step set, one per parameter group."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one step and write the new learning rates into the groups.

        ``epoch`` (deprecated in PyTorch, kept for its users) jumps to that step, with the closed form
        where the schedule has one.
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:  # SequentialLR restarts a scheduler at its milestone with the closed form
            self.last_epoch = epoch
            values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        self._write_lrs(values)

    def _write_lrs(self, values) -> None:
        """Set the groups' learning rates to ``values`` and remember them (``get_last_lr``)."""
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = _python_scalars(lr)  # a NumPy scalar from a user's lambda: a float (JSON, no promotion)
        self._last_lr = current_lrs(self.optimizer)

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (deep-copied)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(copy.deepcopy(state_dict))
