"""Running a study (grid / repeat / ablation / variants) from the TUI.

:class:`ExperimentRunner` is mixed into the App: a study runs in the App's single training
worker (``group="training"``, exclusive, like F5) through the core's
:func:`~cnn_tui.core.engine.experiments.run_experiment`, with the App's engine as
``train_fn``. Each trial's training events take the usual path (typed messages feeding a
fresh :class:`~cnn_tui.tui.training.RunMonitor`, so the Training screen shows the current
trial live); the trial events become :class:`ExperimentTrialStarted` /
:class:`ExperimentTrialFinished` messages that update a :class:`StudyMonitor`, which the
Experiment screen draws from. Stop (x) cancels the study; skip ends the current trial only.

With ``workers`` > 1 the trials run in worker processes
(:class:`~cnn_tui.core.engine.executors.ProcessExecutor`, or the App's ``executor_factory``
in tests): their events arrive as :class:`ExperimentTrialProgress` messages that keep each
queue row's progress, and the latest trial started also feeds the Training screen.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import work
from textual.worker import Worker, WorkerState

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.tui.messages import (
    ExperimentTrialFinished,
    ExperimentTrialProgress,
    ExperimentTrialStarted,
    trial_message,
)


@dataclass
class TrialRow:
    """One line of the queue."""

    trial_id: str
    group: str
    seed: int
    state: str = "pending"
    """pending, running, skipping, completed, stopped, skipped, failed."""
    seconds: float | None = None
    metric: float | None = None
    """The study's primary metric, once the trial has it."""
    run_id: str | None = None
    error: str | None = None
    progress: str | None = None
    """Where a running trial is ("epoch 2/5 40%"), from its events."""


@dataclass
class StudyMonitor:
    """Everything the UI knows about the running (or last) study."""

    seq: int
    name: str
    kind: str
    metric: str
    trials: list[TrialRow]
    state: str = "starting"
    """starting, running, stopping, completed, stopped, failed."""
    exp_dir: Path | None = None
    current: int = 0
    """1-based index of the trial in progress (0: none); with workers, the latest started."""
    workers: int = 1
    error: str | None = None
    version: int = 0
    _trial_started_at: float | None = None

    @classmethod
    def from_plan(cls, seq: int, name: str, plan: Any, config: Any) -> StudyMonitor:
        from cnn_tui.core.engine.plan import expand

        rows = [TrialRow(t.trial_id, t.group, t.seed) for t in expand(plan, config)]
        return cls(seq, name, plan.kind, plan.metric, rows)

    @property
    def active(self) -> bool:
        return self.state in ("starting", "running", "stopping")

    @property
    def total(self) -> int:
        return len(self.trials)

    @property
    def done(self) -> int:
        return sum(r.state not in ("pending", "running", "skipping") for r in self.trials)

    def _touch(self) -> None:
        self.version += 1

    def trial_started(self, ev: Any) -> None:
        self.exp_dir = Path(ev.experiment_dir)
        self.current = ev.index
        if self.state == "starting":
            self.state = "running"
        row = self.trials[ev.index - 1]
        row.state, row.seconds, row.error, row.progress = "running", None, None, None
        self._trial_started_at = time.monotonic()
        self._touch()

    def trial_finished(self, ev: Any) -> None:
        row = self.trials[ev.index - 1]
        row.state, row.seconds, row.run_id, row.error = ev.status, ev.seconds, ev.run_id, ev.error
        value = (ev.metrics or {}).get(self.metric)
        row.metric = float(value) if isinstance(value, (int, float)) else None
        row.progress = None
        running = [i for i, r in enumerate(self.trials, start=1) if r.state in ("running", "skipping")]
        if self.current == ev.index or not running:  # with workers, another may still run
            self.current = running[-1] if running else 0
            self._trial_started_at = None if not running else self._trial_started_at
        self._touch()

    def trial_progress(self, index: int, event: Any) -> None:
        """A running trial's engine event (parallel studies): its row's progress text."""
        row = self.trials[index - 1]
        if row.state not in ("running", "skipping"):
            return
        name = type(event).__name__
        if name == "RunStarted":
            text = f"epoch {event.initial_epoch + 1}/{event.epochs}"
        elif name == "BatchEnd":
            text = f"epoch {event.epoch} {100 * event.step // max(event.steps, 1)}%"
        elif name == "EpochEnd":
            text = f"epoch {event.epoch}/{event.epochs} done"
        elif name == "Evaluated":
            text = "evaluated"
        else:
            return
        if text != row.progress:
            row.progress = text
            self._touch()

    def skipping(self, trial_id: str | None = None) -> TrialRow | None:
        """Mark the trial ``trial_id`` (default: the one in progress) as being skipped; returns
        it (None if it is not running)."""
        if trial_id:
            row = next((r for r in self.trials if r.trial_id == trial_id and r.state == "running"), None)
        else:
            row = self.trials[self.current - 1] if self.current else None
        if row is not None and row.state == "running":
            row.state = "skipping"
            self._touch()
        return row

    def ended(self, state: str, error: str | None = None) -> None:
        self.state, self.error, self.current = state, error, 0
        for row in self.trials:
            if row.state in ("running", "skipping"):
                row.state = "stopped"
        self._touch()

    def eta_seconds(self, current_trial_eta: float | None = None) -> float | None:
        """Seconds left for the study: the trial in progress (its own ETA if known, else the
        mean trial time minus its elapsed time) plus the mean trial time per pending trial."""
        durations = [r.seconds for r in self.trials if r.state == "completed" and r.seconds]
        pending = sum(r.state == "pending" for r in self.trials) / max(1, self.workers)
        elapsed = time.monotonic() - self._trial_started_at if self._trial_started_at else 0.0
        mean = statistics.fmean(durations) if durations else None
        if self.current and current_trial_eta is not None:
            left = current_trial_eta
            mean = mean if mean is not None else elapsed + current_trial_eta
        elif self.current:
            if mean is None:
                return None
            left = max(0.0, mean - elapsed)
        else:
            left = 0.0
        if mean is None:
            return None if pending else left
        return left + mean * pending


