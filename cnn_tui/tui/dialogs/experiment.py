"""The experiment dialog of the Setup screen: a study on top of the current settings.

The kind (grid / repeat / ablation / variants), one line per grid key (``KEY=V1,V2``) or
per step (``name: k=v k=v``), the number of seeds and the primary metric are read with the
same core functions as ``cnn-tui sweep`` / ``ablate`` (:func:`~cnn_tui.core.engine.plan.plan_from_lines`)
and every group's config is validated (:func:`~cnn_tui.core.engine.plan.expand`) before
the dialog returns. A preset's ``[experiment]`` section fills the dialog in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from cnn_tui.core.errors import CnnTuiError

KINDS = ("grid", "repeat", "ablation", "variants")
LINE_HELP = {
    "grid": "one key per line: KEY=V1,V2   (every combination is trained)",
    "ablation": "one step per line: name: k=v k=v   (cumulative; the first is the baseline)",
    "variants": "one variant per line: name: k=v k=v   (independent)",
    "repeat": "(no lines: the current settings, trained with several seeds)",
}
EXAMPLE = {"grid": "model.batch_norm=true,false", "ablation": "baseline:\n+ bn: model.batch_norm=true",
           "variants": "a: model.dropout=0.2\nb: model.dropout=0.3", "repeat": ""}


@dataclass(frozen=True)
class StudyRequest:
    """What the dialog returns: a validated core Plan and the experiment's name."""

    plan: Any
    name: str
    trials: int
    workers: int = 1
    """Trials at once, each in its own process (1: one after another in the app)."""


def plan_lines(plan: Any) -> str:
    """A core Plan's grid keys or steps as the dialog's lines."""
    from cnn_tui.core.engine.plan import grid_line, step_line

    if plan.kind == "grid":
        return "\n".join(grid_line(k, v) for k, v in (plan.grid or {}).items())
    return "\n".join(step_line(s) for s in (plan.steps or plan.variants or []))


