"""The Training screen's log: a RichLog whose writes repaint only itself.

``RichLog.write`` sets ``virtual_size``, a reactive declared with ``layout=True``: every
line appended made Textual lay out the whole Training screen again (~28 ms of the UI
thread per epoch here, about half of what the front end does while a run trains, and
CPU taken from the training threads). The log's box does not depend on its lines (it is
sized by CSS), so only its scroll range and scrollbars must follow them, which
``watch_virtual_size`` does. A scrollbar that appears or goes still lays the screen out
(Textual's ``show_*_scrollbar`` reactives), once, not per line.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog

from cnn_tui.tui.compat.widgets import scroll_update


class RunLog(RichLog):
    """A RichLog for a fixed-size box: appending lines repaints it, never the screen."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        # What a layout pass would do for a scroll view whose own size did not change
        # (ScrollView's size update): scrollbars and the valid scroll range follow the
        # content; the reactive's repaint refreshes the lines.
        scroll_update(self, size)
