"""The Setup screen's presets: the start-up preset, the preset select, save (ctrl+s) and
load (ctrl+o) with their dialogs. Mixed into :class:`~cnn_tui.tui.setup.SetupScreen`, whose
form it fills (``_show_config``) and reads (``build_config``)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.widgets import Select, Static

from cnn_tui.core.config import ExperimentConfig, apply_overrides, flatten
from cnn_tui.core.errors import CnnTuiError, ConfigError
from cnn_tui.core.presets import (
    DEFAULT_PRESET,
    check_save,
    list_presets,
    resolve_spec,
    save_preset,
    user_presets_dir,
)
from cnn_tui.tui.dialogs.presets import LoadPresetDialog, SavePresetDialog, SavePresetRequest


class SetupPresets:
    """Preset handling of the Setup screen (a mixin: ``self`` is the screen)."""

    base: ExperimentConfig
    preset_name: str
    presets: list[Any]

    def _load_initial_preset(self) -> None:
        initial = getattr(self.app, "initial_preset", None) or DEFAULT_PRESET
        config = self._resolve_preset(initial)
        if config is None and initial != DEFAULT_PRESET:
            initial, config = DEFAULT_PRESET, self._resolve_preset(DEFAULT_PRESET)
        if config is not None:
            self._set_base(initial, config)

    def _read_presets(self) -> None:
        try:
            self.presets = list(list_presets(self.app.user_presets_dir))
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
            return resolve_spec(spec, self.app.user_presets_dir)
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

    def action_save_preset(self) -> None:
        config, errors = self.build_config()
        if config is None:
            self.notify("Fix the flagged fields before saving a preset.", severity="error")
            return
        target = str(self.app.user_presets_dir or user_presets_dir())
        name = self.preset_name if self.preset_name and not self._is_builtin(self.preset_name) else f"{config.name}-mine"
        dialog = SavePresetDialog(name, self._proposed_description(config), target, check=self._check_save)
        self.app.push_screen(dialog, self._save_preset)

    def _proposed_description(self, config: ExperimentConfig) -> str:
        """The source preset's description while nothing differs from it; else what was
        changed ("digits-quick with data.dataset=fashion_mnist, train.epochs=3"), so a saved
        preset does not describe settings it no longer has."""
        before, after = flatten(self.base), flatten(config)
        changed = [f"{key}={after[key]}" for key in after
                   if key not in ("name", "description") and before.get(key) != after[key]]
        if not changed:
            return config.description
        shown = ", ".join(changed[:6]) + (f" (+{len(changed) - 6} more)" if len(changed) > 6 else "")
        return f"{self.preset_name or config.name} with {shown}"

    def _check_save(self, request: SavePresetRequest) -> str | None:
        """Why ``request`` cannot be saved, in the preset store's words, or None."""
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
            config = apply_overrides(config, {"name": request.name, "description": request.description})
            path = save_preset(request.name, config, self.app.user_presets_dir, overwrite=request.overwrite)
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
