"""The Experiment screen: the queue of a study's trials, its progress and ETA, the
aggregated table (mean ± std per group) and the groups' mean validation curves with a
± std band.

It draws from the session's :class:`~cnn_tui.tui.study.StudyMonitor` (updated by
the trial messages) on a timer; after each finished trial the table and the curves are
re-read from the experiment folder by the core (:func:`~cnn_tui.core.results.aggregate.aggregate_table`,
:func:`~cnn_tui.core.results.aggregate.group_curves`) in a thread worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, ProgressBar, Static

from cnn_tui.core.formatting import fmt_duration
from cnn_tui.tui.messages import ExperimentResults
from cnn_tui.tui.narrow import NarrowAware
from cnn_tui.tui.report_figures import FIGURES_BINDING, write_figures
from cnn_tui.tui.results import STATE_STYLES, error_text
from cnn_tui.tui.widgets.band_plot import BandPlot
from cnn_tui.tui.widgets.footer import Footer
from cnn_tui.tui.widgets.header import Header

REDRAW_SECONDS = 0.5
TRIAL_STYLES = {**STATE_STYLES, "pending": "dim", "skipping": "bold yellow", "skipped": "yellow"}
QUEUE_COLUMNS = ("trial", "group", "seed", "state", "progress", "seconds", "metric")


def _cell(value: Any) -> Text:
    if value is None:
        return Text("—", style="dim", justify="center")
    if isinstance(value, float):
        return Text(f"{value:.4g}", justify="right")
    if isinstance(value, (int, bool)) or hasattr(value, "mean"):
        return Text(str(value).lower() if isinstance(value, bool) else str(value), justify="right")
    return Text(str(value))


class ExperimentScreen(NarrowAware, Screen):
    """Queue, progress, aggregated table and mean ± std curves of the running or last study."""

    CSS_PATH = "experiment.tcss"
    TITLE = "cnn-tui"
    SUB_TITLE = "Experiment"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("k", "skip_trial", "Skip trial"),
        Binding("c", "cancel_study", "Cancel study"),
        FIGURES_BINDING,
    ]

    def __init__(self) -> None:
        super().__init__(id="experiment")
        self._drawn: tuple[int, int] = (-1, -1)
        self._loaded_for: Path | None = None

    def compose(self) -> ComposeResult:
        self.start_narrow()  # narrow terminal: the queue takes the whole width
        yield Header()
        yield Static("", id="exp-summary")
        with Horizontal(id="exp-progress-row"):
            yield ProgressBar(total=1, id="exp-progress", show_eta=False)
            yield Static("", id="exp-eta")
        with Horizontal(id="exp-top"):
            yield DataTable(id="exp-queue", cursor_type="row", zebra_stripes=True)
            yield BandPlot("mean validation accuracy ± std", "val_accuracy", id="exp-curves")
        yield Static("", id="exp-table-title")
        yield DataTable(id="exp-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        queue = self.query_one("#exp-queue", DataTable)
        for column in QUEUE_COLUMNS:
            queue.add_column(column, key=column)
        self.set_interval(REDRAW_SECONDS, self.sync)
        self.sync(force=True, reload=True)

    def on_screen_resume(self) -> None:
        self.sync(force=True, reload=True)

    @property
    def study(self) -> Any:
        return self.app.session.study  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("skip_trial", "cancel_study"):
            s = self.study
            return s is not None and s.active
        return True

    # -- drawing --------------------------------------------------------------------------
    def sync(self, force: bool = False, reload: bool = False) -> None:
        """Pull the study's state into the widgets; ``reload``: re-read table and curves."""
        s = self.study
        if s is None or not self.is_mounted or not self.is_attached:  # not attached: app closing
            return
        self._update_eta(s)
        key = (s.seq, s.version)
        if key != self._drawn or force:
            if key[0] != self._drawn[0]:  # another study: nothing of the last one stays
                self.query_one("#exp-queue", DataTable).clear()
                self.query_one("#exp-table", DataTable).clear(columns=True)
                self.query_one("#exp-table-title", Static).update("")
                self.query_one("#exp-curves", BandPlot).set_curves([])
                self._loaded_for = None
            self._drawn = key
            self._update_summary(s)
            self._update_queue(s)
            self.refresh_bindings()
        if s.exp_dir is not None and (reload or self._loaded_for != s.exp_dir):
            self._loaded_for = s.exp_dir
            self.load_results(s.exp_dir)

    def _current_trial_eta(self, s: Any) -> float | None:
        m = self.app.session.monitor  # type: ignore[attr-defined]
        return m.eta_seconds() if m is not None and m.seq == s.seq and s.current else None

    def _update_eta(self, s: Any) -> None:
        eta = s.eta_seconds(self._current_trial_eta(s)) if s.active else None
        text = f"ETA {fmt_duration(eta, clamp=True)}" if eta is not None else ("ETA -" if s.active else "")
        label = self.query_one("#exp-eta", Static)
        if str(label.content) != text:
            label.update(text)

    def _update_summary(self, s: Any) -> None:
        state = Text(s.state, style=TRIAL_STYLES.get(s.state, "bold"))
        running = sum(r.state in ("running", "skipping") for r in s.trials)
        current = f"   trial {s.current}/{s.total} running" if s.current else ""
        if s.workers > 1 and running:
            current = f"   {running} running (up to {s.workers} at once)"
        folder = f"\n[dim]{escape(str(s.exp_dir))}[/]" if s.exp_dir else ""
        head = Text.from_markup(
            f"[b]{escape(s.name)}[/b]  {s.kind}, {s.total} trials, metric {s.metric}   "
            f"{s.done}/{s.total} done{current}   "
        )
        head.append(state)
        if s.error:
            head.append(f"   {s.error}", style="red")
        head.append_text(Text.from_markup(folder))
        self.query_one("#exp-summary", Static).update(head)
        self.query_one("#exp-progress", ProgressBar).update(total=max(s.total, 1), progress=s.done)

    def _update_queue(self, s: Any) -> None:
        table = self.query_one("#exp-queue", DataTable)
        for row in s.trials:
            cells = [
                Text(row.trial_id), Text(row.group), Text(str(row.seed), justify="right"),
                Text(row.state, style=TRIAL_STYLES.get(row.state, "")), Text(row.progress or ""),
                _cell(round(row.seconds, 1) if row.seconds is not None else None), _cell(row.metric),
            ]
            if row.trial_id not in table.rows:
                table.add_row(*cells, key=row.trial_id)
                continue
            for column, cell in zip(table.ordered_columns, cells):
                if str(table.get_cell(row.trial_id, column.key)) != str(cell):
                    table.update_cell(row.trial_id, column.key, cell)

    # -- the aggregated table and curves, read off the UI thread ----------------------------
    @work(thread=True, exclusive=True, group="experiment-results", exit_on_error=False)
    def load_results(self, exp_dir: Path) -> None:
        from cnn_tui.core.results.aggregate import aggregate_table, group_curves

        try:
            message = ExperimentResults(exp_dir, aggregate_table(exp_dir), group_curves(exp_dir, "val_accuracy"))
        except Exception as exc:  # noqa: BLE001 - shown on the screen, never a crash
            message = ExperimentResults(exp_dir, error=error_text(exc))
        self.post_message(message)

    def on_experiment_results(self, message: ExperimentResults) -> None:
        s = self.study
        if s is None or s.exp_dir != message.exp_dir:
            return
        title = self.query_one("#exp-table-title", Static)
        if message.error:
            title.update(Text(message.error, style="red"))
            return
        table = self.query_one("#exp-table", DataTable)
        agg = message.table
        title.update(Text(agg.title, style="bold"))
        table.clear(columns=True)
        table.add_columns(*agg.columns)
        for row in agg.rows:
            table.add_row(*(_cell(row.get(c)) for c in agg.columns))
        self.query_one("#exp-curves", BandPlot).set_curves(message.curves)

    # -- actions --------------------------------------------------------------------------
    def action_skip_trial(self) -> None:
        """Skip the trial under the queue's cursor when it runs (several may), else the current one."""
        s, queue = self.study, self.query_one("#exp-queue", DataTable)
        trial_id = None
        if s is not None and s.workers > 1 and queue.row_count and 0 <= queue.cursor_row < len(s.trials):
            row = s.trials[queue.cursor_row]
            trial_id = row.trial_id if row.state == "running" else None
        self.app.session.skip_trial(trial_id)  # type: ignore[attr-defined]

    def action_cancel_study(self) -> None:
        self.app.session.cancel_study()  # type: ignore[attr-defined]

    def action_figures(self) -> None:
        """The groups' mean ± std curves and the final-metric bars as PNGs next to the exported tables."""
        s = self.study
        if s is None or s.exp_dir is None:
            self.notify("No experiment to draw yet.", severity="warning", title="Figures")
            return
        runs_dir = getattr(self.app, "runs_dir", None) or Path(s.exp_dir).parent
        write_figures(self.app, runs_dir, experiment=s.exp_dir, what=Path(s.exp_dir).name)

    def action_back(self) -> None:
        self.app.action_training()  # type: ignore[attr-defined]
