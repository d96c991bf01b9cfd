"""Training screen: live curves, stop, pause, failures, results at the end."""

from __future__ import annotations

import json

import pytest
from fake_engine import SIZE, FakeEngine, wait_for
from textual.widgets import RichLog

from cnn_tui.core.engine.events import BatchEnd, EpochEnd, RunFinished
from cnn_tui.core.results.store import RunStore
from cnn_tui.tui.messages import TrainingBatch, event_message
from cnn_tui.tui.widgets.live_plot import LivePlot
from cnn_tui.tui.setup import SetupScreen


def _status(run_dir) -> str:
    return json.loads((run_dir / "status.json").read_text())["state"]


async def _start(app, pilot, epochs: int | None = None) -> None:
    assert await wait_for(lambda: app.setup_screen.config is not None and app.setup_screen.preset_name)
    if epochs is not None:
        app.setup_screen.field("train.epochs").control.value = str(epochs)
        assert await wait_for(lambda: app.setup_screen.config and app.setup_screen.config.train.epochs == epochs)
    await pilot.press("f5")


def _log_text(screen) -> str:
    return "\n".join(line.text for line in screen.query_one(RichLog).lines)


def _finished(app) -> bool:
    return app.session.monitor is not None and not app.session.monitor.active and not app.training_active


async def test_plots_receive_batch_and_epoch_points(make_app):
    engine = FakeEngine(steps=6, step_delay=0.01)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _start(app, pilot, epochs=3)
        assert await wait_for(lambda: _finished(app), timeout=20)
        screen = app.training_screen
        assert app.screen is screen
        assert await wait_for(lambda: len(screen.query_one("#plot-loss", LivePlot).series["train"][0]) == 3)
        loss = screen.query_one("#plot-loss", LivePlot).series
        acc = screen.query_one("#plot-acc", LivePlot).series
        assert loss["train"][0] == [1.0, 2.0, 3.0]
        assert loss["train"][1] == app.session.monitor.loss and len(loss["val"][1]) == 3
        assert len(acc["train"][1]) == 3 and len(acc["val"][1]) == 3
        batch = screen.query_one("#plot-batch", LivePlot).series
        assert 1 <= len(batch["loss"][0]) <= 6  # the last epoch's steps (batch floods may merge)
        assert batch["loss"][0][-1] == 6.0
        assert app.session.monitor.status == "completed" and app.session.monitor.lr == 0.001
        assert screen.query_one("#plot-loss", LivePlot).draws < 40  # throttled, not once per event
        # the log's lines are written by messages (and deferred until it has a size)
        wanted = ("epoch 3/3", "warning: fake engine", "test: loss")
        assert await wait_for(lambda: all(w in _log_text(screen) for w in wanted)), _log_text(screen)
        run = RunStore(app.runs_dir).get("latest")
        assert run.state == "completed" and len(run.history()) == 3
        # The worker's state turns SUCCESS (read by _finished) before the app handles the
        # StateChanged message whose handler notifies: a moment earlier, on a busy host.
        assert await wait_for(lambda: any("press r" in n.message for n in app._notifications))


async def test_stop_keeps_the_run_as_stopped(make_app):
    engine = FakeEngine(steps=20, step_delay=0.02)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _start(app, pilot, epochs=50)
        assert await wait_for(lambda: engine.batches_emitted >= 3)
        assert app.screen.active_bindings["x"].enabled
        await pilot.press("x")
        assert await wait_for(lambda: _finished(app), timeout=20)
        assert app.session.monitor.status == "stopped"
        run_dir = app.session.monitor.run_dir
        assert _status(run_dir) == "stopped"
        assert (run_dir / "metrics.json").exists()  # evaluated after the stop
        assert engine.batches_emitted < 50 * 20
        assert await wait_for(lambda: "x" not in app.screen.active_bindings)


