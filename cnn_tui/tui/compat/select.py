"""Textual's Select, made cheap to create: one widget for the closed line, the list later.

Textual's ``Select`` is a container of a ``SelectCurrent`` (the line a closed select
shows: itself a container of three ``Static`` widgets -- label, down arrow, up arrow) and
a ``SelectOverlay`` (an ``OptionList`` of every option, hidden until the select opens).
Measured here (120x40, 30 selects in a bare app), each one cost ~34 ms to mount, style and
paint; the Setup screen has seven before its first paint. :class:`LeanSelect` keeps
Textual's ``Select`` -- keys, messages, value handling and the overlay itself -- but its
closed line draws the label and the arrow itself (that alone: ~19 ms each), and the
overlay is mounted the first time the select opens (both: ~8 ms each).

It imports ``textual.widgets._select`` and overrides ``Select``'s private watchers
(``_watch_value``, ``_watch_expanded``, ``_watch_prompt``) and
``_setup_options_renderables``; the app imports it as
:mod:`cnn_tui.tui.widgets.lean_select`.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.content import Content
from textual.geometry import Size
from textual.widgets import Select
from textual.widgets._select import NoSelection, SelectCurrent, SelectOverlay


class LeanSelectCurrent(SelectCurrent):
    """The closed select's line: label left, arrow (down, or up while open) right."""

    COMPONENT_CLASSES = {"lean-select--label", "lean-select--arrow"}
    DEFAULT_CSS = """
    LeanSelectCurrent > .lean-select--label { color: $foreground 50%; }
    LeanSelectCurrent.-has-value > .lean-select--label { color: $foreground; }
    LeanSelectCurrent > .lean-select--arrow { color: $foreground 50%; }
    """

    def compose(self) -> ComposeResult:
        return iter(())

    def update(self, label: RenderableType | NoSelection) -> None:
        self.label = label
        self.has_value = label is not Select.NULL
        self.refresh()

    def _label_text(self) -> str:
        label: Any = self.placeholder if isinstance(self.label, NoSelection) else self.label
        return label.plain if isinstance(label, Text) else str(label)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1

    def render(self) -> Content:
        width = self.content_size.width
        expanded = isinstance(self.parent, Select) and self.parent.expanded
        arrow = Content.styled(" ▲" if expanded else " ▼", self.get_visual_style("lean-select--arrow", partial=True))
        label = Content.styled(self._label_text(), self.get_visual_style("lean-select--label", partial=True))
        room = max(width - arrow.cell_length, 0)
        label = label.truncate(room, ellipsis=True, pad=True)
        return label + arrow


class LeanSelect(Select):
    """A ``Select`` whose closed line is one widget (see the module doc)."""

    DEFAULT_CSS = """
    LeanSelect > LeanSelectCurrent { layout: vertical; }
    """

    def compose(self) -> ComposeResult:
        current = LeanSelectCurrent(self.prompt)
        if self._value != self.NULL or not self._allow_blank:
            # It will show a value: say so now, not by a class change (a restyle) at mount.
            current.set_reactive(SelectCurrent.has_value, True)
            current.set_class(True, "-has-value", update=False)
        yield current

    def _overlay(self) -> SelectOverlay | None:
        overlays = self.query_children(SelectOverlay)
        return overlays.first() if overlays else None

    def _line(self) -> LeanSelectCurrent | None:
        lines = self.query_children(LeanSelectCurrent)
        return lines.first() if lines else None

    async def _mount_overlay(self) -> SelectOverlay | None:
        """The overlay, mounted on first use; None once the app is closing (not attached:
        a mount would raise MountError)."""
        overlay = self._overlay()
        if overlay is None:
            if not self.is_attached:
                return None
            overlay = SelectOverlay(type_to_search=self._type_to_search)
            overlay.compact = self.compact  # (data_bind works only while composing)
            await self.mount(overlay)
            super()._setup_options_renderables()
        return overlay

    def watch_compact(self, compact: bool) -> None:
        overlay = self._overlay()
        if overlay is not None:
            overlay.compact = compact

    def _setup_options_renderables(self) -> None:
        if self._overlay() is not None:  # else the options go in when it is mounted
            super()._setup_options_renderables()

    def _watch_value(self, value: Any) -> None:
        # Textual's, minus the overlay's highlight (set when it opens, see _watch_expanded).
        self._value = value
        line = self._line()
        if line is None:
            return
        label: Any = self.NULL
        if value != self.NULL:
            label = next((prompt for prompt, option in self._options if option == value), self.NULL)
        line.update(label)
        self.post_message(self.Changed(self, value))

    def _watch_expanded(self, expanded: bool) -> None:
        if expanded and self._overlay() is None:
            self.run_worker(self._open_when_mounted(), group="lean-select", exclusive=True, exit_on_error=False)
            return
        super()._watch_expanded(expanded)
        line = self._line()
        if line is not None:
            line.refresh()  # the arrow turns

    def _watch_prompt(self, prompt: str) -> None:
        if self._overlay() is not None:
            super()._watch_prompt(prompt)
            return
        line = self._line()
        if not self.is_mounted or line is None:
            return
        line.placeholder = prompt
        if self._allow_blank and self.value == self.NULL:
            line.update(self.NULL)

    async def _open_when_mounted(self) -> None:
        if await self._mount_overlay() is not None and self.expanded:
            self._watch_expanded(True)

    async def action_show_overlay(self) -> None:
        if await self._mount_overlay() is not None:
            super().action_show_overlay()
