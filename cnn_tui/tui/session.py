"""The session controller: one training, resume or study at a time, and what the UI knows of it.

:class:`Session` owns the run numbers (``seq``), the stop / pause / skip events handed to the
engine, the :class:`~cnn_tui.tui.training.RunMonitor` of the run shown and the
:class:`~cnn_tui.tui.study.StudyMonitor` of the study, and the end of each job. It imports no
Textual: the front end that owns it (the App) is its :class:`Host` and keeps the glue -- it
runs the job in a thread worker, carries the job's events back to the UI thread as messages
and hands them to :meth:`Session.training_event` / :meth:`Session.trial_event`, draws the
monitors, and reports the worker's end to :meth:`Session.job_ended`.

A job ends through ONE path, :meth:`Session.job_ended` (the worker's result, error or
cancellation): a single run's ``RunFinished`` / ``RunFailed`` event only records the outcome,
which is applied there (a study's per-trial events end that trial's monitor, not the job).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.tui.study import StudyMonitor


class Host(Protocol):
    """What a session needs from its front end (:class:`~cnn_tui.tui.app.CnnTuiApp`)."""

    runs_dir: Path
    engine: Callable[..., Any] | None
    """Stand-in for ``cnn_tui.core.engine.train`` (tests); None: the real one."""
    resumer: Callable[..., Any] | None
    """Stand-in for ``cnn_tui.core.engine.resume`` (tests); None: the real one."""
    executor_factory: Callable[[int], Any] | None
    """``workers -> executor`` for parallel studies (tests); None: worker processes."""

    def run_job(self, job: Callable[[], Any]) -> None:
        """Run ``job`` in a thread; report its end to :meth:`Session.job_ended` (UI thread)."""

    def deliver(self, event: Any, seq: int) -> None:
        """Thread-safe: hand a core event of job ``seq`` back on the UI thread."""

    def run_monitor(self, seq: int, name: str) -> Any:
        """A new RunMonitor (it lives with the Training screen)."""

    def show_run(self, monitor: Any, goto: bool) -> None:
        """Draw ``monitor`` on the Training screen; ``goto``: show that screen."""

    def sync(self, training: bool = True, study: bool = False, reload: bool = False) -> None:
        """Redraw the Training and/or Experiment screen now (``reload``: re-read the table)."""

    def refresh_train_label(self) -> None:
        """The footer's labels and keys may have changed (train / pause / stop / experiment)."""

    def job_done(self) -> None:
        """A job ended (whatever waited for it may go on)."""

    def run_stored(self, status: str, run_dir: Path) -> None:
        """A single run ended completed or stopped, stored in ``run_dir`` (not while quitting)."""

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               timeout: float | None = None) -> None: ...


