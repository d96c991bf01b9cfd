"""Modal dialogs of the Setup screen: save the current settings as a preset, load a preset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option


@dataclass(frozen=True)
class SavePresetRequest:
    """What the save dialog returns."""

    name: str
    description: str
    overwrite: bool


class SavePresetDialog(ModalScreen[SavePresetRequest | None]):
    """Ask for a preset name and description; returns a :class:`SavePresetRequest` or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, name: str, description: str = "", target: str = "",
                 check: Callable[[SavePresetRequest], str | None] | None = None) -> None:
        """``check`` returns why a request cannot be saved (None: it can); the dialog then
        stays open with what was typed and shows the reason."""
        super().__init__(id="save-modal-box")
        self._preset_name = name
        self._description = description
        self._target = target
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label("[b]Save current settings as a preset[/b]")
            if self._target:
                yield Static(f"[dim]into {escape(self._target)}[/]")
            yield Label("Name (lowercase letters, digits, - or _)")
            yield Input(self._preset_name, id="preset-name")
            yield Label("Description")
            yield Input(self._description, id="preset-description")
            yield Checkbox("Overwrite an existing user preset of that name", id="preset-overwrite")
            yield Static("", id="preset-error", classes="modal-box-error")
            with Horizontal(classes="modal-box-buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#preset-name", Input).focus()

    def _request(self) -> SavePresetRequest | None:
        name = self.query_one("#preset-name", Input).value.strip()
        if not name:
            self.query_one("#preset-error", Static).update("Enter a name.")
            return None
        request = SavePresetRequest(
            name=name,
            description=self.query_one("#preset-description", Input).value.strip(),
            overwrite=self.query_one("#preset-overwrite", Checkbox).value,
        )
        problem = self._check(request) if self._check is not None else None
        if problem:
            self.query_one("#preset-error", Static).update(escape(problem))
            self.notify(problem, severity="error", title="Save preset")
            self.query_one("#preset-name", Input).focus()
            return None
        return request

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def _save(self) -> None:
        request = self._request()
        if request is not None:
            self.dismiss(request)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class LoadPresetDialog(ModalScreen[str | None]):
    """Pick a preset from a list; returns its name or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, presets: list[Any], current: str = "") -> None:
        super().__init__(id="load-modal-box")
        self._presets = presets
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box -wide"):
            yield Label("[b]Load a preset[/b]  [dim](enter loads, escape cancels)[/]")
            options = []
            for p in self._presets:
                kind = "built-in" if getattr(p, "builtin", True) else "user"
                text = f"[b]{escape(p.name)}[/b] [dim]({kind})[/]\n  {escape(getattr(p, 'description', '') or '')}"
                options.append(Option(text, id=p.name))
            yield OptionList(*options, id="preset-list")
            with Horizontal(classes="modal-box-buttons"):
                yield Button("Load", variant="primary", id="load")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        option_list.focus()
        for index, p in enumerate(self._presets):
            if p.name == self._current:
                option_list.highlighted = index

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Button.Pressed, "#load")
    def _load(self) -> None:
        option_list = self.query_one(OptionList)
        if option_list.highlighted is None:
            return
        self.dismiss(option_list.get_option_at_index(option_list.highlighted).id)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
