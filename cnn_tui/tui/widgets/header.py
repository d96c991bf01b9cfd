"""Textual's Header without its race against removal.

Textual's ``Header`` shows the title through watchers on the app's and the screen's
``title``/``sub_title``; each change (and the first call when the header mounts) runs an
async ``set_title`` later, through the watched object's message queue, which looks up the
header's ``HeaderTitle`` child and lets ``NoMatches`` escape when that child is gone. This
app builds and discards screens in the background (prebuilt Training/Runs screens, the kept
Results screen replaced after each run), so a header could be removed between the change and
the callback: the ``NoMatches`` then ended the whole app (it failed CI once, at app exit
after a run). This header runs the same callbacks but treats a missing title child as
"nothing to update", and drops the dead watchers that removed headers left on the app.
"""

from __future__ import annotations

from typing import Any

from textual.css.query import NoMatches
from textual.widgets import Header as TextualHeader

from cnn_tui.tui.compat.widgets import prune_closed_watchers


class Header(TextualHeader):
    """The title bar at the top of every screen (Textual's, minus the removal race)."""

    def watch(self, obj: Any, attribute_name: str, callback: Any, init: bool = True) -> None:
        # Textual's Header registers only zero-argument async callbacks (its set_title).
        async def guarded() -> None:
            try:
                await callback()
            except NoMatches:
                pass  # removed (or not yet composed) between the change and this call

        if obj is self.app:
            prune_closed_watchers(obj)  # the headers of discarded screens
        super().watch(obj, attribute_name, guarded, init=init)