class Session:
    """The training job of the app: start it, steer it, follow its events, end it once."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.seq = 0
        """Number of the latest job (1, 2, ...): events of an older one are dropped."""
        self.stop_event = threading.Event()
        self.pause_event = threading.Event()
        self.monitor: Any = None
        """The RunMonitor shown (with a study: the current trial's)."""
        self.study: StudyMonitor | None = None
        self.last_run_dir: Path | None = None
        self.quitting = False
        self._running = False
        self._outcome: Any = None
        """The single run's RunFinished / RunFailed event, applied when the job ends."""
        self._skip: Any = None
        self._executor: Any = None

    # -- state ----------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """A job (run, resume or study) is in progress."""
        return self._running

    @property
    def busy(self) -> bool:
        """A job or a study is in progress (the garbage collector then waits longer)."""
        return self._running or (self.study is not None and self.study.active)

    @property
    def paused(self) -> bool:
        return self.pause_event.is_set()

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def refuse_while_active(self, what: str) -> bool:
        """True (and a warning) while a job is in progress; ``what``: what is refused."""
        if self._running:
            self.host.notify(f"A run is in progress: stop it (x) before {what}.", severity="warning")
        return self._running

    # -- starting -------------------------------------------------------------------------
    def train(self, config: Any, name: str) -> bool:
        """Train ``config`` as ``name``; False if a job is running."""
        if self.refuse_while_active("starting another"):
            return False
        seq, stop, pause = self._begin(name, f"starting {name}: loading {config.data.dataset} and building the model...")
        host = self.host

        def job() -> Any:
            engine = host.engine
            if engine is None:
                from cnn_tui.core.engine import train as engine  # imports TF: on this thread only
            return engine(config, self._sink(seq), stop, runs_dir=host.runs_dir, name=name, pause=pause)

        self._launch(job)
        return True

    def resume(self, run: Any) -> bool:
        """Continue a crashed, stopped or failed run (a RunInfo) in place (from epoch 0 when it
        has no checkpoint); False if it cannot be resumed or a job is running."""
        if self.refuse_while_active("resuming another"):
            return False
        from cnn_tui.core.engine.trainer import check_resumable

        try:
            done = check_resumable(run)
        except CnnTuiError as exc:
            self.host.notify(str(exc), severity="error", title="Cannot resume")
            return False
        if done:
            first = f"resuming {run.run_id} after epoch {done}: loading its data and checkpoint..."
        else:
            first = f"restarting {run.run_id} from epoch 0 (no checkpointed epoch): loading its data..."
        seq, stop, pause = self._begin(run.name, first)
        host = self.host

        def job() -> Any:
            resumer = host.resumer
            if resumer is None:
                from cnn_tui.core.engine import resume as resumer  # imports TF: on this thread only
            return resumer(run, self._sink(seq), stop, pause=pause)

        self._launch(job)
        return True

    def start_study(self, config: Any, plan: Any, name: str, workers: int = 1) -> bool:
        """Run ``plan`` on ``config``, ``workers`` trials at once; False if a job is running."""
        if self.refuse_while_active("starting an experiment"):
            return False
        study = StudyMonitor.from_plan(0, name, plan, config)
        seq, stop, pause = self._begin(name, f"experiment {name}: {plan.kind}, {study.total} trials; preparing...")
        study.seq, study.workers = seq, max(1, workers)
        self.study = study
        from cnn_tui.core.engine.experiments import TrialSkip

        skip = self._skip = TrialSkip()
        executor = self._executor = None
        if workers > 1:
            from cnn_tui.core.engine.executors import ProcessExecutor

            executor = self._executor = (self.host.executor_factory or ProcessExecutor)(workers)
        host = self.host

        def job() -> Any:
            from cnn_tui.core.engine.experiments import TrialStarted, run_experiment  # may import TF: this thread

            train_fn = host.engine
            if train_fn is None:
                from cnn_tui.core.engine import train as train_fn
            sink = self._sink(seq)
            followed = [0]  # with workers: the trial the Training screen shows (the latest started)

            def on_trial(event: Any) -> None:
                if isinstance(event, TrialStarted):
                    followed[0] = event.index
                host.deliver(event, seq)

            def on_worker_event(event: Any) -> None:  # a WorkerEvent: a parallel trial's engine event
                host.deliver(event, seq)
                if event.index == followed[0]:
                    sink(event.event)

            return run_experiment(config, plan, runs_dir=host.runs_dir, on_trial=on_trial, stop=stop, pause=pause,
                                  skip=skip, train_fn=train_fn, name=name, executor=executor,
                                  on_event=sink if executor is None else on_worker_event)

        self._launch(job)
        return True

    def _begin(self, name: str, first_line: str) -> tuple[int, threading.Event, threading.Event]:
        """A new job number, fresh stop/pause events and run monitor, shown on the Training screen."""
        self.seq += 1
        self.stop_event, self.pause_event = threading.Event(), threading.Event()
        self._outcome = None
        self.monitor = self.host.run_monitor(self.seq, name)
        self.monitor.add_log("info", first_line)
        self.host.show_run(self.monitor, goto=True)
        self.quitting = False
        return self.seq, self.stop_event, self.pause_event

    def _launch(self, job: Callable[[], Any]) -> None:
        self._running = True
        self.host.run_job(job)
        self.host.refresh_train_label()

    def _sink(self, seq: int) -> Callable[[Any], None]:
        """The engine's ``on_event`` (training thread): each event goes back to the UI thread."""
        deliver = self.host.deliver
        return lambda event: deliver(event, seq)

    # -- events (UI thread) ---------------------------------------------------------------
    def training_event(self, event: Any, seq: int) -> None:
        """A core engine event of job ``seq``: update the run monitor shown."""
        m = self.monitor
        if m is None or m.seq != seq:
            return
        from cnn_tui.core.engine import events as ev  # loaded already: ``event`` is one of them

        if isinstance(event, ev.BatchEnd):
            m.batch(event)
        elif isinstance(event, ev.EpochEnd):
            m.epoch_end(event)
        elif isinstance(event, ev.Log):
            m.add_log(event.level, event.message)
        elif isinstance(event, ev.Evaluated):
            m.evaluated(event)
        elif isinstance(event, ev.RunStarted):
            m.started(event)
            if self.paused:
                m.set_paused(True)
            self.host.sync()
        elif isinstance(event, (ev.RunFinished, ev.RunFailed)):
            if self._study(seq) is None:
                self._outcome = event  # a single run ends with its job (job_ended)
            else:
                self._trial_run_ended(m, event, finished=isinstance(event, ev.RunFinished))

    def _trial_run_ended(self, m: Any, event: Any, finished: bool) -> None:
        """A study's trial run ended: its monitor shows it (the study goes on)."""
        if event.run_dir:
            self.last_run_dir = Path(event.run_dir)
        if finished:
            m.finished(event.status, event.run_dir, event.metrics)
        else:
            m.failed(event.error)
            self.host.notify(event.error, severity="error", title="Run failed")
        self.host.sync()

    def trial_event(self, event: Any, seq: int) -> None:
        """A study's TrialStarted, TrialFinished or (parallel) WorkerEvent."""
        if (s := self._study(seq)) is None:
            return
        from cnn_tui.core.engine.executors import WorkerEvent
        from cnn_tui.core.engine.experiments import TrialStarted

        if isinstance(event, WorkerEvent):
            s.trial_progress(event.index, event.event)
        elif isinstance(event, TrialStarted):
            s.trial_started(event)
            # A fresh monitor per trial: the Training screen shows this trial's curves from epoch 1.
            self.monitor = self.host.run_monitor(seq, f"{s.name} {event.trial.trial_id}")
            self.monitor.add_log("info", f"trial {event.index}/{event.total} [{event.trial.trial_id}] "
                                         f"{event.trial.group}, seed {event.trial.seed}: "
                                         "loading data and building the model...")
            if self.paused:
                self.monitor.set_paused(True)
            self.host.show_run(self.monitor, goto=False)
            self.host.sync(training=False, study=True)
        else:  # TrialFinished
            s.trial_finished(event)
            self.host.sync(training=False, study=True, reload=True)

    def _study(self, seq: int) -> StudyMonitor | None:
        s = self.study
        return s if s is not None and s.seq == seq else None

    # -- the end of a job (UI thread) ------------------------------------------------------
    def job_ended(self, result: Any = None, error: BaseException | None = None, cancelled: bool = False) -> None:
        """The job's worker ended: with ``result``, raising ``error``, or ``cancelled``."""
        if not self._running:
            return
        self._running = False
        s = self.study
        if s is not None and s.active and s.seq == self.seq and self._study_ended(s, result, error, cancelled):
            return
        if error is not None or cancelled:
            self._job_failed(error)
        else:
            self._run_ended(result)

    def _run_ended(self, result: Any) -> None:
        outcome = result if getattr(result, "status", None) else self._outcome
        status = getattr(outcome, "status", None) or ("failed" if getattr(outcome, "error", None) else "completed")
        run_dir = getattr(outcome, "run_dir", None)
        if run_dir is not None:
            self.last_run_dir = Path(run_dir)
        m = self.monitor
        if status == "failed":
            error = getattr(outcome, "error", None) or "the run failed"
            m.failed(error)
            self.host.notify(error, severity="error", title="Run failed")
        else:
            m.finished(status, run_dir, getattr(outcome, "metrics", None))
        self._idle()
        if status in ("completed", "stopped") and run_dir is not None and not self.quitting:
            self.host.run_stored(status, Path(run_dir))

    def _job_failed(self, error: BaseException | None) -> None:
        if isinstance(error, CnnTuiError):
            text = str(error)
        elif error is None:
            text = "the training worker was cancelled"
        else:
            text = f"training crashed: {type(error).__name__}: {error}"
        if self.monitor is not None and self.monitor.active:
            self.monitor.failed(text)
        if not self.quitting:
            self.host.notify(text, severity="error", title="Cannot train")
        self._idle()

    def _study_ended(self, s: StudyMonitor, result: Any, error: BaseException | None, cancelled: bool) -> bool:
        """End the study; False leaves a crash to be reported as for a single run."""
        m = self.monitor
        if error is None and not cancelled:
            s.exp_dir = Path(result)
            state = "stopped"
            try:
                from cnn_tui.core.results.experiment_store import read_progress

                state = str(read_progress(s.exp_dir).get("state") or state)
            except Exception:  # noqa: BLE001 - the folder's state is a nicety here
                pass
            s.ended(state)
            if m is not None and m.active:  # its last trial never got to run
                m.finished("stopped")
            done = sum(r.state == "completed" for r in s.trials)
            self._idle()
            self.host.sync(training=False, study=True, reload=True)
            if not self.quitting:
                failed = next((r for r in s.trials if r.state == "failed" and r.error), None)
                why = f"; {failed.trial_id}: {' '.join(failed.error.split())}" if failed else ""
                self.host.notify(f"Experiment {state}: {done}/{s.total} trials completed{why} (E shows the table).",
                                 title="Experiment", severity="information" if state == "completed" else "warning")
            return True
        started = any(r.state != "pending" for r in s.trials)
        s.ended("failed", str(error) if error is not None else "cancelled")
        self.host.sync(training=False, study=True)
        if not isinstance(error, CnnTuiError):
            return False
        text = " ".join(str(error).split())  # bad input: the study's preflight refuses it before writing
        if m is not None and m.active:
            m.failed(text)
        self._idle()
        if not self.quitting:
            self.host.notify(text, severity="error", title="Experiment failed" if started else "Experiment not started")
        return True

    def _idle(self) -> None:
        self.pause_event.clear()
        self.host.job_done()

    # -- steering (UI thread) -------------------------------------------------------------
    def stop(self, why: str = "stop requested: ending the current batch, then evaluating") -> bool:
        """Stop the job: the engine ends the current batch, evaluates and keeps the run as stopped."""
        if not self._running:
            self.host.notify("No run in progress.")
            return False
        self.stop_event.set()
        self.pause_event.clear()
        if self.monitor is not None:
            self.monitor.status = "stopping"
            self.monitor.add_log("warning", why)
        self.host.sync()
        self.host.refresh_train_label()
        return True

    def toggle_pause(self) -> None:
        """Pause or resume the run (the engine waits while the pause event is set)."""
        if not self._running or self.stopping:
            return
        paused = not self.paused
        if paused:
            self.pause_event.set()
        else:
            self.pause_event.clear()
        if self.monitor is not None:
            # The status line says it at once; the log gets the engine's own lines ("paused at
            # epoch E, step S" when the loop stops, "resumed"), not a second copy from here.
            self.monitor.set_paused(paused)
        self.host.sync()
        self.host.refresh_train_label()

    def begin_quit(self) -> bool:
        """Quitting: a job in progress is stopped to be stored first. True: wait for it to end."""
        if not self._running or self.quitting:
            return False
        self.quitting = True
        self.stop("quitting: stopping the run and storing it...")
        return True

    def shutdown(self) -> None:
        """The app is gone: a thread cannot be killed, so make sure the job ends."""
        self.stop_event.set()
        self.pause_event.clear()

    def skip_trial(self, trial_id: str | None = None) -> None:
        """End the trial ``trial_id`` (default: the one in progress, with workers the latest
        started) after its batch, stored ``skipped``; the study goes on."""
        s = self.study
        if s is None or not s.active or not self._running or self._skip is None:
            self.host.notify("No experiment trial in progress.")
            return
        if self._executor is not None and trial_id is None and s.current:
            trial_id = s.trials[s.current - 1].trial_id
        row = s.skipping(trial_id)
        if row is None:
            self.host.notify("No trial in progress yet." if trial_id is None else f"Trial {trial_id} is not running.")
            return
        if self._executor is not None:
            self._executor.skip(row.trial_id)
        else:
            self._skip.request(row.trial_id)  # this trial only, even if it ends meanwhile
        self.pause_event.clear()
        if self.monitor is not None and s.trials.index(row) + 1 == s.current:
            self.monitor.status = "stopping"
            self.monitor.add_log("warning", f"skipping trial {row.trial_id}: ending it after the current batch")
        self.host.sync(training=False, study=True)

    def cancel_study(self) -> None:
        """Stop the study: the trial in progress ends (stored ``stopped``), no more start."""
        s = self.study
        if s is None or not s.active or not self._running:
            self.host.notify("No experiment in progress.")
            return
        s.stop_requested()
        self.stop()
        self.host.sync(training=False, study=True)
