"""Typed Textual messages that carry the engine's events from the training thread to the UI.

The training worker calls ``app.post_message(event_message(event, seq))`` for every core
:mod:`~cnn_tui.core.engine.events` event (``post_message`` is thread-safe and never blocks
training). Each message is a ``@dataclass`` :class:`~textual.message.Message` holding the
frozen core event and the number of the run it belongs to, so a late event from a previous
run can be told apart.

Batch progress is chatter: :meth:`TrainingBatch.can_replace` lets a queued batch message be
superseded by the next one, so a backlog collapses to the latest. Epochs, logs, the
evaluation and the end of a run are milestones and are never merged away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # the TUI must not import the engine package on the UI thread at start
    from cnn_tui.core.engine.events import (
        BatchEnd,
        EpochEnd,
        Evaluated,
        Log,
        RunFailed,
        RunFinished,
        RunStarted,
    )


@dataclass
class TrainingMessage(Message):
    """Base of the messages that wrap a core training event."""

    event: Any
    """The frozen core event."""
    seq: int
    """Number of the run in this session (1, 2, ...)."""


@dataclass
class TrainingStarted(TrainingMessage):
    """Wraps :class:`RunStarted`: data and model are ready, training begins."""

    event: RunStarted


@dataclass
class TrainingBatch(TrainingMessage):
    """Wraps :class:`BatchEnd` (running means of the current epoch)."""

    event: BatchEnd

    def can_replace(self, message: Message) -> bool:
        # Textual asks "may `message` (queued after me) supersede me?": only another batch
        # of the same run may; epochs/logs/finish never are merged.
        return isinstance(message, TrainingBatch) and message.seq == self.seq


@dataclass
class TrainingEpoch(TrainingMessage):
    """Wraps :class:`EpochEnd`."""

    event: EpochEnd


@dataclass
class TrainingLog(TrainingMessage):
    """Wraps :class:`Log` (info or warning lines for the run log)."""

    event: Log


@dataclass
class TrainingEvaluated(TrainingMessage):
    """Wraps :class:`Evaluated` (test metrics are ready)."""

    event: Evaluated


@dataclass
class TrainingFinished(TrainingMessage):
    """Wraps :class:`RunFinished` (the run is stored: completed or stopped)."""

    event: RunFinished


@dataclass
class TrainingFailed(TrainingMessage):
    """Wraps :class:`RunFailed`."""

    event: RunFailed


_BY_EVENT_NAME: dict[str, type[TrainingMessage]] = {
    "RunStarted": TrainingStarted,
    "BatchEnd": TrainingBatch,
    "EpochEnd": TrainingEpoch,
    "Log": TrainingLog,
    "Evaluated": TrainingEvaluated,
    "RunFinished": TrainingFinished,
    "RunFailed": TrainingFailed,
}


def event_message(event: Any, seq: int) -> TrainingMessage | None:
    """The message class for a core event (by class name: no engine import needed), or None."""
    cls = _BY_EVENT_NAME.get(type(event).__name__)
    return cls(event, seq) if cls is not None else None


@dataclass
class SummaryReady(Message):
    """The Keras model summary built in a thread worker (or why it could not be built)."""

    token: int
    """Which request this answers (older answers are dropped)."""
    summary: Any = None
    """A ``ModelSummary`` (rows, total_params, trainable_params) or None."""
    error: str | None = None


@dataclass
class DatasetFacts(Message):
    """Dataset facts looked up in a thread worker: spec -> DatasetInfo, or an error line."""

    infos: dict[str, Any]
    errors: dict[str, str]
    architectures: list[str] = field(default_factory=list)
    """Names of the built-in architectures (when they were asked for)."""


@dataclass
class TensorFlowReady(Message):
    """The background TensorFlow import finished (``error`` set if it failed)."""

    seconds: float
    error: str | None = None


@dataclass
class ExperimentTrialStarted(Message):
    """Wraps the core's ``TrialStarted``: a trial of the running study begins."""

    event: Any
    seq: int
    """The number of the study's run in this session (as for :class:`TrainingMessage`)."""


@dataclass
class ExperimentTrialFinished(Message):
    """Wraps the core's ``TrialFinished`` (completed, stopped, skipped or failed)."""

    event: Any
    seq: int


@dataclass
class ExperimentTrialProgress(Message):
    """An engine event of one of a parallel study's trials (a core ``WorkerEvent``)."""

    event: Any
    seq: int

    def can_replace(self, message: Message) -> bool:
        """Batches of the same trial collapse to the latest; epochs and the rest never do."""
        return (isinstance(message, ExperimentTrialProgress) and message.seq == self.seq
                and message.event.index == self.event.index
                and type(message.event.event).__name__ == type(self.event.event).__name__ == "BatchEnd")


def trial_message(event: Any, seq: int) -> Message | None:
    """The message for a core trial event (by class name: no engine import needed), or None."""
    cls = {"TrialStarted": ExperimentTrialStarted, "TrialFinished": ExperimentTrialFinished}.get(type(event).__name__)
    return cls(event, seq) if cls is not None else None


@dataclass
class ExperimentResults(Message):
    """The aggregated table and group curves of an experiment folder, read in a thread worker."""

    exp_dir: Any
    table: Any = None
    """A core ``Table`` (MeanStd cells) or None."""
    curves: list[Any] = field(default_factory=list)
    """Core ``GroupCurve`` objects of the validation accuracy."""
    error: str | None = None
