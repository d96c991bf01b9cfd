"""The Runs screen's column chooser: which config keys the runs table shows.

Dismisses with the chosen keys (in the order offered), :data:`DIFFERING` to go back to the
default (the keys whose values differ between the runs), or None when cancelled.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, SelectionList

DIFFERING = "differing"
"""The dialog's answer for "the keys that differ between the runs" (the default)."""


class ColumnsDialog(ModalScreen[list[str] | str | None]):
    """Tick the config keys to show as columns of the runs table."""

    DEFAULT_CSS = """
    ColumnsDialog { align: center middle; }
    ColumnsDialog #columns-box {
        width: 72; max-width: 100%; height: auto; max-height: 90%;
        padding: 1 2; border: thick $accent; background: $surface;
    }
    ColumnsDialog #columns-list { height: auto; max-height: 20; margin: 1 0; }
    ColumnsDialog #columns-buttons { height: auto; align-horizontal: right; }
    ColumnsDialog #columns-buttons Button { margin-left: 1; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Show")]

    def __init__(self, keys: list[str], shown: list[str]) -> None:
        super().__init__()
        self.keys = list(keys)
        self.shown = set(shown)

    def compose(self) -> ComposeResult:
        with Vertical(id="columns-box"):
            yield Label("[b]Config columns of the runs table[/b]  [dim](space ticks, ctrl+s shows)[/]")
            yield SelectionList[str](*[(key, key, key in self.shown) for key in self.keys], id="columns-list")
            with Horizontal(id="columns-buttons"):
                yield Button("Show", variant="primary", id="columns-ok")
                yield Button("Differing keys", id="columns-differing")
                yield Button("Cancel", id="columns-cancel")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "columns-ok":
            self.action_apply()
        elif event.button.id == "columns-differing":
            self.dismiss(DIFFERING)
        else:
            self.action_cancel()

    def action_apply(self) -> None:
        chosen = set(self.query_one(SelectionList).selected)
        self.dismiss([key for key in self.keys if key in chosen])

    def action_cancel(self) -> None:
        self.dismiss(None)
