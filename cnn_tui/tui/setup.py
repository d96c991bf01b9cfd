"""The Setup screen: dataset, preset, toggles and a live model summary.

Values are validated by the core (``apply_overrides`` -> ``ConfigError``) and refused at the
field with the reason. The model summary shows the pure-python shape plan at once and the
Keras summary when a thread worker has built the model (the first build imports
TensorFlow, which never happens on the UI thread).
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Label, Select, Static
from textual.worker import get_current_worker

from cnn_tui.core.config import ExperimentConfig, apply_overrides, field_docs
from cnn_tui.core.errors import CnnTuiError, ConfigError
from cnn_tui.tui.dialogs.presets import LoadPresetDialog, SavePresetDialog, SavePresetRequest
from cnn_tui.tui.messages import DatasetFacts, SummaryReady
from cnn_tui.tui.narrow import NarrowAware
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
from cnn_tui.tui.widgets.dataset_facts import format_facts, planned_text
from cnn_tui.tui.widgets.footer import Footer
from cnn_tui.tui.widgets.header import Header
from cnn_tui.tui.widgets.lean_select import LeanSelect
from cnn_tui.tui.widgets.model_summary import ModelSummaryView

BUILTIN_DATASETS = ("digits", "fashion_mnist", "mnist", "cifar10", "cifar100")
OTHER_DATASET = "other (folder:PATH / arrays:PATH)"
VALIDATE_DELAY = 0.15
"""Seconds of quiet after a change before the config is re-validated and re-planned."""
FIRST_PAINT_FALLBACK = 3.0
"""Seconds after mount at which the after-first-paint work starts if no frame was seen."""


class SetupScreen(NarrowAware, Screen):
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

    def _compositor_refresh(self) -> None:
        super()._compositor_refresh()
        # Textual composes this screen inside the app's start-up batch, and the refresh
        # made there is thrown away (App._display draws nothing while a batch is open):
        # the first refresh after the batch is the first frame the terminal gets. Only
        # then may the after-paint work start -- the facts worker and the TensorFlow
        # import hold the GIL, and the frame still has to be written.
        if not self._first_paint_done and self.is_current and not getattr(self.app, "_batch_count", 0):
            self.call_later(self._after_first_paint)

    def _load_initial_preset(self) -> None:
        default = self._default_preset()
        initial = getattr(self.app, "initial_preset", None) or default
        config = self._resolve_preset(initial)
        if config is None and initial != default:
            initial, config = default, self._resolve_preset(default)
        if config is not None:
            self._set_base(initial, config)

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

    # -- presets --------------------------------------------------------------------------
    @staticmethod
    def _default_preset() -> str:
        try:
            from cnn_tui.core.presets import DEFAULT_PRESET
        except ImportError:
            return "digits-quick"
        return DEFAULT_PRESET

    def _read_presets(self) -> None:
        try:
            from cnn_tui.core.presets import list_presets

            self.presets = list(list_presets(self.app.user_presets_dir))
        except ImportError:
            self.presets = []
        except CnnTuiError as exc:
            self.presets = []
            self.notify(str(exc), severity="error")

    def refresh_presets(self) -> None:
        """Re-read the preset list (built-in + user dir) into the preset select."""
        self._read_presets()
        select = self.query_one("#preset-select", Select)
        with self.prevent(Select.Changed):
            select.set_options([(p.name, p.name) for p in self.presets])
            if any(p.name == self.preset_name for p in self.presets):
                select.value = self.preset_name

    def _resolve_preset(self, spec: str) -> ExperimentConfig | None:
        """The config of a preset (name or TOML path); None (and a notification) if refused."""
        try:
            from cnn_tui.core import presets as presets_mod

            resolve = getattr(presets_mod, "resolve_spec", None) or presets_mod.load_preset
            return resolve(spec, self.app.user_presets_dir)
        except ImportError:
            return ExperimentConfig()
        except CnnTuiError as exc:
            self.notify(str(exc), severity="error", title="Preset")
            return None

    def _set_base(self, spec: str, config: ExperimentConfig) -> None:
        self.base = config
        is_path = "/" in spec or spec.endswith(".toml")
        self.preset_name = config.name if is_path else spec

    def load_preset(self, spec: str) -> bool:
        """Load a preset (name or TOML path) as the base config and show its values."""
        config = self._resolve_preset(spec)
        if config is None:
            return False
        self._set_base(spec, config)
        self._show_config(config)
        select = self.query_one("#preset-select", Select)
        with self.prevent(Select.Changed):
            if any(p.name == self.preset_name for p in self.presets):
                select.value = self.preset_name
        self._update_preset_description()
        self.app.refresh_train_label()
        self.app.call_after_refresh(self.schedule_validate)
        return True

    def _preset_description(self) -> str:
        desc = self.base.description or next(
            (p.description for p in self.presets if p.name == self.preset_name), "")
        return f"[dim]{escape(desc)}[/]" if desc else ""

    def _update_preset_description(self) -> None:
        self.query_one("#preset-description", Static).update(self._preset_description())

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

    def _info_for(self, spec: str) -> Any:
        return self.infos.get(spec)

    def _update_facts_text(self) -> None:
        spec = self.dataset_spec()
        if "data.dataset" in self.field_errors:
            return
        facts = self.query_one("#dataset-facts", Static)
        info = self._info_for(spec)
        if info is None:
            if spec in self.info_errors:
                facts.update(f"[red]{escape(self.info_errors[spec])}[/]")
            else:
                facts.update("[dim]looking up the dataset...[/]")
                if spec not in self._facts_pending and spec not in BUILTIN_DATASETS:
                    self.load_facts([spec])
            return
        facts.update(format_facts(info, (self.config or self.base).data))

    def _input_shape(self, config: ExperimentConfig) -> tuple[tuple[int, int, int] | None, int | None]:
        info = self._info_for(config.data.dataset)
        if info is None or not info.image_shape or not info.num_classes:
            return None, None
        h, w, c = info.image_shape
        if config.data.image_size:
            h, w = config.data.image_size
        return (int(h), int(w), int(c)), int(info.num_classes)

    def plan(self, config: ExperimentConfig) -> list[Any] | None:
        """The shape plan of ``config`` (pure python), or None; sets ``plan_error``.

        None without an error when the input shape is not known yet.
        """
        self.plan_error = None
        input_shape, num_classes = self._input_shape(config)
        if input_shape is None:
            return None
        try:
            from cnn_tui.core.models.memory import check_memory
        except ImportError:
            return None
        try:
            return check_memory(config, input_shape, num_classes)  # the shape plan, or too big for the memory
        except CnnTuiError as exc:
            self.plan_error = str(exc)
            return None

    def _update_summary(self, config: ExperimentConfig) -> None:
        view = self.query_one(ModelSummaryView)
        plan = self.plan(config)
        if self.plan_error:
            view.show_message(self.plan_error, error=True)
            self._summary_key = None
            self._update_status()
            return
        input_shape, num_classes = self._input_shape(config)
        if plan is None or input_shape is None or num_classes is None:
            info = self._info_for(config.data.dataset)
            if config.data.dataset in self.info_errors:
                view.show_message("No summary: " + self.info_errors[config.data.dataset], error=True)
            elif info is not None and input_shape is None:
                view.show_message("No summary: the image size is unknown. " + (info.hint or ""))
            elif info is None:
                view.show_message("Model summary: waiting for the dataset facts...")
            else:
                view.show_message("Model summary unavailable (cnn_tui.core.models is missing).")
            return
        key = (config.model, config.data.normalization, config.data.augment, input_shape, num_classes)
        if key == self._summary_key and view.state == "keras":
            return
        self._summary_key = key
        view.show_plan(plan, input_shape, "")
        if not getattr(self.app, "KERAS_SUMMARY", True):
            return
        if getattr(self.app, "training_active", False):
            view.set_note("Keras summary after training (the run has the CPU now)")
            return
        view.set_note("Keras summary loading..." if self.app.tf_ready else "importing TensorFlow for the Keras summary...")
        self._summary_token += 1
        self.build_summary(self._summary_token, config, input_shape, num_classes)

    @work(thread=True, exclusive=True, group="summary", exit_on_error=False)
    def build_summary(self, token: int, config: ExperimentConfig, input_shape: tuple, num_classes: int) -> None:
        """Build the Keras model off the UI thread and post its summary."""
        worker = get_current_worker()
        try:
            from cnn_tui.core.tfimport import import_tf

            import_tf()
            if worker.is_cancelled:
                return
            from cnn_tui.core.models import build_model, placeholder_stats, summarize

            # The training split is not loaded here; a summary needs only the layers' shapes.
            stats = (placeholder_stats(input_shape[-1])
                     if config.data.normalization in ("zero_center", "standardize") else None)
            model = build_model(config.model, config.data, input_shape, num_classes, stats, seed=config.train.seed)
            summary = summarize(model)
            del model
        except CnnTuiError as exc:
            self.post_message(SummaryReady(token, error=str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - shown in the summary, never a crash
            self.post_message(SummaryReady(token, error=f"cannot build the model: {type(exc).__name__}: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(SummaryReady(token, summary=summary))

    def on_summary_ready(self, message: SummaryReady) -> None:
        if message.token != self._summary_token:
            return
        view = self.query_one(ModelSummaryView)
        if message.error:
            view.show_message(message.error, error=True)
            self._summary_key = None
        else:
            view.show_keras(message.summary)

    def load_facts(self, specs: list[str], with_architectures: bool = False) -> None:
        """Look datasets up in a thread worker; a DatasetFacts message brings the answer."""
        self._facts_pending.update(specs)
        self._facts_worker(specs, self.base.data, with_architectures)

    @work(thread=True, group="facts", exit_on_error=False)
    def _facts_worker(self, specs: list[str], data_cfg: Any, with_architectures: bool) -> None:
        # dataset_info is cheap, but the data package may import numpy/sklearn: not on the UI thread.
        infos: dict[str, Any] = {}
        errors: dict[str, str] = {}
        architectures: list[str] = []
        try:
            from cnn_tui.core import data as data_mod

            if with_architectures:
                for info in data_mod.list_datasets():
                    infos[info.name] = info
            for spec in specs:
                if spec in infos:
                    continue
                try:
                    infos[spec] = data_mod.dataset_info(spec, data_cfg.model_copy(update={"dataset": spec}))
                except CnnTuiError as exc:
                    errors[spec] = str(exc)
        except (ImportError, AttributeError):
            errors.update({s: "dataset facts unavailable (cnn_tui.core.data is missing)" for s in specs})
        except Exception as exc:  # noqa: BLE001
            errors.update({s: f"cannot look up the dataset: {exc}" for s in specs})
        if with_architectures:
            try:
                from cnn_tui.core.models import ARCHITECTURES

                architectures = list(ARCHITECTURES)
            except ImportError:
                pass
        self.post_message(DatasetFacts(infos, errors, architectures))

    def on_dataset_facts(self, message: DatasetFacts) -> None:
        self.infos.update(message.infos)
        self.info_errors.update(message.errors)
        self._facts_pending.difference_update(message.infos, message.errors)
        architectures = message.architectures
        if architectures:
            arch = self.field("model.architecture")
            extra = [PRESET_BLOCKS] if self.base.model.blocks else []
            arch.set_choices([*architectures, *extra])
        self.revalidate()

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

    # -- presets: save / load -------------------------------------------------------------
    def action_save_preset(self) -> None:
        config, errors = self.build_config()
        if config is None:
            self.notify("Fix the flagged fields before saving a preset.", severity="error")
            return
        target = ""
        try:
            from cnn_tui.core.presets import user_presets_dir

            target = str(self.app.user_presets_dir or user_presets_dir())
        except ImportError:
            pass
        name = self.preset_name if self.preset_name and not self._is_builtin(self.preset_name) else f"{config.name}-mine"
        dialog = SavePresetDialog(name, self._proposed_description(config), target, check=self._check_save)
        self.app.push_screen(dialog, self._save_preset)

    def _proposed_description(self, config: ExperimentConfig) -> str:
        """The source preset's description while nothing differs from it; else what was
        changed ("digits-quick with data.dataset=fashion_mnist, train.epochs=3"), so a saved
        preset does not describe settings it no longer has."""
        from cnn_tui.core.config import flatten

        before, after = flatten(self.base), flatten(config)
        changed = [f"{key}={after[key]}" for key in after
                   if key not in ("name", "description") and before.get(key) != after[key]]
        if not changed:
            return config.description
        shown = ", ".join(changed[:6]) + (f" (+{len(changed) - 6} more)" if len(changed) > 6 else "")
        return f"{self.preset_name or config.name} with {shown}"

    def _check_save(self, request: SavePresetRequest) -> str | None:
        """Why ``request`` cannot be saved, in the preset store's words, or None."""
        from cnn_tui.core.presets import check_save

        try:
            check_save(request.name, self.app.user_presets_dir, overwrite=request.overwrite)
        except CnnTuiError as exc:
            return str(exc).replace("pass overwrite to replace it", "tick 'Overwrite' to replace it")
        config, _ = self.build_config()
        if config is not None:
            try:
                apply_overrides(config, {"description": request.description})
            except ConfigError as exc:
                return str(exc).replace("--set: ", "")
        return None

    def _is_builtin(self, name: str) -> bool:
        return any(p.name == name and getattr(p, "builtin", False) for p in self.presets)

    def _save_preset(self, request: SavePresetRequest | None) -> None:
        if request is None:
            return
        config, _ = self.build_config()
        if config is None:
            return
        try:
            from cnn_tui.core.presets import save_preset

            config = apply_overrides(config, {"name": request.name, "description": request.description})
            path = save_preset(request.name, config, self.app.user_presets_dir, overwrite=request.overwrite)
        except ImportError:
            self.notify("Saving presets is unavailable (cnn_tui.core.presets is missing).", severity="error")
            return
        except CnnTuiError as exc:
            self.notify(str(exc), severity="error", title="Save preset")
            return
        self.notify(f"Saved preset {request.name} to {path}", title="Save preset")
        self.refresh_presets()
        self.preset_name = request.name
        self.base = config
        with self.prevent(Select.Changed):
            if any(p.name == request.name for p in self.presets):
                self.query_one("#preset-select", Select).value = request.name
        self._update_preset_description()
        self.app.refresh_train_label()
        self.schedule_validate()

    def action_load_preset(self) -> None:
        self.refresh_presets()
        if not self.presets:
            self.notify("No presets found.", severity="warning")
            return
        self.app.push_screen(LoadPresetDialog(self.presets, self.preset_name), self._load_chosen)

    def _load_chosen(self, name: str | None) -> None:
        if name:
            self.load_preset(name)

    # -- experiments ----------------------------------------------------------------------
    def action_experiment_dialog(self) -> None:
        """Define a grid / repeat / ablation study on the current settings (prefilled from
        the preset's [experiment] section) and run it."""
        if getattr(self.app, "training_active", False):
            self.notify("A run is in progress: stop it (x) before starting an experiment.", severity="warning")
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
                self.app.start_study(config, request.plan, request.name, workers=request.workers)

        self.app.push_screen(ExperimentDialog(config, name, initial), start)
