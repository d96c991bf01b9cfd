"""Resuming a crashed or stopped run from the Runs screen (ctrl+r), with a scripted resumer.

The App starts the resume in its training worker, exactly like F5 starts a run: the
Training screen follows it and the run folder is continued in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from canned import RUN_A, RUN_CRASHED, RUN_DAMAGED, RUN_STOPPED, make_runs
from fake_engine import SIZE, FakeEngine, wait_for
from textual.widgets import DataTable

from cnn_tui.core.engine import RunResult, check_resumable
from cnn_tui.core.engine.events import EpochEnd, RunFinished, RunStarted
from cnn_tui.core.results.store import RunStore
from cnn_tui.tui.dialogs.help import KEYS
from cnn_tui.tui.runs import RunsScreen


class FakeResumer:
    """Callable like ``cnn_tui.core.engine.resume``: continues the run folder in place."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, run, on_event=None, stop=None, *, runs_dir=None, pause=None):
        emit = on_event or (lambda event: None)
        self.calls.append(run.run_id)
        done = check_resumable(run)
        config = run.config
        writer = RunStore(run.path.parent).open_writer(run)
        writer.truncate_history(done)
        epochs = config.train.epochs
        earlier = tuple(RunStore(run.path.parent).get(run.run_id).history())  # as the engine sends them
        emit(RunStarted(run.run_id, run.path, run.name, "CPU (fake)", 12_345, epochs, 3, 100, 10, 30,
                        tuple(str(i) for i in range(10)), initial_epoch=done, history=earlier))  # fmt: skip
        for epoch in range(done + 1, epochs + 1):
            logs = {"loss": 1 / epoch, "accuracy": 0.9, "val_loss": 1 / epoch, "val_accuracy": 0.88}
            writer.append_history({"epoch": epoch, **logs, "lr": 1e-3, "seconds": 0.01})
            emit(EpochEnd(epoch, epochs, logs, 1e-3, 0.01))
        metrics = FakeEngine()._evaluate(writer, epochs, config)
        writer.finish("completed")
        emit(RunFinished(run.run_id, run.path, "completed", metrics))
        return RunResult(run.run_id, run.path, "completed", metrics)


def _with_checkpoint(run_dir: Path, epoch: int) -> None:
    (run_dir / "checkpoint.keras").write_bytes(b"fake checkpoint")
    status = json.loads((run_dir / "status.json").read_text())
    status["checkpoint_epoch"] = epoch
    (run_dir / "status.json").write_text(json.dumps(status))


@pytest.fixture
def messy_runs(runs_dir: Path) -> Path:
    make_runs(runs_dir)
    _with_checkpoint(runs_dir / RUN_CRASHED, 1)
    _with_checkpoint(runs_dir / RUN_STOPPED, 2)
    return runs_dir


async def _runs_screen(app, pilot, run_id: str) -> RunsScreen:
    await pilot.press("u")
    assert await wait_for(lambda: isinstance(app.screen, RunsScreen) and app.screen.is_mounted)
    screen = app.screen
    ids = [r["run"] for r in screen.rows]
    screen.query_one(DataTable).move_cursor(row=ids.index(run_id))
    await pilot.pause()
    return screen


@pytest.mark.parametrize("run_id", [RUN_CRASHED, RUN_STOPPED, "no-checkpoint"])
async def test_ctrl_r_resumes_the_highlighted_run_in_place(make_app, messy_runs, run_id) -> None:
    """After its last checkpoint, or from epoch 0 when it has none (not refused)."""
    first_line = "after epoch"
    if run_id == "no-checkpoint":
        run_id, first_line = RUN_CRASHED, "from epoch 0"
        (messy_runs / RUN_CRASHED / "checkpoint.keras").unlink()
    app = make_app()
    app.resumer = resumer = FakeResumer()
    before = RunStore(messy_runs).get(run_id)
    assert before.state in ("crashed", "stopped")
    done = check_resumable(before)
    assert done == (before.status["checkpoint_epoch"] if first_line == "after epoch" else 0)
    async with app.run_test(size=SIZE) as pilot:
        await _runs_screen(app, pilot, run_id)
        await pilot.press("ctrl+r")
        assert await wait_for(lambda: app.session.monitor is not None and not app.session.monitor.active, timeout=15)
        assert app.session.monitor.status == "completed", app.session.monitor.error
        assert app.current_mode == "training"
        assert app.last_run_dir == messy_runs / run_id
        assert first_line in app.session.monitor.log[0][1], app.session.monitor.log[0]
    assert resumer.calls == [run_id]
    after = RunStore(messy_runs).get(run_id)
    assert after.state == "completed"
    epochs = after.config.train.epochs
    assert [row["epoch"] for row in after.history()] == list(range(1, epochs + 1))
    # the Training screen's curves and train time cover the whole run (they showed only the
    # resumed epochs, x axis from 1.5, and counted only the resumed part's time)
    assert app.session.monitor.epoch_x == [float(e) for e in range(1, epochs + 1)]
    assert app.session.monitor.train_seconds == pytest.approx(sum(row["seconds"] for row in after.history()))
    assert done < epochs
    assert len(RunStore(messy_runs).list()) == 6  # continued in place: no new run folder


@pytest.mark.parametrize(
    ("run_id", "fragment"),
    [(RUN_A, "only crashed, stopped or failed"), (RUN_DAMAGED, "damaged")],
)
async def test_ctrl_r_on_a_run_that_cannot_resume_notifies(make_app, messy_runs, run_id, fragment) -> None:
    app = make_app()
    app.resumer = resumer = FakeResumer()
    files = {p: p.read_bytes() for p in sorted(messy_runs.rglob("*")) if p.is_file()}
    async with app.run_test(size=SIZE) as pilot:
        screen = await _runs_screen(app, pilot, run_id)
        await pilot.press("ctrl+r")
        assert await wait_for(lambda: any(fragment in n.message for n in app._notifications))
        assert app.screen is screen and app.session.monitor is None
    assert resumer.calls == []
    assert {p: p.read_bytes() for p in sorted(messy_runs.rglob("*")) if p.is_file()} == files


async def test_ctrl_r_while_training_is_refused(make_app, messy_runs) -> None:
    app = make_app(engine=FakeEngine(step_delay=0.05, steps=50))
    app.resumer = resumer = FakeResumer()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: app.setup_screen.config is not None)
        await pilot.press("f5")
        assert await wait_for(lambda: app.training_active)
        await _runs_screen(app, pilot, RUN_CRASHED)
        await pilot.press("ctrl+r")
        assert await wait_for(lambda: any("in progress" in n.message for n in app._notifications))
        app.action_stop()
        await app.workers.wait_for_complete()
    assert resumer.calls == []


def test_help_lists_the_resume_key() -> None:
    assert any(key == "ctrl+r" and "resume" in what for _, key, what in KEYS)
    assert any(b.key == "ctrl+r" and b.action == "resume_run" for b in RunsScreen.BINDINGS)
