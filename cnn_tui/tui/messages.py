"""Typed Textual messages that carry the engine's events from the training thread to the UI.

The training worker hands every core event to the App, which posts ``run_message(event, seq)``
(``post_message`` is thread-safe and never blocks training). Events map to messages by their
TYPE (:func:`event_message`, :func:`trial_message`): the core's event classes are imported on
first use, on the training thread, never at the UI's start. Each message is a ``@dataclass`` :class:`~textual.message.Message` holding the
frozen core event and the number of the run it belongs to, so a late event from a previous
run can be told apart.

Batch progress is chatter: :meth:`TrainingBatch.can_replace` lets a queued batch message be
superseded by the next one, so a backlog collapses to the latest. Epochs, logs, the
evaluation and the end of a run are milestones and are never merged away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
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


@cache
def _training_messages() -> dict[type, type[TrainingMessage]]:
    from cnn_tui.core.engine import events as ev  # loaded already when an event exists

    return {
        ev.RunStarted: TrainingStarted,
        ev.BatchEnd: TrainingBatch,
        ev.EpochEnd: TrainingEpoch,
        ev.Log: TrainingLog,
        ev.Evaluated: TrainingEvaluated,
        ev.RunFinished: TrainingFinished,
        ev.RunFailed: TrainingFailed,
    }


def event_message(event: Any, seq: int) -> TrainingMessage | None:
    """The message for a core training event (by its type), or None."""
    cls = _training_messages().get(type(event))
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
                and type(message.event.event) is type(self.event.event) is _batch_end())


def _batch_end() -> type:
    from cnn_tui.core.engine.events import BatchEnd  # loaded already: a trial's event exists

    return BatchEnd


@cache
def _trial_messages() -> dict[type, type[Message]]:
    from cnn_tui.core.engine.executors import WorkerEvent
    from cnn_tui.core.engine.experiments import TrialFinished, TrialStarted

    return {
        TrialStarted: ExperimentTrialStarted,
        TrialFinished: ExperimentTrialFinished,
        WorkerEvent: ExperimentTrialProgress,
    }


def trial_message(event: Any, seq: int) -> Message | None:
    """The message for a core trial event or a parallel trial's ``WorkerEvent`` (by type), or None."""
    cls = _trial_messages().get(type(event))
    return cls(event, seq) if cls is not None else None


def run_message(event: Any, seq: int) -> Message | None:
    """The message for any event a training, resume or study hands the App (see above)."""
    message = event_message(event, seq)
    return message if message is not None else trial_message(event, seq)


@dataclass
class ExperimentResults(Message):
    """The aggregated table and group curves of an experiment folder, read in a thread worker."""

    exp_dir: Any
    table: Any = None
    """A core ``Table`` (MeanStd cells) or None."""
    curves: list[Any] = field(default_factory=list)
    """Core ``GroupCurve`` objects of the validation accuracy."""
    error: str | None = None
