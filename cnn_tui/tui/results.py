"""The Results screen: one run's test metrics, per-class table, confusion matrix,
training curves and misclassified samples.

Everything comes from the run folder through RunStore; nothing here calls TensorFlow.
The sample images are read (or, for runs without ``samples.npz``, the test split is
reloaded) in a thread worker, so the screen paints at once.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, VerticalScroll
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.core.formatting import fmt_float, format_shape
from cnn_tui.core.results.samples import Sample, load_misclassified
from cnn_tui.core.results.store import RunInfo, RunStore
from cnn_tui.tui.narrow import NarrowAware
from cnn_tui.tui.report_figures import FIGURES_BINDING, write_figures
from cnn_tui.tui.widgets.confusion import ConfusionMatrix
from cnn_tui.tui.widgets.curves import TrainingCurves
from cnn_tui.tui.widgets.footer import Footer
from cnn_tui.tui.widgets.header import Header
from cnn_tui.tui.widgets.gallery import SampleGallery

STATE_STYLES = {
    "completed": "bold green",
    "stopped": "bold yellow",
    "running": "bold cyan",
    "failed": "bold red",
    "crashed": "bold red",
    "damaged": "bold magenta",
}
_SAMPLES_GROUP = "results-samples"


def error_text(exc: BaseException) -> str:
    """One line for a notification: the message of our errors, type + message otherwise."""
    if isinstance(exc, CnnTuiError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


_num = functools.partial(fmt_float, missing="—", floats_only=True)
"""The Results screen's numbers: floats to 4 decimals, ``—`` for a missing value, counts as they are."""


def load_run(run_dir: Path) -> RunInfo:
    """The RunInfo of ``run_dir`` (RunStoreError when it is not a run folder)."""
    run_dir = Path(run_dir)
    return RunStore(run_dir.parent).get(str(run_dir))


