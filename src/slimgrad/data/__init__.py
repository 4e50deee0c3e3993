"""Data: datasets, the seeded resumable DataLoader, standard-format readers and batch augmentation."""
from . import augment, datasets
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .datasets import DATASET_NAMES, DatasetInfo, get_dataset
from .loader import DataLoader
from .normalize import channel_stats, normalization

__all__ = [
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
    "datasets", "augment", "get_dataset", "DatasetInfo", "DATASET_NAMES", "channel_stats", "normalization",
]
