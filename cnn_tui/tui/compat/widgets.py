"""Small reads and writes of Textual widgets' and drivers' private state.

- :data:`FooterKey`: the footer's key widget (not exported by ``textual.widgets``).
- :func:`prune_closed_watchers`: Textual's reactive watchers of a node, kept in its
  ``__watchers`` dict and pruned only when the watched value changes.
- :func:`scroll_update`: what a layout pass does for a scroll view whose box kept its
  size (``Widget._scroll_update``).
- :func:`set_driver_file`, :func:`driver_app`: the file a driver writes the screen to,
  and the app a driver serves (``Driver._file``, ``Driver._app``).
"""

from __future__ import annotations

from typing import IO, Any

from textual.app import App
from textual.dom import DOMNode
from textual.driver import Driver
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets._footer import FooterKey

__all__ = ["FooterKey", "driver_app", "prune_closed_watchers", "scroll_update", "set_driver_file"]


def prune_closed_watchers(node: DOMNode) -> int:
    """Drop ``node``'s reactive watchers registered by widgets that have been removed;
    returns how many were dropped."""
    watchers: dict[str, list] = getattr(node, "__watchers", None) or {}
    dropped = 0
    for callbacks in watchers.values():
        alive = [(owner, cb) for owner, cb in callbacks if not (owner._closing or owner._closed)]
        dropped += len(callbacks) - len(alive)
        callbacks[:] = alive
    return dropped


def scroll_update(view: Widget, virtual_size: Size) -> None:
    """Scrollbars and the valid scroll range of ``view`` follow ``virtual_size``."""
    view._scroll_update(virtual_size)


def set_driver_file(driver: Driver, file: IO[str] | Any) -> None:
    """Make ``driver`` write the screen to ``file``."""
    driver._file = file


def driver_app(driver: Driver) -> App:
    """The app ``driver`` runs."""
    return driver._app
