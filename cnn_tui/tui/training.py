"""The Training screen and the run monitor it draws from.

The session (:mod:`cnn_tui.tui.session`) owns one :class:`RunMonitor` per run; every training
message updates the monitor (plain lists, cheap), and the screen pulls from it on a timer
(2 Hz) while it is the screen shown. Every UI-thread millisecond is taken from training
on a small machine, so the pull does the least the eye needs: labels and bars change only
when their text or value does (without a layout pass), the per-epoch plots are rebuilt
only when an epoch ends, and the current-epoch plot at most every
:data:`BATCH_PLOT_SECONDS`. A hidden Training screen does nothing; it catches up when it
is shown again. Nothing here touches TensorFlow.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Label, ProgressBar, RichLog, Static

from cnn_tui.core.formatting import fmt_duration, fmt_float
from cnn_tui.tui.widgets.footer import Footer
from cnn_tui.tui.widgets.header import Header
from cnn_tui.tui.widgets.live_plot import LivePlot
from cnn_tui.tui.widgets.run_log import RunLog

REDRAW_SECONDS = 0.5
"""The screen syncs from the monitor at most this often (labels, bars, log): each sync
that changes something costs a compositor update on the UI thread, and at 4 Hz those took
~1/4 of the UI thread's CPU while training (measured here), which the training thread
waits for (the GIL)."""
BATCH_PLOT_SECONDS = 2.0
"""The current-epoch plot is rebuilt at most this often, and at each new epoch: a plotext
build + ANSI parse + paint costs ~25 ms of the UI thread (measured here), time the
training thread waits for the GIL; at 1 Hz that was ~2.5 % of the training throughput."""


_num = functools.partial(fmt_float, missing="-", nan="-")
"""The Training screen's numbers: 4 decimals, ``-`` for a missing or NaN value."""


@dataclass
class RunMonitor:
    """Everything the UI knows about one run, fed by the training messages."""

    seq: int
    preset: str = ""
    status: str = "starting"
    """starting, running, paused, stopping, completed, stopped, failed."""
    run_id: str = ""
    run_dir: Path | None = None
    name: str = ""
    device: str = ""
    params: int = 0
    epochs: int = 0
    steps: int = 0
    sizes: tuple[int, int, int] = (0, 0, 0)
    epoch: int = 0
    """The epoch in progress (1-based)."""
    step: int = 0
    epochs_done: int = 0
    lr: float | None = None
    batch_steps: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    batch_acc: list[float] = field(default_factory=list)
    epoch_x: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    log: list[tuple[str, str]] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    error: str | None = None
    version: int = 0
    """Bumped on every change; the screen redraws when it moved."""
    _started_at: float | None = None
    _paused_since: float | None = None
    _paused_total: float = 0.0
    _initial_steps: int = 0

    @property
    def active(self) -> bool:
        return self.status in ("starting", "running", "paused", "stopping")

    def _touch(self) -> None:
        self.version += 1

    def add_log(self, level: str, message: str) -> None:
        self.log.append((level, message))
        self._touch()

    # -- events ---------------------------------------------------------------------------
    def started(self, ev: Any) -> None:
        self.run_id, self.run_dir, self.name = ev.run_id, Path(ev.run_dir), ev.name
        self.device, self.params = ev.device, ev.params
        self.epochs, self.steps = ev.epochs, ev.steps_per_epoch
        self.sizes = (ev.train_size, ev.val_size, ev.test_size)
        self.epochs_done = getattr(ev, "initial_epoch", 0) or 0
        self._initial_steps = self.epochs_done * self.steps
        # a resumed run: draw (and count the time of) the epochs trained before
        self.epoch_x, self.loss, self.accuracy, self.val_loss, self.val_accuracy, self.lrs = [], [], [], [], [], []
        self.train_seconds = 0.0
        for row in getattr(ev, "history", ()) or ():
            self._add_epoch_point(row.get("epoch"), row, row.get("lr"))
            self.train_seconds += float(row.get("seconds") or 0.0)
        if self.status == "starting":
            self.status = "running"
        self._started_at = time.monotonic()
        self.add_log("info", f"run {self.run_id} on {self.device}: {self.params:,} parameters, "
                     f"{self.epochs} epochs x {self.steps} steps")

    def batch(self, ev: Any) -> None:
        if ev.epoch != self.epoch:
            self.epoch = ev.epoch
            self.batch_steps, self.batch_loss, self.batch_acc = [], [], []
        self.step, self.steps = ev.step, ev.steps or self.steps
        logs = ev.logs or {}
        self.batch_steps.append(float(ev.step))
        self.batch_loss.append(float(logs.get("loss", float("nan"))))
        self.batch_acc.append(float(logs.get("accuracy", float("nan"))))
        self._touch()

    def epoch_end(self, ev: Any) -> None:
        logs = ev.logs or {}
        self.epoch, self.epochs = ev.epoch, ev.epochs or self.epochs
        self.epochs_done = ev.epoch
        self.step = self.steps
        self.lr = ev.lr
        self.train_seconds += float(ev.seconds or 0.0)
        self._add_epoch_point(ev.epoch, logs, ev.lr)
        self.add_log(
            "info",
            f"epoch {ev.epoch}/{self.epochs}  loss {_num(logs.get('loss'))}  "
            f"acc {_num(logs.get('accuracy'))}  val_loss {_num(logs.get('val_loss'))}  "
            f"val_acc {_num(logs.get('val_accuracy'))}  lr {ev.lr:.3g}  {float(ev.seconds or 0):.1f}s",
        )

    def _add_epoch_point(self, epoch: Any, logs: dict[str, Any], lr: Any) -> None:
        def num(value: Any) -> float:
            try:
                return float(value)
            except (TypeError, ValueError):
                return float("nan")

        self.epoch_x.append(num(epoch))
        for series, key in ((self.loss, "loss"), (self.accuracy, "accuracy"), (self.val_loss, "val_loss"),
                            (self.val_accuracy, "val_accuracy")):
            series.append(num(logs.get(key)))
        self.lrs.append(num(lr))

    def evaluated(self, ev: Any) -> None:
        self.metrics = dict(ev.metrics or {})
        m = self.metrics
        self.add_log(
            "info",
            f"test: loss {_num(m.get('test_loss'))}  accuracy {_num(m.get('test_accuracy'))}  "
            f"F1 weighted {_num(m.get('f1_weighted'))}",
        )

    def finished(self, status: str, run_dir: Path | None = None, metrics: dict | None = None) -> None:
        self.status = status
        if run_dir is not None:
            self.run_dir = Path(run_dir)
        if metrics:
            self.metrics = dict(metrics)
        self._paused_since = None
        self.add_log("info", f"run {status}: {self.run_id}" if self.run_id else f"run {status}")

    def failed(self, error: str) -> None:
        self.status = "failed"
        self.error = error
        self._paused_since = None
        if not self.log or self.log[-1][1] != error:
            self.add_log("error", error)
        else:
            self._touch()

    def set_paused(self, paused: bool) -> None:
        now = time.monotonic()
        if paused and self._paused_since is None:
            self._paused_since = now
            if self.status == "running":
                self.status = "paused"
        elif not paused and self._paused_since is not None:
            self._paused_total += now - self._paused_since
            self._paused_since = None
            if self.status == "paused":
                self.status = "running"
        self._touch()

    # -- derived --------------------------------------------------------------------------
    def eta_seconds(self) -> float | None:
        """Seconds left, from the mean time per step so far (pauses excluded)."""
        if self.status not in ("running", "paused") or not self._started_at or not self.steps:
            return None
        now = self._paused_since or time.monotonic()
        elapsed = now - self._started_at - self._paused_total
        done = (max(self.epoch, 1) - 1) * self.steps + self.step - self._initial_steps
        total = self.epochs * self.steps - self._initial_steps
        if done <= 0 or elapsed <= 0:
            return None
        return max(0.0, elapsed / done * (total - done))


