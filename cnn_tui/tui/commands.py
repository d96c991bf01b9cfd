"""The command palette (ctrl+p) entries: every action of the app by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider


class CnnTuiCommands(Provider):
    """Command palette entries for the app's actions."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app: Any = self.app
        return [
            ("Train", f"Start training {app.train_target()} with the current toggles (F5)", app.action_train),
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
        ]

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
