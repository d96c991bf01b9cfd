"""The Runs screen: every run in the runs folder, sortable, comparable, exportable.

Rows and columns come from :func:`cnn_tui.core.results.table.runs_table` (the same table
the CLI exports): run, name, state, the config keys that differ between runs, metrics.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.core.results.store import RunInfo, RunStore
from cnn_tui.core.results.table import (
    METRIC_COLUMNS,
    Table,
    config_keys_of,
    matches_words,
    runs_table,
    sort_rows,
)
from cnn_tui.tui.narrow import NarrowAware
from cnn_tui.tui.results import STATE_STYLES, ResultsScreen, error_text
from cnn_tui.tui.widgets.curves import CurvePlot, overlay_series
from cnn_tui.tui.report_figures import FIGURES_BINDING, write_figures
from cnn_tui.tui.dialogs.columns import DIFFERING, ColumnsDialog
from cnn_tui.tui.dialogs.export import ExportDialog, default_export_path
from cnn_tui.tui.widgets.footer import Footer
from cnn_tui.tui.widgets.header import Header

SELECT_MARK = "●"
MAX_COLUMN_WIDTH = 40
NARROW_WIDTHS = {"run": 15, "name": 12}
"""The run and name columns of a narrow terminal (the run id's date and time; the metrics
come right after them and must stay in sight at 80 columns)."""


def cell_text(value: Any, column: str) -> Text:
    """How a runs-table value is shown in the DataTable."""
    if value is None:
        return Text("—", style="dim", justify="center")
    if column == "state":
        return Text(str(value), style=STATE_STYLES.get(str(value), ""))
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return Text(str(value), justify="right")
        if column == "train_seconds":
            return Text(f"{value:.1f}", justify="right")
        if column in METRIC_COLUMNS:
            return Text(f"{value:.4f}", justify="right")
        return Text(f"{value:g}", justify="right")
    if isinstance(value, int):
        return Text(f"{value:,}" if column == "params" else str(value), justify="right")
    if isinstance(value, (list, tuple)):
        return Text("[" + ", ".join(str(v) for v in value) + "]")
    return Text(str(value))


class FilterInput(Input):
    """The runs filter: escape clears it (instead of leaving the screen)."""

    BINDINGS = [Binding("escape", "clear", "Clear filter")]

    def action_clear(self) -> None:
        self.screen.clear_filter()


class RunsScreen(NarrowAware, Screen):
    """All runs in a table; open one, select several to compare curves, export."""

    CSS_PATH = "runs.tcss"

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "open_run", "Open", priority=True),
        Binding("space", "toggle_select", "Select"),
        Binding("c", "compare", "Compare"),
        Binding("e", "export", "Export"),
        Binding("ctrl+r", "resume_run", "Resume", tooltip="Resume the highlighted run"),
        Binding("o", "cycle_sort", "Sort"),
        # help and the palette list the next two; the footer keeps its room for the rest
        Binding("O", "reverse_sort", "Reverse", show=False),
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter by run, name, state or dataset"),
        Binding("C", "choose_columns", "Columns", tooltip="Choose the config columns"),
        Binding("R", "refresh", "Refresh", show=False),  # f5 is the app's Train
        FIGURES_BINDING,
    ]

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.runs: dict[str, RunInfo] = {}
        self.table: Table = Table(columns=[], rows=[])
        self.rows: list[dict[str, Any]] = []
        """The table's rows in display order."""
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.selected: list[str] = []
        """Selected run ids, in the order they were selected."""
        self.filter_text = ""
        """Words every shown row matches (in its run id, name, state or dataset)."""
        self.config_keys: list[str] | None = None
        """The config columns chosen with C; None: the keys that differ between the runs."""

    def compose(self) -> ComposeResult:
        self.start_narrow()  # narrow terminal: run and name columns cut, metrics in sight
        yield Header()
        yield Static(id="runs-summary")
        yield FilterInput(placeholder="filter: words found in the run, name, state or dataset (enter: table, "
                          "escape: clear)", id="runs-filter", compact=True)
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="runs-compare"):
            yield CurvePlot("val accuracy", id="compare-accuracy")
            yield CurvePlot("val loss", id="compare-loss")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Runs"
        self.sub_title = str(self.runs_dir)
        if not self._has_children():
            return
        self.query_one("#runs-compare").display = False
        self.query_one("#runs-filter").display = False
        self.action_refresh()
        self.query_one(DataTable).focus()

    def _has_children(self) -> bool:
        """False once the app closed while this (prewarmed) screen was mounting or shown:
        its children are gone, and a query would raise NoMatches inside the app's shutdown."""
        return self.is_attached and bool(self.query("#runs-compare")) and bool(self.query(DataTable))

    def narrow_changed(self, narrow: bool) -> None:
        if self.is_mounted and self._has_children():
            self._fill()

    def on_screen_resume(self) -> None:
        # Back from a run's results, a dialog or another mode: pick up new runs.
        if self.is_mounted and self._has_children():
            self.action_refresh()

    # -- data -------------------------------------------------------------------------

    def action_refresh(self) -> None:
        """Re-read the runs folder."""
        try:
            runs = RunStore(self.runs_dir).list()
            table = runs_table(runs, config_keys=self.config_keys)
        except CnnTuiError as exc:
            self.notify(error_text(exc), severity="error", title="Runs")
            return
        except OSError as exc:
            self.notify(f"{self.runs_dir}: cannot read ({exc.strerror or exc})", severity="error", title="Runs")
            return
        self.runs = {r.run_id: r for r in runs}
        self.table = table
        self.selected = [s for s in self.selected if s in self.runs]
        if self.sort_column not in table.columns:
            self.sort_column, self.sort_reverse = None, False
        self._fill()
        if self.query_one("#runs-compare").display:
            self._update_compare()

    @property
    def highlighted(self) -> RunInfo | None:
        """The run under the cursor."""
        data_table = self.query_one(DataTable)
        if not self.rows or data_table.cursor_row < 0 or data_table.cursor_row >= len(self.rows):
            return None
        return self.runs.get(self.rows[data_table.cursor_row]["run"])

    def _fill(self) -> None:
        data_table = self.query_one(DataTable)
        current = self.highlighted
        keep = current.run_id if current else None
        rows = [row for row in self.table.rows if self._matches(row)]
        if self.sort_column:
            rows = sort_rows(rows, self.sort_column, self.sort_reverse)
        self.rows = rows
        cells = [[cell_text(row.get(c), c) for c in self.table.columns] for row in rows]
        data_table.clear(columns=True)
        data_table.add_column(" ", key="_sel", width=1)
        for i, column in enumerate(self.table.columns):
            label = column
            if column == self.sort_column:
                label += " ▼" if self.sort_reverse else " ▲"
            # Explicit widths: DataTable measures auto-width columns only on its next idle,
            # which a refresh triggered from elsewhere (screen resume) may not give it.
            width = min(MAX_COLUMN_WIDTH, max([len(label), *(c[i].cell_len for c in cells)]))
            if self.narrow and column in NARROW_WIDTHS:
                width = min(width, NARROW_WIDTHS[column])
            data_table.add_column(label, key=column, width=width)
        for row, row_cells in zip(rows, cells):
            mark = Text(SELECT_MARK, style="bold cyan") if row["run"] in self.selected else ""
            data_table.add_row(mark, *row_cells, key=row["run"])
        if keep is not None and keep in [r["run"] for r in rows]:
            data_table.move_cursor(row=[r["run"] for r in rows].index(keep), animate=False)
        self._update_summary()

    def _matches(self, row: dict[str, Any]) -> bool:
        if not self.filter_text.strip():
            return True
        values = [row.get(k) for k in ("run", "name", "state", "data.dataset")]
        run = self.runs.get(row["run"])
        if "data.dataset" not in row and run is not None:  # the column is not shown (C)
            try:
                values.append(run.config.data.dataset)
            except CnnTuiError:
                pass
        return matches_words(self.filter_text, values)

    # -- filter and columns -------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._fill()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def clear_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.value = ""
        box.display = False
        self.filter_text = ""
        self._fill()
        self.query_one(DataTable).focus()

    def action_choose_columns(self) -> None:
        keys = config_keys_of(list(self.runs.values()))
        if not keys:
            self.notify("No run has a readable config.", severity="warning", title="Columns")
            return
        shown = [c for c in self.table.columns if c in keys]

        def done(answer: list[str] | str | None) -> None:
            if answer is None:
                return
            self.config_keys = None if answer == DIFFERING else list(answer)
            self.action_refresh()

        self.app.push_screen(ColumnsDialog(keys, shown), done)

    def _update_summary(self) -> None:
        counts: dict[str, int] = {}
        for run in self.runs.values():
            counts[run.state] = counts.get(run.state, 0) + 1
        summary = Text()
        if not self.runs:
            summary.append(f"No runs in {self.runs_dir} yet: train one from the Setup screen.", style="bold")
        else:
            summary.append(f"{len(self.runs)} runs", style="bold")
            summary.append(" · " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
            if self.selected:
                summary.append(f" · {len(self.selected)} selected", style="bold cyan")
            if self.filter_text.strip():
                summary.append(f" · {len(self.rows)} match {self.filter_text.strip()!r}", style="bold")
            if self.sort_column:
                summary.append(f" · sorted by {self.sort_column}{' (descending)' if self.sort_reverse else ''}", style="dim")
        self.query_one("#runs-summary", Static).update(summary)

    # -- sorting ----------------------------------------------------------------------

    def sort_by(self, column: str | None, reverse: bool = False) -> None:
        self.sort_column = column
        self.sort_reverse = reverse
        self._fill()

    def action_cycle_sort(self) -> None:
        """Sort by the next column (after the last one: back to the stored order)."""
        columns = self.table.columns
        if not columns:
            return
        if self.sort_column is None:
            self.sort_by(columns[0])
        else:
            index = columns.index(self.sort_column) + 1
            self.sort_by(columns[index] if index < len(columns) else None)

    def action_reverse_sort(self) -> None:
        if self.sort_column is not None:
            self.sort_by(self.sort_column, not self.sort_reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column not in self.table.columns:
            return
        reverse = not self.sort_reverse if column == self.sort_column else False
        self.sort_by(column, reverse)

    # -- selection, open, compare ------------------------------------------------------

    def action_toggle_select(self) -> None:
        run = self.highlighted
        if run is None:
            return
        if run.run_id in self.selected:
            self.selected.remove(run.run_id)
        else:
            self.selected.append(run.run_id)
        data_table = self.query_one(DataTable)
        mark = Text(SELECT_MARK, style="bold cyan") if run.run_id in self.selected else ""
        data_table.update_cell(run.run_id, "_sel", mark)
        data_table.action_cursor_down()
        self._update_summary()
        if self.query_one("#runs-compare").display:
            self._update_compare()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_run()

    def action_open_run(self) -> None:
        run = self.highlighted
        if run is not None:
            self.app.push_screen(ResultsScreen(run.path))

    def action_resume_run(self) -> None:
        """Continue the highlighted crashed/stopped/failed run from its last checkpoint (or epoch 0)."""
        run = self.highlighted
        if run is None:
            self.notify("No run to resume.", severity="warning")
            return
        resume = getattr(self.app, "resume_run", None)
        if resume is None:
            self.notify("Resuming needs the cnn-tui app.", severity="warning")
            return
        resume(run)

    def compare_runs(self) -> list[RunInfo]:
        """The selected runs (in table order), else the highlighted one."""
        if self.selected:
            return [self.runs[r["run"]] for r in self.rows if r["run"] in self.selected]
        run = self.highlighted
        return [run] if run is not None else []

    def action_compare(self) -> None:
        """Show (or hide) the validation curves of the selected runs."""
        panel = self.query_one("#runs-compare")
        panel.display = not panel.display
        if panel.display:
            self._update_compare()

    def _update_compare(self) -> None:
        runs = self.compare_runs()
        names = [r.name for r in runs]
        labelled = []
        for run in runs:
            label = run.name if names.count(run.name) == 1 else f"{run.name} {run.short_id}"
            try:
                history = run.history()
            except (OSError, ValueError) as exc:
                self.notify(f"{run.path}: cannot read history ({exc})", severity="error")
                history = []
            labelled.append((label, history))
        self.query_one("#compare-accuracy", CurvePlot).set_series(overlay_series(labelled, "val_accuracy"))
        self.query_one("#compare-loss", CurvePlot).set_series(overlay_series(labelled, "val_loss"))

    # -- export -----------------------------------------------------------------------

    def export_table(self) -> tuple[Table, str]:
        """The table to export (selected runs, else all; in display order) and a title."""
        ids = [r["run"] for r in self.rows if not self.selected or r["run"] in self.selected]
        table = runs_table([self.runs[i] for i in ids], config_keys=self.config_keys)
        shown = "matching" if self.filter_text.strip() else "all"
        what = f"{len(ids)} selected run(s)" if self.selected else f"{shown} {len(ids)} run(s)"
        return table, f"Export {what}"

    def action_export(self) -> None:
        if not self.rows:
            self.notify("No runs to export.", severity="warning")
            return
        try:
            table, description = self.export_table()
        except CnnTuiError as exc:
            self.notify(error_text(exc), severity="error", title="Export")
            return

        def done(path: Path | None) -> None:
            if path is not None:
                self.notify(f"Wrote {path}", title="Export")

        self.app.push_screen(
            ExportDialog(table, default_export_path(self.runs_dir), description=description), done
        )

    def action_figures(self) -> None:
        """The selected runs' curves overlaid (or every figure of the highlighted run) as PNGs
        next to the exported tables."""
        runs = self.compare_runs()
        if not runs:
            self.notify("No runs to draw.", severity="warning", title="Figures")
            return
        what = runs[0].run_id if len(runs) == 1 else f"{len(runs)} selected runs"
        write_figures(self.app, self.runs_dir, runs=runs, what=what)

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
