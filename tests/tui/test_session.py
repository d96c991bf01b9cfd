"""The session controller without Textual: a host that runs each job inline and hands the
events back by hand. A run ends through one path -- the job's end -- whatever events came
before it; events of an older job are dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from fake_engine import FakeEngine

from cnn_tui.core.engine.events import RunFinished
from cnn_tui.core.presets import load_preset
from cnn_tui.tui.session import Session
from cnn_tui.tui.training import RunMonitor


class InlineHost:
    """A Host that keeps what the session asks of it; the test runs the job and feeds its events."""

    def __init__(self, runs_dir: Path, engine: Any) -> None:
        self.runs_dir, self.engine, self.resumer, self.executor_factory = runs_dir, engine, None, None
        self.jobs: list[Any] = []
        self.events: list[tuple[Any, int]] = []
        self.notes: list[tuple[str, str]] = []
        self.stored: list[tuple[str, Path]] = []
        self.shown: list[tuple[Any, bool]] = []
        self.done = 0

    def run_job(self, job: Any) -> None:
        self.jobs.append(job)

    def deliver(self, event: Any, seq: int) -> None:
        self.events.append((event, seq))

    def run_monitor(self, seq: int, name: str) -> RunMonitor:
        return RunMonitor(seq, preset=name)

    def show_run(self, monitor: Any, goto: bool) -> None:
        self.shown.append((monitor, goto))

    def sync(self, training: bool = True, study: bool = False, reload: bool = False) -> None:
        pass

    def refresh_train_label(self) -> None:
        pass

    def job_done(self) -> None:
        self.done += 1

    def run_stored(self, status: str, run_dir: Path) -> None:
        self.stored.append((status, run_dir))

    def notify(self, message: str, *, title: str = "", severity: str = "information", timeout: Any = None) -> None:
        self.notes.append((title, message))


def _run_job(session: Session, host: InlineHost) -> Any:
    """Run the last job inline, hand its events to the session; returns the job's result."""
    result = host.jobs[-1]()
    for event, seq in host.events:
        session.training_event(event, seq)
    host.events.clear()
    return result


def test_the_session_imports_no_textual():
    code = ("import sys, cnn_tui.tui.session, cnn_tui.tui.study; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'plotext', 'tensorflow')); "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_run_ends_once_when_its_job_ends(tmp_path):
    host = InlineHost(tmp_path / "runs", FakeEngine(steps=2, step_delay=0, warn=None))
    session = Session(host)
    assert session.train(load_preset("digits-quick"), "quick") and session.active
    monitor = session.monitor
    assert host.shown == [(monitor, True)] and monitor.seq == session.seq == 1
    result = _run_job(session, host)
    # RunFinished was handled: the outcome waits for the job's end, nothing is ended twice
    assert monitor.active and session.last_run_dir is None and host.stored == [] and host.done == 0
    session.job_ended(result)
    assert monitor.status == "completed" and monitor.metrics == result.metrics
    assert session.last_run_dir == Path(result.run_dir) and not session.active
    assert host.stored == [("completed", Path(result.run_dir))] and host.done == 1
    assert [line for _, line in monitor.log if line.startswith("run completed")] == [f"run completed: {result.run_id}"]
    session.job_ended(result)  # a second report of the same end changes nothing
    assert host.stored == [("completed", Path(result.run_dir))] and host.done == 1


def test_a_failed_run_is_reported_once(tmp_path):
    host = InlineHost(tmp_path / "runs", FakeEngine(steps=2, step_delay=0, warn=None, fail_with="out of memory"))
    session = Session(host)
    session.train(load_preset("digits-quick"), "quick")
    session.job_ended(_run_job(session, host))
    assert session.monitor.status == "failed" and session.monitor.error == "out of memory"
    assert host.notes == [("Run failed", "out of memory")] and host.stored == []


def test_the_events_outcome_ends_a_run_whose_job_returns_nothing(tmp_path):
    host = InlineHost(tmp_path / "runs", FakeEngine(steps=2, step_delay=0, warn=None))
    session = Session(host)
    session.train(load_preset("digits-quick"), "quick")
    result = _run_job(session, host)
    session.job_ended(None)  # an engine stand-in that returns nothing: RunFinished says how it ended
    assert session.monitor.status == "completed" and host.stored == [("completed", Path(result.run_dir))]


def test_a_crash_and_an_older_jobs_events(tmp_path):
    host = InlineHost(tmp_path / "runs", FakeEngine(steps=2, step_delay=0, warn=None))
    session = Session(host)
    session.train(load_preset("digits-quick"), "quick")
    session.job_ended(error=RuntimeError("boom"))
    assert session.monitor.status == "failed" and host.notes == [("Cannot train", "training crashed: RuntimeError: boom")]
    session.train(load_preset("digits-quick"), "again")
    late = RunFinished("old", tmp_path, "completed", {})
    session.training_event(late, 1)  # the first job's: dropped
    session.job_ended(None)
    assert session.monitor.seq == 2 and session.last_run_dir is None and host.stored == []


def test_stop_and_pause_reach_the_job_and_quitting_waits_for_it(tmp_path):
    host = InlineHost(tmp_path / "runs", FakeEngine(steps=2, step_delay=0, warn=None))
    session = Session(host)
    assert not session.stop() and host.notes == [("", "No run in progress.")]
    session.train(load_preset("digits-quick"), "quick")
    session.toggle_pause()
    assert session.paused and session.pause_event.is_set()  # the event the engine waits on
    assert session.begin_quit() and session.stopping and not session.paused and session.quitting
    assert not session.begin_quit()  # q again: quit at once
    result = _run_job(session, host)
    session.job_ended(result)
    assert result.status == "stopped" and session.monitor.status == "stopped"
    assert host.stored == []  # quitting: no Results screen opened
