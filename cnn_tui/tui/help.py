"""The help screen: what each screen shows and every key."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, str, str]] = [
    ("Everywhere", "F5", "train the Setup screen's preset with the current toggles"),
    ("", "x", "stop the run (ends the current batch, evaluates, keeps it as 'stopped')"),
    ("", "p", "pause / resume the run"),
    ("", "s / t / r / u", "Setup / Training / Results of the latest run / Runs"),
    ("", "E", "the Experiment screen of the running or last study"),
    ("", "ctrl+p", "command palette (every action by name)"),
    ("", "? / F1", "this help"),
    ("", "q / ctrl+q", "quit (a run in progress is stopped and stored first)"),
    ("Runs", "enter / space / c / e", "open a run / select it / compare curves / export the table"),
    ("", "ctrl+r", "resume the highlighted crashed or stopped run from its last completed epoch"),
    ("Setup", "tab / shift+tab", "move between fields; space toggles a checkbox"),
    ("", "ctrl+s", "save the current settings as a user preset"),
    ("", "ctrl+o", "load a preset"),
    ("", "ctrl+e", "experiment: grid / repeat / ablation on the current settings (a preset's [experiment] fills it in)"),
    ("Experiment", "k / c", "skip the trial in progress (the study goes on) / cancel the study (as x)"),
    ("Dialogs", "escape", "cancel / close"),
]

SCREENS = (
    "[b]Setup[/b]  pick a dataset (its shape, classes, counts, source and whether it is available "
    "offline are shown) and a preset, flip toggles. Invalid values are flagged at the field and "
    "training will not start until they are fixed. The model summary shows the output shape of "
    "every block at once, and the Keras layers and parameter counts once the model is built.\n\n"
    "[b]Training[/b]  epoch and step progress with ETA, live loss and accuracy (the running mean of "
    "the current epoch per step; train and validation per epoch), learning rate and the log.\n\n"
    "[b]Experiment[/b]  the queue of a study's trials (state, seconds, primary metric), progress "
    "and ETA, the table of mean ± std per group filling in as trials finish, and each group's mean "
    "validation accuracy per epoch with a ± std band. The Training screen shows the current trial.\n\n"
    "[b]Results[/b] / [b]Runs[/b]  metrics, per-class table, confusion matrix and mistakes of a run; "
    "the table of all runs to compare and export.\n\n"
    "Letter keys do not fire while you type in an input: press escape or tab away first."
)


class HelpScreen(ModalScreen[None]):
    """Keys and screens."""

    BINDINGS = [
        Binding("escape", "dismiss_help", "Close"),
        Binding("question_mark", "dismiss_help", "Close", show=False),
        Binding("f1", "dismiss_help", "Close", show=False),
        Binding("q", "dismiss_help", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold")
        table.add_column(style="cyan", no_wrap=True)
        table.add_column()
        for section, key, what in KEYS:
            table.add_row(section, key, what)
        with VerticalScroll(id="help-body", classes="modal-box -wide"):
            yield Static(Text.from_markup("[b]cnn-tui help[/b]  [dim](escape closes)[/]\n"))
            yield Static(table)
            yield Static(Text.from_markup("\n" + SCREENS))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
