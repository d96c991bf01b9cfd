"""Typed events the engine emits while a run goes on.

Plain frozen dataclasses: the CLI prints them, the TUI wraps them in Textual messages,
tests record them. Epochs are 1-based.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Union


@dataclass(frozen=True)
class RunStarted:
    """Data and model are ready; training is about to begin."""

    run_id: str
    run_dir: Path
    name: str
    device: str
    params: int
    epochs: int
    steps_per_epoch: int
    train_size: int
    val_size: int
    test_size: int
    class_names: tuple[str, ...]
    initial_epoch: int = 0
    history: tuple[dict[str, Any], ...] = ()
    """history.csv rows of the ``initial_epoch`` epochs already trained (a resumed run), so
    front ends draw the whole run, not only its continuation."""


@dataclass(frozen=True)
class BatchEnd:
    """A training batch ended (throttled to about 10 per second).

    ``logs`` holds Keras' running means over the current epoch, not per-batch values.
    """

    epoch: int
    step: int
    steps: int
    logs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EpochEnd:
    """An epoch ended; ``logs`` has loss, accuracy, val_loss, val_accuracy."""

    epoch: int
    epochs: int
    logs: dict[str, float]
    lr: float
    seconds: float


@dataclass(frozen=True)
class Log:
    """A line for the run's log: progress notes and warnings."""

    level: str
    message: str


@dataclass(frozen=True)
class Evaluated:
    """Test-set evaluation finished (see metrics.json for the keys)."""

    metrics: dict[str, Any]


@dataclass(frozen=True)
class RunFinished:
    """The run ended and is stored; ``status`` is completed or stopped."""

    run_id: str
    run_dir: Path
    status: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class RunFailed:
    """The run failed; ``run_dir`` is None when it failed before a folder existed."""

    run_id: str | None
    run_dir: Path | None
    error: str


Event = Union[RunStarted, BatchEnd, EpochEnd, Log, Evaluated, RunFinished, RunFailed]
EventHandler = Callable[[Event], None]
