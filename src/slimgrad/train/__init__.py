"""Training: the loop (:func:`fit`, :func:`evaluate`, :func:`predict`), callbacks, metrics, history,
progress reporting and exact-resume checkpoints."""
from .callbacks import Callback, EarlyStopping, LambdaCallback
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .history import History
from .metrics import accuracy, confusion_matrix, mean_iou, top_k_accuracy, zero_one_loss
from .progress import Reporter
from .trainer import NonFiniteLossError, RunState, evaluate, fit, predict

__all__ = [
    "fit", "evaluate", "predict", "NonFiniteLossError", "RunState",
    "Callback", "EarlyStopping", "LambdaCallback",
    "CheckpointError", "save_checkpoint", "load_checkpoint",
    "History", "Reporter",
    "accuracy", "zero_one_loss", "top_k_accuracy", "confusion_matrix", "mean_iou",
]
