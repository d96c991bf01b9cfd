"""Core events reach the app's messages by TYPE: every event class of the core maps to a
message, and a class that only shares an event's name maps to nothing (a renamed or
unmapped event class fails here, instead of silently dropping its messages)."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from cnn_tui.core.engine import events
from cnn_tui.core.engine.executors import WorkerEvent
from cnn_tui.core.engine.experiments import TrialEvent
from cnn_tui.tui.messages import (
    ExperimentTrialProgress,
    TrainingMessage,
    event_message,
    run_message,
    trial_message,
)

EVENT_CLASSES = typing.get_args(events.Event)
TRIAL_CLASSES = typing.get_args(TrialEvent)


def _bare(cls: type) -> object:
    return object.__new__(cls)  # the mapping looks at the type only


def _impostor(cls: type) -> object:
    """An instance of a class with ``cls``'s name and fields that is not ``cls``."""
    fake = dataclasses.make_dataclass(cls.__name__, [f.name for f in dataclasses.fields(cls)])
    return object.__new__(fake)


def test_the_core_event_modules_declare_their_events():
    assert EVENT_CLASSES and TRIAL_CLASSES
    declared = {c for c in vars(events).values() if isinstance(c, type) and dataclasses.is_dataclass(c)
                and c.__module__ == events.__name__}
    assert declared == set(EVENT_CLASSES)  # an event class left out of the Event union is unmapped


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_every_engine_event_class_maps_to_its_own_training_message(cls):
    message = event_message(_bare(cls), seq=3)
    assert isinstance(message, TrainingMessage) and message.seq == 3
    assert typing.get_type_hints(type(message), localns=vars(events))["event"] is cls  # it wraps this type
    assert run_message(_bare(cls), seq=3).__class__ is type(message)


@pytest.mark.parametrize("cls", TRIAL_CLASSES, ids=lambda c: c.__name__)
def test_every_trial_event_class_maps_to_a_message(cls):
    message = trial_message(_bare(cls), seq=2)
    assert message is not None and message.seq == 2 and message.event.__class__ is cls
    assert run_message(_bare(cls), seq=2).__class__ is type(message)


def test_a_parallel_trials_worker_event_maps_to_progress():
    assert isinstance(run_message(WorkerEvent(1, "r01-s1", None), seq=1), ExperimentTrialProgress)


@pytest.mark.parametrize("cls", EVENT_CLASSES + TRIAL_CLASSES, ids=lambda c: c.__name__)
def test_a_class_with_an_events_name_is_not_that_event(cls):
    impostor = _impostor(cls)
    assert type(impostor).__name__ == cls.__name__
    assert event_message(impostor, seq=1) is None
    assert trial_message(impostor, seq=1) is None