class ResultsScreen(NarrowAware, Screen):
    """Test metrics, per-class scores, confusion matrix, curves and mistakes of one run."""

    CSS_PATH = "results.tcss"

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("1", "show_tab('tab-summary')", "Summary"),
        Binding("2", "show_tab('tab-curves')", "Curves"),
        Binding("3", "show_tab('tab-gallery')", "Samples"),
        # p, x and f5 are the app's Pause, Stop and Train: not shadowed here.
        Binding("n,pagedown", "next_page", "Next"),
        Binding("b,pageup", "previous_page", "Prev"),
        Binding("f", "cycle_filter('true')", "True class"),
        Binding("g", "cycle_filter('pred')", "Predicted"),
        Binding("a", "clear_filters", "All"),
        Binding("R", "reload", "Reload"),
        FIGURES_BINDING,
    ]

    def __init__(self, run_dir: Path, *, page_size: int | None = None) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.run: RunInfo | None = None
        self.class_names: list[str] = []
        self._page_size = page_size

    def compose(self) -> ComposeResult:
        self.start_narrow()  # narrow terminal: less margin between the per-class table and confusion
        yield Header()
        yield Static(id="results-head")
        with TabbedContent(id="results-tabs"):
            with TabPane("Summary", id="tab-summary"):
                with ScrollableContainer():
                    yield Static(id="metrics-line")
                    yield Static(id="no-metrics")
                    with Horizontal(id="summary-body"):
                        yield DataTable(id="per-class", cursor_type="row", zebra_stripes=True)
                        yield ConfusionMatrix(id="confusion")
            with TabPane("Curves", id="tab-curves"):
                yield TrainingCurves(id="curves")
            with TabPane("Misclassified", id="tab-gallery"):
                with VerticalScroll():
                    yield SampleGallery(page_size=self._page_size, id="gallery")
        yield Footer()

    def on_mount(self) -> None:
        self._reload_when_composed()

    def _reload_when_composed(self) -> None:
        # The panes' contents are composed by TabbedContent after this screen's Mount
        # (each level mounts its own children), so wait until they are there.
        if not self.query("#metrics-line"):
            self.call_after_refresh(self._reload_when_composed)
            return
        self.action_reload()

    # -- loading ----------------------------------------------------------------------

    def action_reload(self) -> None:
        """(Re)read the run folder and show it."""
        try:
            self.run = load_run(self.run_dir)
        except CnnTuiError as exc:
            self.run = None
            self._show_missing(error_text(exc))
            self.notify(error_text(exc), severity="error", title="Results")
            return
        run = self.run
        self.title = f"Results · {run.name}"
        self.sub_title = run.run_id
        metrics = run.metrics
        self.class_names = self._class_names(metrics)
        self._show_head(run, metrics)
        self._show_metrics(run, metrics)
        try:
            history = run.history()
        except (OSError, ValueError) as exc:
            history = []
            self.notify(f"{run.path}: cannot read history ({exc})", severity="error")
        self.query_one(TrainingCurves).set_history(history)
        gallery = self.query_one(SampleGallery)
        if metrics is None:
            gallery.set_message(f"no misclassified samples: the run has no test evaluation ({run.state})")
        else:
            gallery.set_message("loading misclassified samples…")
            self._load_samples(run)

    @staticmethod
    def _class_names(metrics: dict[str, Any] | None) -> list[str]:
        if not metrics:
            return []
        names = metrics.get("class_names")
        if isinstance(names, list) and names:
            return [str(n) for n in names]
        return [str(row.get("class", i)) for i, row in enumerate(metrics.get("per_class") or [])]

    def _show_missing(self, message: str) -> None:
        self.query_one("#results-head", Static).update(Text(message, style="bold red"))
        self.query_one("#metrics-line", Static).display = False
        self.query_one("#summary-body").display = False
        no_metrics = self.query_one("#no-metrics", Static)
        no_metrics.display = True
        no_metrics.update("Nothing to show: the folder is not a readable run.")
        self.query_one(TrainingCurves).set_history([])
        self.query_one(SampleGallery).set_message("no run")

    def _show_head(self, run: RunInfo, metrics: dict[str, Any] | None) -> None:
        head = Text()
        head.append(run.name, style="bold")
        head.append(f"  {run.run_id}  ", style="dim")
        head.append(run.state, style=STATE_STYLES.get(run.state, "bold"))
        head.append(f"\ncreated {run.created or '?'}")
        if run.finished:
            head.append(f" · finished {run.finished}")
        if metrics:
            facts = [
                ("dataset", metrics.get("dataset")),
                ("image", format_shape(metrics.get("image_shape") or [], empty="") or None),
                ("epochs", metrics.get("epochs_completed")),
                ("train", f"{metrics['train_seconds']:.1f} s" if isinstance(metrics.get("train_seconds"), (int, float)) else None),
                ("params", f"{metrics['params']:,}" if isinstance(metrics.get("params"), int) else None),
                ("device", metrics.get("device")),
            ]
            shown = [f"{k} {v}" for k, v in facts if v not in (None, "")]
            if shown:
                head.append("\n" + " · ".join(shown), style="dim")
        if run.error:
            head.append("\nerror: ", style="bold red")
            head.append(run.error, style="red")
        self.query_one("#results-head", Static).update(head)

    def _show_metrics(self, run: RunInfo, metrics: dict[str, Any] | None) -> None:
        line = self.query_one("#metrics-line", Static)
        no_metrics = self.query_one("#no-metrics", Static)
        body = self.query_one("#summary-body")
        table = self.query_one("#per-class", DataTable)
        table.clear(columns=True)
        if not metrics:
            line.display = False
            body.display = False
            no_metrics.display = True
            reason = {
                "running": "the run is still training",
                "stopped": "the run was stopped before the test evaluation",
                "failed": "the run failed",
                "crashed": "the process died while the run was training",
                "damaged": "the run folder is damaged",
            }.get(run.state, "no metrics.json")
            msg = Text(f"No test metrics: {reason}.", style="bold")
            epochs = len(run.history()) if run.state != "damaged" else 0
            if epochs:
                msg.append(f"\n{epochs} epoch(s) recorded: see the Curves tab (2).", style="dim")
            no_metrics.update(msg)
            return
        no_metrics.display = False
        line.display = True
        body.display = True
        summary = Text()
        for label, key in (
            ("test loss", "test_loss"),
            ("test accuracy", "test_accuracy"),
            ("F1 weighted", "f1_weighted"),
            ("F1 macro", "f1_macro"),
        ):
            if summary:
                summary.append("   ")
            summary.append(f"{label} ", style="dim")
            summary.append(_num(metrics.get(key)), style="bold")
        line.update(summary)
        rows = [
            [
                Text(str(row.get("class", i))),
                *(Text(_num(row.get(k)), justify="right") for k in ("precision", "recall", "f1", "support")),
            ]
            for i, row in enumerate(metrics.get("per_class") or [])
            if isinstance(row, dict)
        ]
        # Explicit widths: DataTable sizes auto columns on its own idle, which a reload
        # started from a key on another widget does not always give it.
        for i, label in enumerate(("class", "precision", "recall", "F1", "support")):
            table.add_column(label, width=max([len(label), *(r[i].cell_len for r in rows)]))
        for i, cells in enumerate(rows):
            table.add_row(*cells, key=str(i))
        confusion = self.query_one(ConfusionMatrix)
        matrix = metrics.get("confusion_matrix")
        if isinstance(matrix, list) and matrix:
            try:
                confusion.set_data(matrix, self.class_names)
            except (TypeError, ValueError):
                confusion.set_data([], [])
                self.notify(f"{run.path}: metrics.json has a malformed confusion_matrix", severity="error")
        else:
            confusion.set_data([], [])
        self.call_after_refresh(self._fit_summary)

    def on_resize(self, event: events.Resize) -> None:
        # (Textual calls NarrowAware.on_resize as well: each class's handler runs.)
        self.call_after_refresh(self._fit_summary)

    def _fit_summary(self) -> None:
        """Put the confusion matrix under the per-class table (class ``-stacked``) when the
        two side by side are wider than the screen, e.g. long class names at 80 columns."""
        if not self.is_attached or not self.query("#summary-body"):
            return
        body = self.query_one("#summary-body")
        table = self.query_one("#per-class", DataTable)
        confusion = self.query_one(ConfusionMatrix)
        width = body.parent.scrollable_content_region.width if body.parent else self.size.width
        need = (
            sum(column.get_render_width(table) for column in table.columns.values())
            + table.styles.margin.right
            + confusion.get_content_width(Size(10_000, 1), Size(10_000, 1))
            + confusion.styles.gutter.width
        )
        body.set_class(need > width, "-stacked")

    @work(thread=True, exclusive=True, group=_SAMPLES_GROUP, exit_on_error=False)
    def _load_samples(self, run: RunInfo) -> list[Sample]:
        # Thread worker: only the core here, no widget access; the result comes back
        # through Worker.StateChanged.
        return load_misclassified(run)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != _SAMPLES_GROUP:
            return
        gallery = self.query_one(SampleGallery)
        if event.state == WorkerState.SUCCESS:
            total = (self.run.metrics or {}).get("misclassified_count") if self.run else None
            gallery.set_samples(
                event.worker.result or [], self.class_names, total=total if isinstance(total, int) else None
            )
        elif event.state == WorkerState.ERROR and event.worker.error is not None:
            message = error_text(event.worker.error)
            gallery.set_message(f"cannot show the samples: {message}")
            self.notify(message, severity="error", title="Misclassified samples")

    # -- actions ----------------------------------------------------------------------

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_figures(self) -> None:
        """Curves, confusion matrix and mistakes of this run as PNGs next to the exported tables."""
        if self.run is None:
            self.notify("No run to draw.", severity="warning", title="Figures")
            return
        write_figures(self.app, self.run_dir.parent, runs=[self.run], what=self.run.run_id)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def _gallery(self) -> SampleGallery:
        self.query_one(TabbedContent).active = "tab-gallery"
        return self.query_one(SampleGallery)

    def action_next_page(self) -> None:
        self._gallery().next_page()

    def action_previous_page(self) -> None:
        self._gallery().previous_page()

    def action_cycle_filter(self, which: str) -> None:
        self._gallery().cycle_filter(which)

    def action_clear_filters(self) -> None:
        self._gallery().clear_filters()