class ExperimentRunner:
    """App mixin: start a study in the training worker and turn its trial events into state."""

    study: StudyMonitor | None = None
    _skip: threading.Event | None = None
    _experiment_mode = False
    _executor: Any = None
    executor_factory: Any = None
    """``workers -> executor`` for parallel studies (tests); None: worker processes."""

    def start_study(self, config: Any, plan: Any, name: str, workers: int = 1) -> bool:
        """Run ``plan`` on ``config`` as the App's training job, ``workers`` trials at once;
        False if one is running."""
        app: Any = self
        if app.training_active:
            app.notify("A run is in progress: stop it (x) before starting an experiment.", severity="warning")
            return False
        monitor = StudyMonitor.from_plan(0, name, plan, config)
        app._new_monitor(name, f"experiment {name}: {plan.kind}, {monitor.total} trials; preparing...")
        monitor.seq = app._seq
        monitor.workers = max(1, workers)
        self.study = monitor
        from cnn_tui.core.engine.experiments import TrialSkip

        self._skip = TrialSkip()
        self._executor = None
        if workers > 1:
            from cnn_tui.core.engine.executors import ProcessExecutor

            self._executor = (self.executor_factory or ProcessExecutor)(workers)
        app._train_worker = self._run_study(config, plan, name, app._seq, app._stop, app._pause, self._skip,
                                            self._executor)
        app.refresh_train_label()
        app.refresh_bindings()
        return True

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _run_study(self, config: Any, plan: Any, name: str, seq: int, stop: threading.Event,
                   pause: threading.Event, skip: threading.Event, executor: Any = None) -> Any:
        app: Any = self
        from cnn_tui.core.engine.experiments import run_experiment  # may import TF: this thread only

        train_fn = app.engine
        if train_fn is None:
            from cnn_tui.core.engine import train as train_fn

        sink = app._event_sink(seq)
        followed = [0]  # with workers: the trial the Training screen shows (the latest started)

        def on_trial(event: Any) -> None:
            if type(event).__name__ == "TrialStarted":
                followed[0] = event.index
            message = trial_message(event, seq)
            if message is not None:
                app.post_message(message)

        def on_worker_event(event: Any) -> None:
            app.post_message(ExperimentTrialProgress(event, seq))
            if event.index == followed[0]:
                sink(event.event)

        return run_experiment(config, plan, runs_dir=app.runs_dir, on_trial=on_trial, stop=stop, pause=pause,
                              skip=skip, train_fn=train_fn, name=name, executor=executor,
                              on_event=sink if executor is None else on_worker_event)

    def _current_study(self, seq: int) -> StudyMonitor | None:
        s = self.study
        return s if s is not None and s.seq == seq else None

    def on_experiment_trial_started(self, message: ExperimentTrialStarted) -> None:
        app: Any = self
        if (s := self._current_study(message.seq)) is None:
            return
        s.trial_started(message.event)
        ev = message.event
        from cnn_tui.tui.training import RunMonitor

        # A fresh monitor per trial: the Training screen shows this trial's curves from epoch 1.
        app.monitor = RunMonitor(message.seq, preset=f"{s.name} {ev.trial.trial_id}")
        app.monitor.add_log("info", f"trial {ev.index}/{ev.total} [{ev.trial.trial_id}] {ev.trial.group}, "
                                    f"seed {ev.trial.seed}: loading data and building the model...")
        if app._pause.is_set():
            app.monitor.set_paused(True)
        screen = app.training_screen
        if screen is not None:
            screen.attach(app.monitor)
        self._sync_experiment()

    def on_experiment_trial_progress(self, message: ExperimentTrialProgress) -> None:
        if (s := self._current_study(message.seq)) is None:
            return
        s.trial_progress(message.event.index, message.event.event)

    def on_experiment_trial_finished(self, message: ExperimentTrialFinished) -> None:
        if (s := self._current_study(message.seq)) is None:
            return
        s.trial_finished(message.event)
        self._sync_experiment(reload=True)

    def study_worker_changed(self, event: Worker.StateChanged) -> bool:
        """Called by the App for its training worker; True when it was a study's and is handled."""
        app: Any = self
        s = self.study
        if s is None or not s.active or s.seq != app._seq:
            return False
        if event.state == WorkerState.SUCCESS:
            exp_dir = Path(event.worker.result)
            s.exp_dir = exp_dir
            state = "stopped"
            try:
                from cnn_tui.core.results.experiment_store import read_progress

                state = str(read_progress(exp_dir).get("state") or state)
            except Exception:  # noqa: BLE001 - the folder's state is a nicety here
                pass
            s.ended(state)
            m = app.monitor
            if m is not None and m.active:
                m.finished("stopped")
            done = sum(r.state == "completed" for r in s.trials)
            app._after_run()
            self._sync_experiment(reload=True)
            if not app._quitting:
                failed = next((r for r in s.trials if r.state == "failed" and r.error), None)
                why = f"; {failed.trial_id}: {' '.join(failed.error.split())}" if failed else ""
                app.notify(f"Experiment {state}: {done}/{s.total} trials completed{why} (E shows the table).",
                           title="Experiment", severity="information" if state == "completed" else "warning")
            return True
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            error = event.worker.error
            started = any(r.state != "pending" for r in s.trials)
            s.ended("failed", str(error) if error is not None else "cancelled")
            self._sync_experiment()
            if isinstance(error, CnnTuiError):  # bad input (the study's preflight refuses it before writing)
                text = " ".join(str(error).split())
                if app.monitor is not None and app.monitor.active:
                    app.monitor.failed(text)
                app._after_run()
                if not app._quitting:
                    title = "Experiment failed" if started else "Experiment not started"
                    app.notify(text, severity="error", title=title)
                return True
        return False  # the App reports the error as for a single run

    def skip_trial(self, trial_id: str | None = None) -> None:
        """End the trial ``trial_id`` (default: the one in progress, with workers the latest
        started) after its batch, stored ``skipped``; the study goes on."""
        app: Any = self
        s = self.study
        if s is None or not s.active or not app.training_active or self._skip is None:
            app.notify("No experiment trial in progress.")
            return
        if self._executor is not None and trial_id is None and s.current:
            trial_id = s.trials[s.current - 1].trial_id
        row = s.skipping(trial_id)
        if row is None:
            app.notify("No trial in progress yet." if trial_id is None else f"Trial {trial_id} is not running.")
            return
        if self._executor is not None:
            self._executor.skip(row.trial_id)
        else:
            self._skip.request(row.trial_id)  # this trial only, even if it ends meanwhile
        app._pause.clear()
        if app.monitor is not None and s.trials.index(row) + 1 == s.current:
            app.monitor.status = "stopping"
            app.monitor.add_log("warning", f"skipping trial {row.trial_id}: ending it after the current batch")
        self._sync_experiment()

    def cancel_study(self) -> None:
        """Stop the study: the trial in progress ends (stored ``stopped``), no more start."""
        app: Any = self
        s = self.study
        if s is None or not s.active or not app.training_active:
            app.notify("No experiment in progress.")
            return
        s.state = "stopping"
        s._touch()
        app.action_stop()
        self._sync_experiment()

    def action_experiment_dialog(self) -> None:
        """The Setup screen's experiment dialog (command palette)."""
        app: Any = self
        app._goto("setup")
        app.call_after_refresh(app.setup_screen.action_experiment_dialog)

    def action_experiment(self) -> None:
        """Show the Experiment screen (the queue and the table of the running or last study)."""
        app: Any = self
        if self.study is None:
            app.notify("No experiment yet: press ctrl+e on the Setup screen to define one.")
            return
        if not self._experiment_mode:
            from cnn_tui.tui.experiment import ExperimentScreen

            app.add_mode("experiment", ExperimentScreen)
            self._experiment_mode = True
        app._goto("experiment")

    def _sync_experiment(self, reload: bool = False) -> None:
        app: Any = self
        try:
            stack = app.get_screen_stack("experiment")
        except KeyError:
            return
        if stack:
            stack[0].sync(force=True, reload=reload)
