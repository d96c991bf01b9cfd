"""The export dialog: write a runs table to CSV, Markdown, LaTeX or JSON.

The writing is :func:`cnn_tui.core.results.table.export` (the CLI's writer). An existing
file is only replaced after a second, explicit confirmation; the dialog dismisses with
the written path, or None when cancelled.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.core.results.table import FORMATS, Table, export

EXTENSIONS = {"csv": ".csv", "md": ".md", "latex": ".tex", "json": ".json"}
_FORMAT_LABELS = {"csv": "CSV", "md": "Markdown", "latex": "LaTeX (booktabs)", "json": "JSON"}


def default_export_path(runs_dir: Path, fmt: str = "md", now: datetime | None = None) -> Path:
    """``runs_dir/export-<yyyymmdd-hhmmss>.<ext>``."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(runs_dir) / f"export-{stamp}{EXTENSIONS[fmt]}"


class ExportDialog(ModalScreen[Path | None]):
    """Pick format, layout and file; export; dismiss with the written path."""

    DEFAULT_CSS = """
    ExportDialog {
        align: center middle;
    }
    ExportDialog #export-box {
        width: 72;
        height: auto;
        padding: 1 2;
        border: thick $accent;
        background: $surface;
    }
    ExportDialog #export-title {
        text-style: bold;
        margin-bottom: 1;
    }
    ExportDialog Select, ExportDialog Input, ExportDialog Checkbox {
        margin-bottom: 1;
    }
    ExportDialog #export-message {
        height: auto;
        color: $warning;
    }
    ExportDialog #export-buttons {
        height: auto;
        align-horizontal: right;
    }
    ExportDialog #export-buttons Button {
        margin-left: 1;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "export", "Export"),
    ]

    def __init__(self, table: Table, default_path: Path, *, description: str = "", fmt: str = "md") -> None:
        super().__init__()
        self.table = table
        self.default_path = Path(default_path)
        self.description = description or f"Export {len(table.rows)} run(s)"
        self.initial_format = fmt if fmt in FORMATS else "md"
        self.confirm_overwrite: Path | None = None
        """The existing file the user was warned about; a second export replaces it."""

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Label(self.description, id="export-title")
            yield Select(
                [(_FORMAT_LABELS[f], f) for f in FORMATS],
                value=self.initial_format,
                allow_blank=False,
                id="export-format",
            )
            yield Checkbox("transposed (metrics and keys as rows, runs as columns)", id="export-transpose")
            yield Input(str(self.default_path), placeholder="file to write", id="export-path")
            yield Static("", id="export-message")
            with Horizontal(id="export-buttons"):
                yield Button("Export", variant="primary", id="export-ok")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    # -- form -------------------------------------------------------------------------

    @property
    def fmt(self) -> str:
        return str(self.query_one("#export-format", Select).value)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "export-format" or event.value is Select.NULL:
            return
        path_input = self.query_one("#export-path", Input)
        path = Path(path_input.value.strip()) if path_input.value.strip() else None
        if path is not None and (path.suffix.lower() in EXTENSIONS.values() or not path.suffix):
            path_input.value = str(path.with_suffix(EXTENSIONS[str(event.value)]))
        self._reset_confirmation()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._reset_confirmation()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_export()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "export-ok":
            self.action_export()
        else:
            self.action_cancel()

    def _reset_confirmation(self) -> None:
        if self.confirm_overwrite is not None:
            self.confirm_overwrite = None
            self.query_one("#export-ok", Button).label = "Export"
            self.query_one("#export-message", Static).update("")

    def _message(self, text: str) -> None:
        self.query_one("#export-message", Static).update(text)

    # -- actions ----------------------------------------------------------------------

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_export(self) -> None:
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self._message("Enter a file name to write.")
            return
        target = Path(raw).expanduser()
        force = False
        if target.exists() and not target.is_dir():
            if self.confirm_overwrite != target:
                self.confirm_overwrite = target
                self.query_one("#export-ok", Button).label = "Overwrite"
                self._message(f"{target} exists: press Overwrite (or enter) again to replace it.")
                return
            force = True
        transpose = self.query_one("#export-transpose", Checkbox).value
        try:
            written = export(self.table, self.fmt, target, transpose=transpose, force=force)
        except CnnTuiError as exc:
            self._message(str(exc))
            self.notify(str(exc), severity="error", title="Export")
            return
        except OSError as exc:  # e.g. a parent path that is a file
            message = f"{target}: cannot write ({exc.strerror or exc})"
            self._message(message)
            self.notify(message, severity="error", title="Export")
            return
        self.dismiss(written)
