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
    ("", "ctrl+p", "command palette: every app action, and the keys of the screen it was opened on, by name"),
    ("", "? / F1", "this help"),
    ("", "q / ctrl+q", "quit (a run in progress is stopped and stored first)"),
    ("Runs", "enter", "open the highlighted run on the Results screen"),
    ("", "space", "select / unselect the highlighted run (the cursor moves to the next row)"),
    ("", "c / e", "overlay the selected runs' curves / export the table (CSV, Markdown, LaTeX, JSON)"),
    ("", "o / O", "sort by the next column / reverse the order (or click a column's header)"),
    ("", "/", "filter: rows whose run, name, state or dataset contain every word typed (escape clears)"),
    ("", "C", "choose the config columns (default: the keys that differ between the runs)"),
    ("", "R", "reload the runs folder"),
    ("", "ctrl+r", "resume the highlighted crashed or stopped run from its last completed epoch"),
    ("Results", "1 / 2 / 3", "summary (metrics, per-class table, confusion) / curves / misclassified samples"),
    ("", "n / b", "next / previous page of samples (also pagedown / pageup)"),
    ("", "f / g / a", "filter samples by true class / by predicted class (each press: next class) / show all"),
    ("", "R", "reload the run from its folder"),
    ("Results / Runs / Experiment", "F", "figures as PNG next to the exported tables (the run's curves, confusion, "
     "mistakes; the selected runs overlaid; the study's mean ± std curves and bars); a notification says where"),
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
    "and ETA, the table of mean ± std per group filling in as trials finish (each group's difference "
    "from its baseline, 95% CI and Welch's p; n<3 where too few seeds), and each group's mean "
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
            # Text, not markup: "[experiment]" in a description is a word, not a style tag
            table.add_row(Text(section), Text(key), Text(what))
        with VerticalScroll(id="help-body", classes="modal-box -wide"):
            yield Static(Text.from_markup("[b]cnn-tui help[/b]  [dim](escape closes)[/]\n"))
            yield Static(table)
            yield Static(Text.from_markup("\n" + SCREENS))

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
