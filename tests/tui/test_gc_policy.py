"""QuietCollector: full garbage collections wait for a quiet moment, but never too long."""

from __future__ import annotations

import gc

from cnn_tui.tui.gc_policy import MAX_INTERVAL, MIN_INTERVAL, NEVER, QUIET_SECONDS, QuietCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[QuietCollector, Clock, list[int]]:
    clock, done = Clock(), []
    return QuietCollector(clock, lambda: done.append(1)), clock, done


def test_collects_when_quiet_and_due():
    collector, clock, done = make()
    clock.now += MIN_INTERVAL - 0.1
    assert not collector.tick()  # quiet but not due yet
    clock.now += 0.2
    assert collector.tick() and len(done) == 1
    clock.now += 1.0
    assert not collector.tick()  # just collected


def test_input_holds_the_collection_until_quiet():
    collector, clock, done = make()
    clock.now += MIN_INTERVAL + 5
    collector.input()
    clock.now += QUIET_SECONDS / 2
    assert not collector.tick()
    clock.now += QUIET_SECONDS
    assert collector.tick() and len(done) == 1


def test_overdue_collection_runs_even_while_typing():
    collector, clock, done = make()
    for _ in range(int(MAX_INTERVAL / 0.5) + 1):
        clock.now += 0.5
        collector.input()
        collector.tick()
    assert len(done) == 1


def test_start_turns_automatic_full_collections_off_and_stop_restores():
    before = gc.get_threshold()
    collector = QuietCollector()
    collector.start()
    try:
        assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] == NEVER
    finally:
        collector.stop()
    assert gc.get_threshold() == before
