"""The Setup screen's model summary: layers, output shapes and parameter counts.

Two stages: the pure-python shape plan (``plan_shapes``) is shown at once, then the Keras
summary (built in a thread worker) replaces it when ready. ``state`` and ``rows`` are
public for tests.
"""

from __future__ import annotations

import functools
from typing import Any

from rich.markup import escape
from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from cnn_tui.core.formatting import format_shape


COLUMNS = ("layer", "kind", "output", "params")


_shape = functools.partial(format_shape, empty="-")
"""``(4, 4, 32)`` -> ``4x4x32``, ``-`` for no dimension (the table's empty cell)."""


class ModelSummaryView(Vertical):
    """A caption line and a table of layers."""

    DEFAULT_CSS = """
    ModelSummaryView { height: 1fr; }
    ModelSummaryView > #summary-caption { height: auto; padding: 0 1; }
    ModelSummaryView > DataTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.state = "empty"
        """empty, plan, keras or error."""
        self.rows: list[tuple[str, ...]] = []
        self.total_params: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("Model summary: waiting for the dataset facts...", id="summary-caption")

    def _table(self) -> DataTable:
        """The table, mounted on first use: the Setup screen's first frame only shows the
        caption (the facts are looked up after it), so it need not style a DataTable."""
        tables = self.query(DataTable)
        if tables:
            return tables.first(DataTable)
        table: DataTable = DataTable(id="summary-table", cursor_type="row", zebra_stripes=True)
        self.mount(table)
        return table

    def _fill(self, rows: list[tuple[str, ...]]) -> None:
        # No table to mount when there are no rows, nor once the view is detached: dataset
        # facts or a Keras summary can arrive while the app is closing (q at start-up).
        if not self.is_attached or (not rows and not self.query(DataTable)):
            self.rows = rows
            return
        table = self._table()
        table.clear(columns=True)  # new columns: widths fit these rows, not the last ones
        # Explicit widths: DataTable would otherwise widen auto columns only when idle, and
        # a frame drawn before that (a busy CPU) shows every column cut to its header.
        for i, label in enumerate(COLUMNS):
            table.add_column(label, width=max([cell_len(label), *(cell_len(str(r[i])) for r in rows)]))
        for row in rows:
            table.add_row(*row)
        self.rows = rows

    def _caption(self, text: str) -> None:
        for caption in self.query("#summary-caption").results(Static):  # none once pruned
            caption.update(text)

    def show_plan(self, plan: list[Any], input_shape: tuple[int, ...], note: str) -> None:
        """Rows from ``plan_shapes`` (block, output_shape): shapes only, no parameter counts."""
        rows = [("input", "", _shape(input_shape), "")]
        rows += [(f"{i}", str(r.block), _shape(r.output_shape), "") for i, r in enumerate(plan, 1)]
        self.state = "plan"
        self.total_params = None
        self._fill(rows)
        self._caption(f"Shape plan for input {_shape(input_shape)}  [dim]{note}[/]")

    def show_keras(self, summary: Any) -> None:
        """Rows from ``models.summarize(model)``."""
        rows = [
            (str(r.name), str(r.kind), _shape(r.output_shape), f"{int(r.params):,}")
            for r in summary.rows
        ]
        self.state = "keras"
        self.total_params = int(summary.total_params)
        self._fill(rows)
        self._caption(
            f"[b]{summary.total_params:,}[/b] parameters ({summary.trainable_params:,} trainable), "
            f"{len(rows)} layers"
        )

    def show_message(self, text: str, *, error: bool = False) -> None:
        """A caption only (no table rows), e.g. why there is no summary."""
        self.state = "error" if error else "empty"
        self.total_params = None
        self._fill([])
        self._caption(f"[red]{escape(text)}[/]" if error else escape(text))

    def set_note(self, note: str) -> None:
        """Change the caption's trailing note on a plan (e.g. 'Keras summary loading...')."""
        if self.state == "plan":
            for caption in self.query("#summary-caption").results(Static):
                text = str(caption.content).split("  [dim]")[0]
                caption.update(f"{text}  [dim]{note}[/]")
