"""Narrow terminals: the ``-narrow`` class of a screen.

A screen built with :class:`NarrowAware` carries the class ``-narrow`` while the terminal
is narrower than :data:`NARROW_BELOW` columns; its CSS stacks or collapses panels under
that class (80x24 must stay usable). The class is set before the screen is first styled
(no restyle at start-up), and changed only when a resize crosses the threshold, so a
resize in between restyles nothing.
"""

from __future__ import annotations

from textual import events

NARROW_BELOW = 110
"""Columns below which screens take their narrow layout (the Setup form and the model
summary side by side need ~110)."""


def is_narrow(width: int) -> bool:
    return 0 < width < NARROW_BELOW


class NarrowAware:
    """Mixin for a Screen: the ``-narrow`` class follows the terminal's width."""

    def start_narrow(self) -> None:
        """Set the class from the app's size, without restyling (call it in compose)."""
        self.set_class(is_narrow(self.app.size.width), "-narrow", update=False)  # type: ignore[attr-defined]

    @property
    def narrow(self) -> bool:
        return self.has_class("-narrow")  # type: ignore[attr-defined]

    def on_resize(self, event: events.Resize) -> None:
        narrow = is_narrow(event.size.width)
        if narrow != self.narrow:
            self.set_class(narrow, "-narrow")  # type: ignore[attr-defined]
            self.narrow_changed(narrow)

    def narrow_changed(self, narrow: bool) -> None:
        """Called when a resize crossed :data:`NARROW_BELOW` (after the class changed)."""
