"""QuietCollector: full garbage collections wait for a quiet moment, but never too long."""

from __future__ import annotations

import gc

from fake_engine import SIZE, wait_for

from cnn_tui.tui.gc_policy import (
    MAX_INTERVAL,
    MIN_INTERVAL,
    NEVER,
    QUIET_SECONDS,
    QuietCollector,
    end_startup_pause,
    pause_for_startup,
)


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


def test_while_training_only_the_overdue_collection_runs():
    collector, clock, done = make()
    training = [True]
    collector.busy = lambda: training[0]
    clock.now += MIN_INTERVAL + 5
    assert not collector.tick()  # quiet and due, but the run has the CPU
    clock.now = 1000.0 + MAX_INTERVAL
    assert collector.tick() and len(done) == 1
    training[0] = False
    clock.now += MIN_INTERVAL
    assert collector.tick() and len(done) == 2


async def test_app_tells_the_collector_when_it_trains(make_app):
    from fake_engine import FakeEngine

    engine = FakeEngine(steps=20, step_delay=0.02)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: app.setup_screen.config is not None)
        assert not app.collector.busy()
        app.setup_screen.field("train.epochs").control.value = "50"
        assert await wait_for(lambda: app.setup_screen.config.train.epochs == 50)
        await pilot.press("f5")
        assert await wait_for(lambda: engine.batches_emitted >= 2)
        assert app.collector.busy()
        await pilot.press("x")
        assert await wait_for(lambda: not app.training_active, timeout=20)
        assert not app.collector.busy()


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


def test_startup_pause_switches_collection_off_and_back_on_once():
    assert gc.isenabled()
    try:
        assert pause_for_startup() and not gc.isenabled()
        assert not pause_for_startup()  # already paused
        assert end_startup_pause() and gc.isenabled()
        assert not end_startup_pause()  # nothing to end
        gc.disable()  # collection off by someone else: not ours to switch on
        assert not pause_for_startup() and not end_startup_pause() and not gc.isenabled()
    finally:
        gc.enable()


async def test_app_ends_the_startup_pause_at_its_first_paint(make_app):
    app = make_app()
    pause_for_startup()
    try:
        async with app.run_test(size=SIZE):
            assert await wait_for(lambda: app.first_paint_seconds is not None)
            assert gc.isenabled()
    finally:
        end_startup_pause()
        gc.enable()
