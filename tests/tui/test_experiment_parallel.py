"""Parallel studies in the app: the dialog's workers field, the queue showing every running
trial with its progress, and skip of the trial under the cursor.

The executor here is a stand-in with the core executor's protocol (start/finish callbacks,
``WorkerEvent``s, ``skip(trial_id)``) that runs FakeEngine trials in threads, so the test is
about the app, not about processes (those are tested in tests/test_experiments_parallel.py).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque

from fake_engine import SIZE, FakeEngine, wait_for
from textual.widgets import DataTable, TextArea

from cnn_tui.core.engine.executors import TrialOutcome, WorkerEvent
from cnn_tui.core.results.experiment_store import read_progress
from cnn_tui.tui.experiment import ExperimentScreen
from cnn_tui.tui.dialogs.experiment import ExperimentDialog


class ThreadExecutor:
    """Up to ``workers`` FakeEngine trials at once, one thread each."""

    def __init__(self, workers: int, engine: FakeEngine) -> None:
        self.workers, self.engine = workers, engine
        self.stops: dict[str, threading.Event] = {}
        self.skipped: set[str] = set()
        self.most_at_once = 0

    def skip(self, trial_id: str) -> bool:
        if trial_id not in self.stops:
            return False
        self.skipped.add(trial_id)
        self.stops[trial_id].set()
        return True

    def run(self, indices, start, finish, *, stop, pause=None, on_event=None):
        pending, running = deque(indices), {}
        events, done = queue.Queue(), queue.Queue()

        def train(index, spec, trial_stop):
            result = self.engine(spec.config, lambda e: events.put(WorkerEvent(index, spec.trial_id, e)), trial_stop,
                                 runs_dir=spec.runs_dir, name=spec.name, pause=pause, tags=spec.tags)
            done.put((index, spec.trial_id, result))

        while pending or running:
            if stop.is_set():
                pending.clear()
                for s in self.stops.values():
                    s.set()
            while pending and len(running) < self.workers and not stop.is_set():
                index = pending.popleft()
                spec = start(index)
                self.stops[spec.trial_id] = threading.Event()
                running[index] = time.monotonic()
                threading.Thread(target=train, args=(index, spec, self.stops[spec.trial_id]), daemon=True).start()
            self.most_at_once = max(self.most_at_once, len(running))
            while not events.empty():
                on_event(events.get())
            try:
                index, trial_id, r = done.get(timeout=0.02)
            except queue.Empty:
                continue
            while not events.empty():
                on_event(events.get())
            self.stops.pop(trial_id)
            seconds = time.monotonic() - running.pop(index)
            finish(index, TrialOutcome(r.status, r.error, r.metrics, r.run_id, r.run_dir), seconds,
                   trial_id in self.skipped and not stop.is_set())


async def test_workers_field_runs_trials_side_by_side_with_their_progress(make_app):
    engine = FakeEngine(steps=20, step_delay=0.02, warn=None)
    app = make_app(engine)
    made: list[ThreadExecutor] = []
    app.executor_factory = lambda workers: made.append(ThreadExecutor(workers, engine)) or made[-1]
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen
        assert await wait_for(lambda: "digits" in setup.infos and setup.preset_name == "digits-quick")
        setup.field("train.epochs").control.value = "3"
        assert await wait_for(lambda: setup.config is not None and setup.config.train.epochs == 3)
        await pilot.press("ctrl+e")
        assert await wait_for(lambda: isinstance(app.screen, ExperimentDialog) and app.screen.is_mounted)
        dialog = app.screen
        dialog.query_one("#exp-lines", TextArea).text = "model.batch_norm=true,false"
        dialog.query_one("#exp-repeat").value = "2"
        dialog.query_one("#exp-workers").value = "0"
        await pilot.pause()
        assert "workers: '0' is not a whole number >= 1" in str(dialog.query_one("#exp-check").content)
        assert dialog.query_one("#exp-workers").has_class("-invalid")
        await pilot.press("ctrl+s")
        assert app.screen is dialog and app.session.study is None  # refused, nothing started
        dialog.query_one("#exp-workers").value = "2"
        await pilot.pause()
        assert "4 trial(s), 2 at once" in str(dialog.query_one("#exp-check").content)
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: app.session.study is not None)
        study = app.session.study
        await pilot.press("E")
        assert await wait_for(lambda: isinstance(app.screen, ExperimentScreen) and app.screen.is_mounted)
        screen = app.screen
        queue_table = screen.query_one("#exp-queue", DataTable)

        def both_running() -> bool:
            cells = [str(queue_table.get_cell(t, "progress")) for t in ("g01-s42", "g01-s43")]
            return [r.state for r in study.trials[:2]] == ["running"] * 2 and all("epoch" in c for c in cells)

        assert await wait_for(both_running)  # the queue shows every running trial with its progress
        assert "2 running (up to 2 at once)" in str(screen.query_one("#exp-summary").content)
        queue_table.move_cursor(row=1)
        await pilot.press("k")  # skips the trial under the cursor: g01-s43, not the latest started
        assert await wait_for(lambda: not study.active, timeout=30)
        assert [r.state for r in study.trials] == ["completed", "skipped", "completed", "completed"]
        assert [t["state"] for t in read_progress(study.exp_dir)["trials"]] == [r.state for r in study.trials]
        assert made and made[0].workers == 2 and made[0].most_at_once == 2
        assert all(r.progress is None for r in study.trials)
