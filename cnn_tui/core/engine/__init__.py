"""The engine: train a config to a stored run, emitting events.

Importing this package is cheap; TensorFlow loads when a run starts.
"""

from __future__ import annotations

from cnn_tui.core.engine.device import describe_device
from cnn_tui.core.engine.events import (
    BatchEnd,
    EpochEnd,
    Evaluated,
    Event,
    Log,
    RunFailed,
    RunFinished,
    RunStarted,
)
from cnn_tui.core.engine.trainer import RunResult, check_resumable, resume, train

__all__ = [
    "BatchEnd",
    "EpochEnd",
    "Evaluated",
    "Event",
    "Log",
    "RunFailed",
    "RunFinished",
    "RunResult",
    "RunStarted",
    "check_resumable",
    "describe_device",
    "resume",
    "train",
]