async def test_pause_holds_training_and_resume_continues(make_app):
    engine = FakeEngine(steps=10, step_delay=0.02)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _start(app, pilot, epochs=20)
        assert await wait_for(lambda: engine.batches_emitted >= 2)
        await pilot.press("p")
        assert await wait_for(lambda: engine.paused_seen.is_set())
        assert app.session.monitor.status == "paused"
        assert app.screen.active_bindings["p"].binding.description == "Resume"
        held = engine.batches_emitted
        await wait_for(lambda: False, timeout=0.4)
        assert engine.batches_emitted == held
        assert app.session.monitor.eta_seconds() is None or app.session.monitor.eta_seconds() >= 0
        await pilot.press("p")
        assert await wait_for(lambda: engine.batches_emitted > held + 2)
        assert app.session.monitor.status == "running"
        # one pause, one resume: each said once (the app repeated the engine's 'resumed')
        said = [m for _, m in app.session.monitor.log if m.startswith(("paused", "resumed"))]
        assert [m.split()[0] for m in said] == ["paused", "resumed"], said
        app.action_stop()
        assert await wait_for(lambda: _finished(app), timeout=20)
        assert app.session.monitor.status == "stopped"


async def test_engine_error_is_a_notification_not_a_crash(make_app):
    from fake_engine import bad_dataset_error

    engine = FakeEngine(raise_error=bad_dataset_error())
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _start(app, pilot)
        assert await wait_for(lambda: _finished(app))
        assert app.session.monitor.status == "failed"
        # notify() posts a message: the toast may land a moment after the run reads as failed
        assert await wait_for(
            lambda: any("no such folder" in n.message and n.severity == "error" for n in app._notifications)
        )
        assert app.is_running
        # the app still trains afterwards
        engine.raise_error = None
        await pilot.press("s")
        await _start(app, pilot, epochs=1)
        assert await wait_for(lambda: _finished(app) and app.session.monitor.seq == 2, timeout=20)
        assert app.session.monitor.status == "completed"


async def test_failed_run_is_reported(make_app):
    engine = FakeEngine(fail_with="loss became NaN/inf at epoch 1, batch 3 (try a lower train.learning_rate)")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _start(app, pilot, epochs=1)
        assert await wait_for(lambda: _finished(app), timeout=20)
        assert app.session.monitor.status == "failed"
        assert sum("NaN" in n.message for n in app._notifications) == 1
        assert _status(app.session.monitor.run_dir) == "failed"


async def test_finished_run_opens_the_results_screen(make_app):
    pytest.importorskip("cnn_tui.tui.results")
    from cnn_tui.tui.results import ResultsScreen

    engine = FakeEngine(steps=3, step_delay=0.0)
    app = make_app(engine, auto_results=True)
    async with app.run_test(size=SIZE) as pilot:
        await _start(app, pilot, epochs=2)
        assert await wait_for(lambda: isinstance(app.screen, ResultsScreen), timeout=20)
        await pilot.press("t")  # back to the training screen of the run
        assert await wait_for(lambda: app.screen is app.training_screen)
        await pilot.press("r")  # results of the latest run again
        assert await wait_for(lambda: isinstance(app.screen, ResultsScreen))
        # Leaving for another screen and coming back with t shows Training, not the
        # Results screen that was left on top of it.
        await pilot.press("s")
        assert await wait_for(lambda: isinstance(app.screen, SetupScreen))
        await pilot.press("t")
        assert await wait_for(lambda: app.screen is app.training_screen)


def test_batch_messages_merge_but_milestones_do_not():
    batch1 = event_message(BatchEnd(1, 1, 10, {"loss": 1.0}), seq=1)
    batch2 = event_message(BatchEnd(1, 2, 10, {"loss": 0.9}), seq=1)
    epoch = event_message(EpochEnd(1, 2, {"loss": 0.8}, 0.001, 1.0), seq=1)
    done = event_message(RunFinished("r", ".", "completed", {}), seq=1)
    assert isinstance(batch1, TrainingBatch)
    assert batch1.can_replace(batch2)  # a queued batch may be superseded by the next one
    assert not batch1.can_replace(epoch)
    assert not epoch.can_replace(batch2) and not epoch.can_replace(done) and not done.can_replace(epoch)
    assert not batch1.can_replace(event_message(BatchEnd(1, 3, 10, {}), seq=2))  # another run


async def test_idle_training_screen_does_not_animate(make_app):
    """Before any run the progress bars are empty, not Textual's indeterminate bars, which
    repaint 15 times a second for as long as the screen exists."""
    from textual.widgets._progress_bar import Bar

    app = make_app(FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        assert await wait_for(lambda: app.screen.id == "training" and app.screen.is_mounted)
        bars = list(app.screen.query(Bar))
        assert len(bars) == 2 and all(bar.auto_refresh is None for bar in bars)
