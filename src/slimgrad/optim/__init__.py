"""Optimizers and learning-rate schedules (PyTorch-shaped): ``import slimgrad.optim as optim``.

Each optimizer is a thin class over a pure update rule in :mod:`slimgrad.optim.functional`.
"""
from . import functional, lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .lion import Lion
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam",
    "Lion", "functional", "lr_scheduler",
]
