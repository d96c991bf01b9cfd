"""The command palette (ctrl+p) entries: every action of the app by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from cnn_tui.tui.footer_keys import train_target


class CnnTuiCommands(Provider):
    """Command palette entries for the app's actions."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app: Any = self.app
        return [
            ("Train", f"Start training {train_target(app)} with the current toggles (F5)", app.action_train),
            ("Stop training", "Finish the current batch, evaluate, keep the run as stopped (x)", app.action_stop),
            ("Pause / resume training", "Hold training after the current batch, or go on (p)", app.action_pause),
            ("Setup", "Dataset, preset, toggles and model summary (s)", app.action_setup),
            ("Training", "Progress, curves and log of the current run (t)", app.action_training),
            ("Results", "Metrics, confusion matrix and mistakes of the latest run (r)", app.action_results),
            ("Runs", "All stored runs: compare, overlay curves, export (u)", app.action_runs),
            ("Experiment…", "Define a grid / repeat / ablation study on the current settings and run it (ctrl+e on Setup)",
             app.action_experiment_dialog),
            ("Experiment queue", "Trials, ETA, skip/cancel, mean ± std table and curves of the study (E)",
             app.action_experiment),
            ("Save preset", "Save the current settings as a user preset (ctrl+s on Setup)", app.action_save_preset),
            ("Load preset", "Load a built-in or user preset (ctrl+o on Setup)", app.action_load_preset),
            ("Help", "Keys and screens (? or F1)", app.action_help),
        ] + self._screen_commands()

    def _screen_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """The keys of the screen the palette was opened on (Runs: Export, Compare, Sort...),
        each run as that key would run it."""
        screen = self.screen
        where = type(screen).__name__.removesuffix("Screen") or "screen"
        out: list[tuple[str, str, Callable[[], Any]]] = []
        for binding in getattr(type(screen), "BINDINGS", []):
            if not isinstance(binding, Binding) or binding.action in ("back", "leave_field") or not binding.description:
                continue
            key = binding.key_display or binding.key.split(",")[0]
            text = binding.tooltip or binding.description
            out.append((f"{where}: {binding.description}", f"{text} ({key} on {where})",
                        partial(self.app.run_action, binding.action, screen)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
