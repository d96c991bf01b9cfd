"""A PlotextPlot that holds named series and redraws only when told to.

The training screen pushes data in with :meth:`LivePlot.set_series` as often as events
arrive and calls :meth:`LivePlot.redraw` from a throttled timer, so plotext builds the
figure a few times per second at most. ``series`` is public so tests can check exactly
which points a plot received.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual_plotext import PlotextPlot

from cnn_tui.tui.compat.plotext import figure_content

# Fixed colours keep the legend readable and the snapshots stable.
_COLORS = ("cyan", "orange", "green", "magenta")


class LivePlot(PlotextPlot):
    """A line plot of a few named series (x and y lists)."""

    DEFAULT_CSS = """
    LivePlot {
        width: 1fr;
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(
        self,
        title: str,
        xlabel: str = "",
        *,
        ylim: tuple[float, float] | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.xlabel = xlabel
        self.ylim = ylim
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self._dirty = True
        self.draws = 0
        """How many times the figure was rebuilt (tests check the throttle)."""
        self._rendered: tuple[tuple, Content] | None = None
        self._lines: tuple[tuple, list[Strip]] | None = None
        self._refreshes = 0

    def set_series(self, label: str, xs: Sequence[float], ys: Sequence[float]) -> None:
        """Replace the points of one series (copied); marks the plot for the next redraw."""
        new = (list(xs), list(ys))
        if self.series.get(label) != new:
            self.series[label] = new
            self._dirty = True

    def set_title(self, title: str) -> None:
        if title != self.title:
            self.title = title
            self._dirty = True

    def clear_series(self) -> None:
        if self.series:
            self.series = {}
            self._dirty = True

    def redraw(self, force: bool = False) -> bool:
        """Rebuild the plotext figure if anything changed; returns whether it did."""
        if not (self._dirty or force):
            return False
        self._dirty = False
        self.draws += 1
        plt = self.plt
        plt.clear_figure()
        plt.title(self.title)
        if self.xlabel:
            plt.xlabel(self.xlabel)
        if self.ylim is not None:
            plt.ylim(*self.ylim)
        drawn = False
        for i, (label, (xs, ys)) in enumerate(self.series.items()):
            points = [(x, y) for x, y in zip(xs, ys) if y is not None and y == y]
            if not points:
                continue
            px, py = zip(*points)
            plt.plot(list(px), list(py), label=label, color=_COLORS[i % len(_COLORS)], marker="braille")
            drawn = True
        if not drawn:
            plt.xticks([])
            plt.yticks([])
        self.refresh()
        return True

    def refresh(self, *regions: Region, **kwargs) -> "LivePlot":
        self._refreshes += 1  # anything that asks for a repaint invalidates render_lines' cache
        return super().refresh(*regions, **kwargs)

    def render_lines(self, crop: Region) -> list[Strip]:
        # A layout pass elsewhere on the screen (the run log growing, a label resizing)
        # makes the compositor render every widget again; for a plot that costs ~10 ms
        # of the UI thread (styling ~1,000 cells), time the training thread waits for
        # the GIL. Unless this plot itself was refreshed or resized, its lines are the same.
        key = (self._refreshes, self.draws, self.size, crop, self.app.theme)
        if self._lines is None or self._lines[0] != key:
            self._lines = (key, super().render_lines(crop))
        return self._lines[1]

    def render(self) -> Content:
        # PlotextPlot.render builds the whole figure (and parses its ANSI) on every call,
        # e.g. whenever a layout pass repaints the screen; build it again only when the
        # figure, the size or the theme changed.
        key = (self.draws, self.size, self.app.theme)
        if self._rendered is None or self._rendered[0] != key:
            self._rendered = (key, self._figure_content())
        return self._rendered[1]

    def _figure_content(self) -> Content:
        """The figure as Textual Content, read from plotext's cell matrix
        (:func:`cnn_tui.tui.compat.plotext.figure_content`: the characters and the style of
        every cell are those of ``PlotextPlot.render``, ``test_live_plot`` checks it cell by
        cell). Per plot build and paint: ~8.5 ms -> ~4.4 ms here."""
        width, height = self.size
        return figure_content(self, width, height)