class ExperimentDialog(ModalScreen[StudyRequest | None]):
    """Define a grid / repeat / ablation / variants study; returns a :class:`StudyRequest`."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start")]
    DEFAULT_CSS = """
    ExperimentDialog {
        align: center middle;
    }
    ExperimentDialog .exp-row {
        height: 1;
        margin-bottom: 1;
    }
    ExperimentDialog .exp-label {
        width: 16;
        color: $text-muted;
    }
    ExperimentDialog .exp-row Select, ExperimentDialog .exp-row Input {
        width: 1fr;
        margin-bottom: 0;
    }
    ExperimentDialog #exp-lines {
        height: 8;
    }
    ExperimentDialog #exp-lines.-invalid {
        border: tall $error;
    }
    ExperimentDialog #exp-repeat.-invalid, ExperimentDialog #exp-workers.-invalid {
        background: $error 30%;
    }
    ExperimentDialog #exp-check {
        height: auto;
    }
    """

    def __init__(self, config: Any, name: str, initial: Any = None) -> None:
        super().__init__(id="experiment-dialog")
        self.config = config
        self._run_name = name
        self._initial = initial
        self.errors: dict[str, str] = {}
        """Field id -> why its value is refused (after the last check)."""

    def compose(self) -> ComposeResult:
        from cnn_tui.core.formatting import METRICS

        plan = self._initial
        kind = plan.kind if plan is not None else "grid"
        with Vertical(classes="modal-box -wide"):
            yield Label(f"[b]Experiment on {escape(self._run_name)}[/b]  [dim](ctrl+s starts, escape cancels)[/]")
            if plan is not None:
                yield Static("[dim]filled in from the preset's [experiment] section[/]")
            with Horizontal(classes="exp-row"):
                yield Label("kind", classes="exp-label")
                yield Select([(k, k) for k in KINDS], value=kind, allow_blank=False, id="exp-kind", compact=True)
            with Horizontal(classes="exp-row"):
                yield Label("seeds (repeat)", classes="exp-label")
                yield Input(str(plan.repeat if plan is not None else 1), id="exp-repeat", compact=True)
            with Horizontal(classes="exp-row"):
                yield Label("metric", classes="exp-label")
                yield Select([(m, m) for m in METRICS], value=plan.metric if plan is not None else METRICS[0],
                             allow_blank=False, id="exp-metric", compact=True)
            with Horizontal(classes="exp-row"):
                yield Label("workers", classes="exp-label")
                yield Input("1", id="exp-workers", compact=True,
                            tooltip="trials at once, each in its own process (1: one after another)")
            with Horizontal(classes="exp-row"):
                yield Label("name", classes="exp-label")
                yield Input(self._run_name, id="exp-name", compact=True)
            yield Static(LINE_HELP[kind], id="exp-lines-help")
            yield TextArea(plan_lines(plan) if plan is not None else EXAMPLE[kind], id="exp-lines",
                           soft_wrap=False, show_line_numbers=True)
            yield Static("", id="exp-check")
            with Horizontal(classes="modal-box-buttons"):
                yield Button("Start", variant="primary", id="exp-start")
                yield Button("Cancel", id="exp-cancel")

    def on_mount(self) -> None:
        self.query_one("#exp-lines", TextArea).display = self.kind != "repeat"
        self.query_one("#exp-kind", Select).focus()
        self.check()

    @property
    def kind(self) -> str:
        return str(self.query_one("#exp-kind", Select).value)

    @on(Select.Changed, "#exp-kind")
    def _kind_changed(self) -> None:
        kind = self.kind
        self.query_one("#exp-lines-help", Static).update(LINE_HELP[kind])
        lines = self.query_one("#exp-lines", TextArea)
        lines.display = kind != "repeat"
        if lines.text.strip() in ("", *EXAMPLE.values()):  # untouched: show this kind's example
            lines.text = EXAMPLE[kind]
        self.check()

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed, "#exp-metric")
    def _changed(self) -> None:
        self.check()

    def check(self) -> StudyRequest | None:
        """Validate the fields; flag the bad one, show the trial count or the reason."""
        from cnn_tui.core.engine.plan import expand, plan_from_lines

        self.errors = {}
        kind = self.kind
        text = self.query_one("#exp-repeat", Input).value.strip()
        name = self.query_one("#exp-name", Input).value.strip() or self._run_name
        request = None
        try:
            repeat = int(text)
            if repeat < 1:
                raise ValueError
        except ValueError:
            self.errors["exp-repeat"] = f"seeds: {text!r} is not a whole number >= 1"
        workers_text = self.query_one("#exp-workers", Input).value.strip()
        workers = int(workers_text) if workers_text.isdigit() else 0
        if workers < 1:
            self.errors["exp-workers"] = f"workers: {workers_text!r} is not a whole number >= 1"
        if not self.errors:
            lines = self.query_one("#exp-lines", TextArea).text.splitlines() if kind != "repeat" else []
            metric = str(self.query_one("#exp-metric", Select).value)
            try:
                plan = plan_from_lines(kind, lines, repeat=repeat, metric=metric, source="experiment")
                trials = len(expand(plan, self.config))
                request = StudyRequest(plan, name, trials, workers)
            except CnnTuiError as exc:
                self.errors["exp-repeat" if "experiment.repeat" in str(exc) else "exp-lines"] = str(exc)
        for widget_id in ("exp-repeat", "exp-workers", "exp-lines"):
            self.query_one(f"#{widget_id}").set_class(widget_id in self.errors, "-invalid")
        check = self.query_one("#exp-check", Static)
        if request is not None:
            groups = request.trials // request.plan.repeat
            at_once = f", {request.workers} at once" if request.workers > 1 else ""
            check.update(f"[green]{groups} group(s) x {request.plan.repeat} seed(s) = {request.trials} trial(s)"
                         f"{at_once}[/]")
        else:
            check.update(f"[red]{escape(next(iter(self.errors.values())))}[/]")
        return request

    @on(Button.Pressed, "#exp-start")
    def action_start(self) -> None:
        request = self.check()
        if request is None:
            self.notify(next(iter(self.errors.values())), severity="error", title="Not starting the experiment")
            return
        self.dismiss(request)

    @on(Button.Pressed, "#exp-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
