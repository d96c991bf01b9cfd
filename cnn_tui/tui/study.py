"""What the UI knows about a study (grid / repeat / ablation / variants): its queue of trials.

:class:`StudyMonitor` is owned by the :class:`~cnn_tui.tui.session.Session`, which feeds it the
core's trial events; the Experiment screen draws from it. No Textual here.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
        from cnn_tui.core.engine import events as ev  # loaded already: ``event`` is one of them

        if isinstance(event, ev.RunStarted):
            text = f"epoch {event.initial_epoch + 1}/{event.epochs}"
        elif isinstance(event, ev.BatchEnd):
            text = f"epoch {event.epoch} {100 * event.step // max(event.steps, 1)}%"
        elif isinstance(event, ev.EpochEnd):
            text = f"epoch {event.epoch}/{event.epochs} done"
        elif isinstance(event, ev.Evaluated):
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

    def stop_requested(self) -> None:
        """The study is asked to stop (its trial in progress ends, no more start)."""
        self.state = "stopping"
        self._touch()

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
