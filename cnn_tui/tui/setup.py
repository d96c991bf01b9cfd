"""The Setup screen: dataset, preset, toggles and a live model summary.

Values are validated by the core (``apply_overrides`` -> ``ConfigError``) and refused at the
field with the reason. The model summary shows the pure-python shape plan at once and the
Keras summary when a thread worker has built the model (the first build imports
TensorFlow, which never happens on the UI thread).

This module holds the screen and its form; the presets (select, save, load) are in
:mod:`cnn_tui.tui.setup_presets`, the dataset facts and the model summary in
:mod:`cnn_tui.tui.setup_facts`.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Label, Select, Static

from cnn_tui.core.config import ExperimentConfig, apply_overrides, field_docs
from cnn_tui.core.errors import CnnTuiError, ConfigError
from cnn_tui.tui.compat.app import FrameHookScreen
from cnn_tui.tui.narrow import NarrowAware
from cnn_tui.tui.setup_facts import BUILTIN_DATASETS, SetupFacts
from cnn_tui.tui.setup_presets import SetupPresets
from cnn_tui.tui.widgets.config_fields import (
    PRESET_BLOCKS,
    ConfigField,
    LabeledRow,
    advanced_specs,
    config_value,
    control_id,
    field_sections,
    read_form,
)
from cnn_tui.tui.widgets.dataset_facts import planned_text
from cnn_tui.tui.widgets.footer import Footer
from cnn_tui.tui.widgets.header import Header
from cnn_tui.tui.widgets.lean_select import LeanSelect
from cnn_tui.tui.widgets.model_summary import ModelSummaryView

OTHER_DATASET = "other (folder:PATH / arrays:PATH)"
VALIDATE_DELAY = 0.15
"""Seconds of quiet after a change before the config is re-validated and re-planned."""
FIRST_PAINT_FALLBACK = 3.0
"""Seconds after mount at which the after-first-paint work starts if no frame was seen."""


class SetupScreen(SetupPresets, SetupFacts, NarrowAware, FrameHookScreen):
    """Choose a dataset and a preset, flip toggles, see the model, press F5 to train."""

    TITLE = "cnn-tui"
    SUB_TITLE = "Setup"
    AUTO_FOCUS = ""  # not None: None falls back to the App's "*"
    """The preset select is focused right after the first paint (see _after_first_paint)."""
    BINDINGS = [
        # Short footer labels: the Setup footer has the most keys (it overflowed 120 columns).
        Binding("ctrl+s", "save_preset", "Save", tooltip="Save the current settings as a user preset"),
        Binding("ctrl+o", "load_preset", "Load", tooltip="Load a built-in or user preset"),
        # priority: inputs bind ctrl+e to "end of line" (the end key still does that)
        Binding("ctrl+e", "experiment_dialog", "Experiment…", priority=True),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="setup")
        self.base: ExperimentConfig = ExperimentConfig()
        self.preset_name: str = ""
        self.presets: list[Any] = []
        self.infos: dict[str, Any] = {}
        self.info_errors: dict[str, str] = {}
        self.field_errors: dict[str, str] = {}
        self.config_error: str | None = None
        self.plan_error: str | None = None
        self.config: ExperimentConfig | None = self.base
        self._timer: Timer | None = None
        self._summary_token = 0
        self._summary_key: Any = None
        self._facts_pending: set[str] = set()
        self._loading = False
        self._first_paint_done = False

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # The start-up preset is read before composing, so every control is created with
        # its value: setting values after mount restyles the changed widgets (classes such
        # as -on and -disabled), which the first paint would wait for.
        self.start_narrow()  # narrow terminal: the side panel goes under the form
        self._read_presets()
        self._load_initial_preset()
        config, docs = self.base, field_docs()
        dataset = config.data.dataset
        custom = Input("" if dataset in BUILTIN_DATASETS else dataset,
                       placeholder="folder:/path/to/images or arrays:/path/data.npz", id="dataset-custom", compact=True)
        custom.display = dataset not in BUILTIN_DATASETS
        names = [p.name for p in self.presets]
        yield Header()
        with Horizontal(id="setup-body"):
            with VerticalScroll(id="setup-form"):
                yield Label("Experiment", classes="section-title")
                yield LabeledRow("preset", LeanSelect(
                    [(n, n) for n in names], prompt="(custom config)", id="preset-select", compact=True,
                    value=self.preset_name if self.preset_name in names else Select.NULL,
                ), classes="field-row")
                yield Static(self._preset_description(), id="preset-description", classes="field-note")
                yield LabeledRow("dataset", LeanSelect(
                    [(d, d) for d in (*BUILTIN_DATASETS, OTHER_DATASET)],
                    value=dataset if dataset in BUILTIN_DATASETS else OTHER_DATASET,
                    allow_blank=False, id="dataset-select", compact=True,
                ), classes="field-row")
                yield custom
                yield Static("", id="dataset-facts", classes="field-note")
                for title, specs in field_sections():
                    yield Label(title, classes="section-title")
                    for spec in specs:
                        yield ConfigField(spec, self._shown_value(config, spec.key),
                                          tooltip=docs.get(spec.key, {}).get("doc", ""))
                yield Label("Advanced", classes="section-title")
                yield LabeledRow(f"{len(advanced_specs())} more", Checkbox(
                    "show every other setting", False, id="advanced-toggle", compact=True,
                ), classes="field-row")
            with Vertical(id="setup-side"):
                yield ModelSummaryView(id="model-summary")
                yield Static("", id="setup-status")
        yield Footer()

    def on_mount(self) -> None:
        self.app.refresh_train_label()
        self.app.call_after_refresh(self.schedule_validate)
        # In case the hook below never sees the frame (Textual internals changed).
        self.set_timer(FIRST_PAINT_FALLBACK, self._after_first_paint)

    def frame_refreshed(self) -> None:
        # Textual composes this screen inside the app's start-up batch, and the refresh
        # made there is thrown away (App._display draws nothing while a batch is open):
        # the first refresh after the batch is the first frame the terminal gets. Only
        # then may the after-paint work start -- the facts worker and the TensorFlow
        # import hold the GIL, and the frame still has to be written.
        if not self._first_paint_done and self.is_current:
            self.call_later(self._after_first_paint)

    def _after_first_paint(self) -> None:
        if self._first_paint_done:
            return
        self._first_paint_done = True
        first_paint = getattr(self.app, "first_paint", None)
        if first_paint is not None:
            first_paint()
        # Focus only now: focusing restyles the whole form (:focus-within on its
        # containers), which before the first paint doubled the CSS work on the form.
        # No scrolling: the select is at the top, and a scroll-to-centre check made before
        # the form's layout has settled would scroll the form for nothing.
        if self.focused is None:
            self.set_focus(self.query_one("#preset-select"), scroll_visible=False)
        self.load_facts(list(BUILTIN_DATASETS), with_architectures=True)

    @property
    def fields(self) -> list[ConfigField]:
        return list(self.query(ConfigField))

    def field(self, key: str) -> ConfigField:
        return self.query_one("#field-" + control_id(key)[2:], ConfigField)

    @staticmethod
    def _shown_value(config: ExperimentConfig, key: str) -> Any:
        """What a field shows for ``config``: the architecture of a preset with its own
        block list is :data:`PRESET_BLOCKS`."""
        if key == "model.architecture" and config.model.blocks:
            return PRESET_BLOCKS
        return config_value(config, key)

    def _show_config(self, config: ExperimentConfig) -> None:
        arch = self.field("model.architecture")
        if not config.model.blocks and PRESET_BLOCKS in arch.choices:
            arch.set_choices([c for c in arch.choices if c != PRESET_BLOCKS])
        for f in self.fields:
            f.set_value(self._shown_value(config, f.key))
        spec = config.data.dataset
        custom = self.query_one("#dataset-custom", Input)
        select = self.query_one("#dataset-select", Select)
        if spec in BUILTIN_DATASETS:
            select.value = spec
            custom.display = False
        else:
            select.value = OTHER_DATASET
            custom.value = spec
            custom.display = True

    # -- reading the form -----------------------------------------------------------------
    def dataset_spec(self) -> str:
        value = self.query_one("#dataset-select", Select).value
        if value == OTHER_DATASET:
            return self.query_one("#dataset-custom", Input).value.strip()
        return str(value)

    def overrides(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Dotted overrides from the form, and the errors of values that do not parse/validate."""
        return read_form(self.base, self.fields, self.dataset_spec())

    def build_config(self) -> tuple[ExperimentConfig | None, dict[str, str]]:
        """The config to train (or None) and the field errors; also flags the fields."""
        values, errors = self.overrides()
        config = None
        self.config_error = None
        if not errors:
            try:
                config = apply_overrides(self.base, values)
            except ConfigError as exc:
                self.config_error = str(exc)
        for f in self.fields:
            f.set_error(errors.get(f.key))
        self.field_errors = errors
        self.config = config
        self._show_dataset_error(errors.get("data.dataset"))
        return config, errors

    # -- validation, facts and summary ----------------------------------------------------
    def schedule_validate(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(VALIDATE_DELAY, self.revalidate)

    @on(Checkbox.Changed, "#advanced-toggle")
    def _advanced_toggled(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.show_advanced(event.value)

    def show_advanced(self, show: bool = True) -> None:
        """Show (mounting them the first time: none of them costs the first paint) or hide
        the Advanced fields -- every config key the sections above leave out. Hidden, they
        keep what was typed."""
        fields = self.query("#advanced-fields")
        if fields:
            fields.first().display = show
            return
        if not show:
            return
        config, docs = self.config or self.base, field_docs()
        box = Vertical(*[ConfigField(spec, self._shown_value(config, spec.key),
                                     tooltip=docs.get(spec.key, {}).get("doc", ""))
                         for spec in advanced_specs()], id="advanced-fields")
        row = self.query_one("#advanced-toggle").parent
        self.query_one("#setup-form").mount(box, after=row)
        toggle = self.query_one("#advanced-toggle", Checkbox)
        if not toggle.value:
            with self.prevent(Checkbox.Changed):
                toggle.value = True

    @on(Input.Changed, "#f-model-blocks")
    def _blocks_typed(self, event: Input.Changed) -> None:
        # A block list of one's own replaces the named architecture (as model.blocks does).
        if event.value.strip():
            arch = self.field("model.architecture")
            if PRESET_BLOCKS not in arch.choices:
                arch.set_choices([PRESET_BLOCKS, *arch.choices])
            if arch.control.value != PRESET_BLOCKS:
                arch.control.value = PRESET_BLOCKS
        self.schedule_validate()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _changed(self) -> None:
        self.schedule_validate()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "preset-select":
            if event.value is not Select.NULL and event.value != self.preset_name:
                self.load_preset(str(event.value))
            return
        if event.select.id == "dataset-select":
            custom = self.query_one("#dataset-custom", Input)
            custom.display = event.value == OTHER_DATASET
            if custom.display and event.select.has_focus:
                custom.focus()
        # (the select's value now, not the event's: set_choices posts a Changed with the old one)
        if event.select.id == control_id("model.architecture") and event.select.value != PRESET_BLOCKS:
            blocks = self.query("#" + control_id("model.blocks"))
            if blocks and blocks.first().value:
                blocks.first().value = ""  # a named architecture: no block list of one's own
        self.schedule_validate()

    def revalidate(self) -> None:
        """Validate the form, update the status line, the footer label and the summary."""
        config, errors = self.build_config()
        self._update_facts_text()
        self._update_status()
        self.app.refresh_train_label()
        if config is not None:
            self._update_summary(config)

    def _show_dataset_error(self, error: str | None) -> None:
        if error:
            self.query_one("#dataset-facts", Static).update(f"[red]{escape(error)}[/]")

    def _update_status(self) -> None:
        status = self.query_one("#setup-status", Static)
        if self.field_errors:
            keys = ", ".join(self.field_errors)
            status.update(f"[red]Fix {len(self.field_errors)} field(s) before training: {escape(keys)}[/]")
        elif self.config_error:
            status.update(f"[red]{escape(self.config_error)}[/]")
        elif self.plan_error:
            status.update(f"[red]{escape(self.plan_error)}[/]")
        elif self.config is not None:
            c = self.config
            info = self._info_for(c.data.dataset)
            planned = planned_text(info, c.data) if info is not None else None
            status.update(
                f"[b]F5[/b] trains [b]{escape(self.preset_name or c.name)}[/b]: {escape(c.data.dataset)}"
                + (f" ({planned})" if planned else "") + ", "
                f"{c.train.epochs} epochs, batch {c.train.batch_size}, {c.train.optimizer} lr {c.train.learning_rate:g}"
                + ("\n[b]ctrl+e[/b] runs the preset's study ([experiment] section)" if self.base.experiment else "")
            )

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._first_paint_done:
            # The resume that shows the screen at start-up: every node was styled when it
            # was mounted a moment ago, so Textual's restyle of the whole screen on resume
            # (Screen._on_screen_resume, which runs after this handler) only repeats that
            # work -- ~60-80 ms of the first paint here. Later resumes keep it.
            event.refresh_styles = False
        if self.is_mounted:
            self.schedule_validate()

    def action_leave_field(self) -> None:
        """Take the focus off an input so the letter keys (s, t, r, u, q...) work again."""
        self.set_focus(None)

    # -- experiments ----------------------------------------------------------------------
    def action_experiment_dialog(self) -> None:
        """Define a grid / repeat / ablation study on the current settings (prefilled from
        the preset's [experiment] section) and run it."""
        if self.app.session.refuse_while_active("starting an experiment"):
            return
        config, errors = self.build_config()
        if config is None:
            self.notify("Fix the flagged fields before starting an experiment.", severity="error")
            return
        from cnn_tui.core.engine.plan import parse_plan
        from cnn_tui.tui.dialogs.experiment import ExperimentDialog

        initial = None
        if self.base.experiment:
            try:
                initial = parse_plan(self.base.experiment, self.preset_name or self.base.name)
            except CnnTuiError as exc:
                self.notify(str(exc), severity="warning", title="The preset's [experiment] section")
        name = self.preset_name or config.name

        def start(request: Any) -> None:
            if request is not None:
                self.app.session.start_study(config, request.plan, request.name, request.workers)

        self.app.push_screen(ExperimentDialog(config, name, initial), start)
