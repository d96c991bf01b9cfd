"""A PlotextPlot that holds named series and redraws only when told to.

The training screen pushes data in with :meth:`LivePlot.set_series` as often as events
arrive and calls :meth:`LivePlot.redraw` from a throttled timer, so plotext builds the
figure a few times per second at most. ``series`` is public so tests can check exactly
which points a plot received.
"""

from __future__ import annotations

from collections.abc import Sequence

from functools import lru_cache
from typing import Any

from rich.ansi import AnsiDecoder
from textual.content import Content, Span
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style
from textual_plotext import PlotextPlot

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
        """The figure as Textual Content, read from plotext's cell matrix.

        Shows what ``PlotextPlot.render`` returns -- ``Text.from_ansi(plot.build())`` --
        without its string round trip: plotext writing every cell and colour change as an
        ANSI string (``set_canvas``), Rich parsing that string back into styled text, and
        Textual converting the Rich text into Content. The characters and the style of
        every cell are the same (``test_live_plot`` checks it cell by cell against
        PlotextPlot.render); each colour triple becomes a style once (:func:`_cell_style`).
        Per plot build and paint: ~8.5 ms -> ~4.4 ms here.
        """
        plot = self.plt
        width, height = self.size
        plot.plotsize(width, height)
        plot._set_size(width, height)  # as PlotextPlot.render does (textual-plotext issue 5)
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        plot._set_sizes()
        plot._build_matrix()
        m = plot.monitor.matrix
        rows: list[str] = []
        spans: list[Span] = []
        offset = 0
        for row in reversed(m.Rows):  # plotext's row 0 is the bottom one
            markers, fg, st, bg = m.marker[row], m.fullground[row], m.style[row], m.background[row]
            start, cols = 0, len(markers)
            for col in range(1, cols + 1):
                if col == cols or fg[col] != fg[start] or st[col] != st[start] or bg[col] != bg[start]:
                    style = _cell_style(fg[start], st[start], bg[start])
                    if style is not None:
                        spans.append(Span(offset + start, offset + col, style))
                    start = col
            rows.append("".join(markers))
            offset += cols + 1
        # from_ansi leaves a newline after the last row too (plotext ends every row with one)
        return Content("\n".join(rows) + "\n", spans)


@lru_cache(maxsize=256)
def _cell_style(fullground: Any, style: Any, background: Any) -> Style | None:
    """The style of a plotext cell: what its ANSI codes decode to in Rich (None: plain)."""
    from plotext._utility import colors_to_ansi  # noqa: PLC0415  (plotext's own memo keys on them too)

    codes = colors_to_ansi(fullground, style, background)
    spans = AnsiDecoder().decode_line(codes + "x").spans if codes else []
    return Style.from_rich_style(spans[0].style) if spans else None
