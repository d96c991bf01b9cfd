"""Running a study (grid / repeat / ablation / variants) from the TUI.

:class:`ExperimentRunner` is mixed into the App: a study runs in the App's single training
worker (``group="training"``, exclusive, like F5) through the core's
:func:`~cnn_tui.core.engine.experiments.run_experiment`, with the App's engine as
``train_fn``. Each trial's training events take the usual path (typed messages feeding a
fresh :class:`~cnn_tui.tui.training.RunMonitor`, so the Training screen shows the current
trial live); the trial events become :class:`ExperimentTrialStarted` /
:class:`ExperimentTrialFinished` messages that update a :class:`StudyMonitor`, which the
Experiment screen draws from. Stop (x) cancels the study; skip ends the current trial only.
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
from cnn_tui.tui.messages import ExperimentTrialFinished, ExperimentTrialStarted, trial_message


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
    """1-based index of the trial in progress (0: none)."""
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
        row.state, row.seconds, row.error = "running", None, None
        self._trial_started_at = time.monotonic()
        self._touch()

    def trial_finished(self, ev: Any) -> None:
        row = self.trials[ev.index - 1]
        row.state, row.seconds, row.run_id, row.error = ev.status, ev.seconds, ev.run_id, ev.error
        value = (ev.metrics or {}).get(self.metric)
        row.metric = float(value) if isinstance(value, (int, float)) else None
        self.current = 0
        self._trial_started_at = None
        self._touch()

    def skipping(self) -> TrialRow | None:
        """Mark the trial in progress as being skipped; returns it (None if there is none)."""
        if not self.current:
            return None
        row = self.trials[self.current - 1]
        if row.state == "running":
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
        pending = sum(r.state == "pending" for r in self.trials)
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

    def start_study(self, config: Any, plan: Any, name: str) -> bool:
        """Run ``plan`` on ``config`` as the App's training job; False if one is running."""
        app: Any = self
        if app.training_active:
            app.notify("A run is in progress: stop it (x) before starting an experiment.", severity="warning")
            return False
        monitor = StudyMonitor.from_plan(0, name, plan, config)
        app._new_monitor(name, f"experiment {name}: {plan.kind}, {monitor.total} trials; preparing...")
        monitor.seq = app._seq
        self.study = monitor
        self._skip = threading.Event()
        app._train_worker = self._run_study(config, plan, name, app._seq, app._stop, app._pause, self._skip)
        app.refresh_train_label()
        app.refresh_bindings()
        return True

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _run_study(self, config: Any, plan: Any, name: str, seq: int, stop: threading.Event,
                   pause: threading.Event, skip: threading.Event) -> Any:
        app: Any = self
        from cnn_tui.core.engine.experiments import run_experiment  # may import TF: this thread only

        train_fn = app.engine
        if train_fn is None:
            from cnn_tui.core.engine import train as train_fn

        def on_trial(event: Any) -> None:
            message = trial_message(event, seq)
            if message is not None:
                app.post_message(message)

        return run_experiment(config, plan, runs_dir=app.runs_dir, on_event=app._event_sink(seq), on_trial=on_trial,
                              stop=stop, pause=pause, skip=skip, train_fn=train_fn, name=name)

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
                from cnn_tui.core.engine.experiments import read_progress

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

    def skip_trial(self) -> None:
        """End the trial in progress (stored ``skipped``); the study goes on."""
        app: Any = self
        s = self.study
        if s is None or not s.active or not app.training_active or self._skip is None:
            app.notify("No experiment trial in progress.")
            return
        row = s.skipping()
        if row is None:
            app.notify("No trial in progress yet.")
            return
        self._skip.set()
        app._pause.clear()
        if app.monitor is not None:
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