class TrainingScreen(Screen):
    """Progress, ETA, live curves, learning rate and the log of the current run."""

    TITLE = "cnn-tui"
    SUB_TITLE = "Training"

    def __init__(self) -> None:
        super().__init__(id="training")
        self.monitor: RunMonitor | None = None
        self._drawn_version = -1
        self._log_cursor = 0
        self._batch_drawn_at = 0.0
        self._epochs_drawn = -1
        self._batch_pending = False
        self._texts: dict[str, str] = {}
        self._bars: dict[str, tuple[int, int]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="train-top"):
            yield Static("No run yet: press F5 on the Setup screen (s) to train.", id="train-info")
            with Horizontal(classes="train-progress"):
                yield Label("Epoch  -/-", id="train-epoch-label", classes="train-progress-label")
                yield ProgressBar(total=1, id="train-epoch-bar", show_eta=False)
                yield Label("", id="train-status", classes="train-status")
            with Horizontal(classes="train-progress"):
                yield Label("Step   -/-", id="train-step-label", classes="train-progress-label")
                yield ProgressBar(total=1, id="train-step-bar", show_eta=False)
                yield Label("", id="train-eta", classes="train-status")
        with Horizontal(id="train-plots"):
            yield LivePlot("Current epoch (running mean)", "step", id="plot-batch")
            yield LivePlot("Loss per epoch", "epoch", id="plot-loss")
            yield LivePlot("Accuracy per epoch", "epoch", ylim=(0.0, 1.0), id="plot-acc")
        yield RunLog(id="train-log", max_lines=2000, wrap=False, markup=False, highlight=False)
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(REDRAW_SECONDS, self.sync)
        monitor = self.app.session.monitor  # type: ignore[attr-defined]
        if monitor is not None:
            self.attach(monitor)

    def on_screen_resume(self) -> None:
        self.sync(force=True)

    def attach(self, monitor: RunMonitor) -> None:
        """Show ``monitor`` (a new run): clears plots and log."""
        if monitor is not self.monitor:
            self.monitor = monitor
            self._drawn_version = -1
            self._log_cursor = 0
            self._epochs_drawn = -1
            self._batch_drawn_at = 0.0
            if self.is_mounted and self.is_attached:
                self.query_one("#train-log", RichLog).clear()
                for plot in self.query(LivePlot):
                    plot.clear_series()
        self.sync(force=True)

    # -- drawing --------------------------------------------------------------------------
    def sync(self, force: bool = False) -> None:
        """Pull the monitor's state into the widgets (called at REDRAW_SECONDS).

        Nothing happens while another screen is shown (``on_screen_resume`` forces a full
        sync when this one comes back); ``force`` also redraws the current-epoch plot at
        once instead of waiting for its throttle.
        """
        m = self.monitor
        if m is None or not self.is_mounted or not self.is_attached:  # not attached: app closing
            return
        if not self.is_current:
            return
        self._update_eta(m)
        if m.version == self._drawn_version and not force:
            if self._batch_pending:  # points that arrived while the batch plot was throttled
                self._update_plots(m)
            return
        self._drawn_version = m.version
        self._update_header(m)
        self._update_progress(m)
        self._update_log(m)
        self._update_plots(m, force)

    def _set_text(self, selector: str, text: str) -> None:
        """Update a one-line Label/Static only when its text changed, without a layout pass
        (their sizes are fixed by CSS or their container)."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(text, layout=False)

    def _set_bar(self, selector: str, total: int, progress: int) -> None:
        if self._bars.get(selector) != (total, progress):
            self._bars[selector] = (total, progress)
            self.query_one(selector, ProgressBar).update(total=total, progress=progress)

    def _update_header(self, m: RunMonitor) -> None:
        if not m.run_id:
            text = f"Starting {m.preset}: loading data and building the model..."
        else:
            train, val, test = m.sizes
            lr = f"   lr {m.lr:.3g}" if m.lr is not None else ""
            text = (
                f"[b]{m.name}[/b]  {m.run_id}\n"
                f"device {m.device}   {m.params:,} params   train {train:,} / val {val:,} / test {test:,}{lr}"
            )
        self._set_text("#train-info", text)  # its height is fixed (2) by app.tcss
        status = {
            "completed": "[green]completed[/]",
            "stopped": "[yellow]stopped[/]",
            "failed": "[red]failed[/]",
            "paused": "[yellow]paused (p resumes)[/]",
            "stopping": "[yellow]stopping...[/]",
        }.get(m.status, m.status)
        self._set_text("#train-status", status)

    def _update_progress(self, m: RunMonitor) -> None:
        epochs = max(m.epochs, 1)
        self._set_bar("#train-epoch-bar", epochs, m.epochs_done)
        self._set_text("#train-epoch-label", f"Epoch {m.epoch or 0:>2}/{m.epochs or '-'}")
        steps = max(m.steps, 1)
        self._set_bar("#train-step-bar", steps, min(m.step, steps))
        self._set_text("#train-step-label", f"Step {m.step:>4}/{m.steps or '-'}")

    def _update_eta(self, m: RunMonitor) -> None:
        eta = m.eta_seconds()
        if m.active:
            text = f"ETA {fmt_duration(eta, clamp=True)}" if eta is not None else "ETA -"
        elif m.status in ("completed", "stopped"):
            text = f"{m.epochs_done} epochs in {m.train_seconds:.1f}s"
        else:
            text = ""
        self._set_text("#train-eta", text)

    def _update_log(self, m: RunMonitor) -> None:
        log = self.query_one("#train-log", RichLog)
        styles = {"warning": "yellow", "error": "bold red"}
        from rich.text import Text

        for level, message in m.log[self._log_cursor :]:
            prefix = "" if level == "info" else f"{level}: "
            log.write(Text(prefix + message, style=styles.get(level, "")))
        self._log_cursor = len(m.log)

    def _update_plots(self, m: RunMonitor, force: bool = False) -> None:
        now = time.monotonic()
        batch = self.query_one("#plot-batch", LivePlot)
        title = f"Epoch {m.epoch} (running mean per step)" if m.epoch else "Current epoch (running mean)"
        new_epoch = title != batch.title
        if force or new_epoch or now - self._batch_drawn_at >= BATCH_PLOT_SECONDS:
            batch.set_title(title)
            batch.set_series("loss", m.batch_steps, m.batch_loss)
            batch.set_series("accuracy", m.batch_steps, m.batch_acc)
            if batch.redraw():
                self._batch_drawn_at = now
            self._batch_pending = False
        else:
            self._batch_pending = True
        if force or len(m.epoch_x) != self._epochs_drawn:
            self._epochs_drawn = len(m.epoch_x)
            loss = self.query_one("#plot-loss", LivePlot)
            loss.set_series("train", m.epoch_x, m.loss)
            loss.set_series("val", m.epoch_x, m.val_loss)
            acc = self.query_one("#plot-acc", LivePlot)
            acc.set_series("train", m.epoch_x, m.accuracy)
            acc.set_series("val", m.epoch_x, m.val_accuracy)
            loss.redraw()
            acc.redraw()
