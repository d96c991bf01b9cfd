"""The plain data types of the dataset layer: Dataset, DatasetInfo, ChannelStats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Dataset:
    """A loaded dataset: uint8 images (N, H, W, C) and int64 labels (N,) per split.

    ``x_*`` is a numpy array, or a lazy :class:`~cnn_tui.core.data.folder.FileImages`
    (``len()``, ``.shape``, ``__getitem__(int | slice | int array) -> uint8 array``) for
    folder datasets too large to decode into memory. ``y_*`` is always a numpy array.
    """

    name: str
    source: str
    class_names: list[str]
    x_train: Any
    y_train: np.ndarray
    x_val: Any
    y_val: np.ndarray
    x_test: Any
    y_test: np.ndarray
    skipped: int = 0
    """Files left out: ``skipped_files`` plus ``unlabeled_files`` (folder datasets)."""
    skipped_files: tuple[str, ...] = ()
    """Unreadable image files (empty, corrupt, truncated, too large), relative to the folder."""
    unlabeled_files: tuple[str, ...] = ()
    """Files whose name gives no class (``labels_from = "prefix"`` without a letter prefix)."""

    def skipped_warning(self, shown: int = 3) -> str | None:
        """One line naming the first ``shown`` skipped files of each kind and the counts; None if none."""
        parts = []
        for files, what in ((self.skipped_files, "unreadable image file{s} skipped (empty, corrupt, truncated or "
                                                 "too large)"),
                            (self.unlabeled_files, "file{s} without a letter prefix skipped")):
            if files:
                names = ", ".join(files[:shown])
                more = f" and {len(files) - shown} more" if len(files) > shown else ""
                parts.append(f"{len(files)} {what.format(s='s' if len(files) != 1 else '')}: {names}{more}")
        if not parts and self.skipped:
            parts.append(f"{self.skipped} unreadable image file{'s' if self.skipped != 1 else ''} skipped")
        return "; ".join(parts) or None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of every image."""
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        """Number of classes (labels are 0 .. num_classes - 1)."""
        return len(self.class_names)

    @property
    def lazy(self) -> bool:
        """Whether the images are decoded from files on demand (not held in memory)."""
        return not isinstance(self.x_train, np.ndarray)


@dataclass
class DatasetInfo:
    """Cheap facts about a dataset, for listings and the setup screen."""

    name: str
    description: str
    image_shape: tuple[int, int, int] | None
    num_classes: int | None
    class_names: list[str] | None
    train_count: int | None
    test_count: int | None
    location: str
    available_offline: bool
    hint: str = ""


@dataclass
class ChannelStats:
    """Per-channel statistics of a uint8 image set (in the 0..255 value range)."""

    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    max_abs: float = 0.0
