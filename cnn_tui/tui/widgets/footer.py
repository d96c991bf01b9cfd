"""Textual's Footer without its leak of footer keys.

Each time the bindings change (every screen switch, focus change or relabelled key),
Textual's ``Footer`` recomposes: it removes its ``FooterKey`` widgets and makes new ones,
each ``data_bind``-ing its ``compact`` to the footer. The binding registers a watcher on
the footer that Textual prunes only when ``compact`` changes, which it never does in this
app; so every recompose left ~15 dead widgets (with their styles, caches and strips)
reachable for the life of the app: ~130 per cycle of screen switches, each making every
full garbage collection slower. This footer drops the watchers of closed widgets before
it composes again, and starts the new keys in the footer's style (see compose).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey


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


class Footer(TextualFooter):
    """The key bar at the bottom of every screen (Textual's, minus the leak)."""

    def compose(self) -> ComposeResult:
        prune_closed_watchers(self)  # the keys of the previous compose are gone by now
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                # A key starts compact (its own default) and is data-bound to the footer's
                # non-compact style only once mounted: a class change that restyled every
                # key again on every screen switch. Start it as the footer is. (The
                # command palette's key is not bound: it stays compact.)
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget
