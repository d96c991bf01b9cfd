"""The Setup screen's side panel: the dataset facts and the model summary, each looked up
by a thread worker (dataset info may import numpy/scikit-learn; the Keras summary imports
TensorFlow), never on the UI thread. Mixed into :class:`~cnn_tui.tui.setup.SetupScreen`."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import work
from textual.widgets import Static
from textual.worker import get_current_worker

from cnn_tui.core.config import ExperimentConfig
from cnn_tui.core.errors import CnnTuiError
from cnn_tui.tui.messages import DatasetFacts, SummaryReady
from cnn_tui.tui.widgets.config_fields import PRESET_BLOCKS
from cnn_tui.tui.widgets.dataset_facts import format_facts
from cnn_tui.tui.widgets.model_summary import ModelSummaryView

BUILTIN_DATASETS = ("digits", "fashion_mnist", "mnist", "cifar10", "cifar100")


class SetupFacts:
    """Dataset facts and model summary of the Setup screen (a mixin: ``self`` is the screen)."""

    base: ExperimentConfig
    config: ExperimentConfig | None
    infos: dict[str, Any]
    info_errors: dict[str, str]
    field_errors: dict[str, str]
    plan_error: str | None

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
        from cnn_tui.core.models.memory import check_memory

        try:
            return check_memory(config, input_shape, num_classes)  # the shape plan, or too big for the memory
        except CnnTuiError as exc:
            self.plan_error = str(exc)
            return None

    def _update_summary(self, config: ExperimentConfig) -> None:
        views = self.query(ModelSummaryView)
        if not views:  # out of the DOM: the app is closing
            return
        view = views.first()
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
            elif info is None:
                view.show_message("Model summary: waiting for the dataset facts...")
            else:  # plan() is None only without an input shape (or with plan_error, above)
                view.show_message("No summary: the image size is unknown. " + (info.hint or ""))
            return
        key = (config.model, config.data.normalization, config.data.augment, input_shape, num_classes)
        if key == self._summary_key and view.state == "keras":
            return
        self._summary_key = key
        view.show_plan(plan, input_shape, "")
        if not self.app.KERAS_SUMMARY:
            return
        if self.app.training_active:
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
        except Exception as exc:  # noqa: BLE001
            errors.update({s: f"cannot look up the dataset: {exc}" for s in specs})
        if with_architectures:
            from cnn_tui.core.models import ARCHITECTURES

            architectures = list(ARCHITECTURES)
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
