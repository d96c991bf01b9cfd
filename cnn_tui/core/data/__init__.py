"""Datasets: every source gives uint8 images (N, H, W, C), int64 labels, class names and
provenance, split into train / validation / test (stratified, seeded).

Sources: ``digits``, ``fashion_mnist``, ``mnist``, ``cifar10``, ``cifar100`` (local files
first, then a Keras download), ``folder:PATH`` and ``arrays:PATH``. Nothing here imports
TensorFlow at module level.
"""

from __future__ import annotations

from .folder import FileImages
from .pipeline import channel_stats, make_tf_dataset
from .sources import check_dataset, dataset_info, keep_last_dataset, list_datasets, load_dataset, parse_spec
from .split import planned_counts
from .types import ChannelStats, Dataset, DatasetInfo

__all__ = [
    "planned_counts",
    "ChannelStats",
    "Dataset",
    "DatasetInfo",
    "FileImages",
    "channel_stats",
    "check_dataset",
    "dataset_info",
    "keep_last_dataset",
    "list_datasets",
    "load_dataset",
    "make_tf_dataset",
    "parse_spec",
]
