"""plotext's and textual-plotext's internals: a figure read from plotext's cell matrix.

:func:`figure_content` shows what ``PlotextPlot.render`` returns --
``Text.from_ansi(plot.build())`` -- without its string round trip: plotext writing every
cell and colour change as an ANSI string (``set_canvas``), Rich parsing that string back
into styled text, and Textual converting the Rich text into Content. It calls the
private steps of ``plot.build`` (``_set_size``, ``_set_sizes``, ``_build_matrix``), reads
the matrix they fill, asks the widget for its plotext theme
(``PlotextPlot._get_plotext_theme_name``) and turns colours into ANSI codes as plotext
does (``plotext._utility.colors_to_ansi``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rich.ansi import AnsiDecoder
from textual.content import Content, Span
from textual.style import Style
from textual_plotext import PlotextPlot


def figure_content(widget: PlotextPlot, width: int, height: int) -> Content:
    """``widget``'s figure at ``width`` x ``height`` as Textual Content (the same
    characters and cell styles as ``PlotextPlot.render``)."""
    plot = widget.plt
    plot.plotsize(width, height)
    plot._set_size(width, height)  # as PlotextPlot.render does (textual-plotext issue 5)
    plot.theme(widget._get_plotext_theme_name(widget.app.theme))
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
                style = cell_style(fg[start], st[start], bg[start])
                if style is not None:
                    spans.append(Span(offset + start, offset + col, style))
                start = col
        rows.append("".join(markers))
        offset += cols + 1
    # from_ansi leaves a newline after the last row too (plotext ends every row with one)
    return Content("\n".join(rows) + "\n", spans)


@lru_cache(maxsize=256)
def cell_style(fullground: Any, style: Any, background: Any) -> Style | None:
    """The style of a plotext cell: what its ANSI codes decode to in Rich (None: plain)."""
    from plotext._utility import colors_to_ansi  # noqa: PLC0415  (plotext's own memo keys on them too)

    codes = colors_to_ansi(fullground, style, background)
    spans = AnsiDecoder().decode_line(codes + "x").spans if codes else []
    return Style.from_rich_style(spans[0].style) if spans else None
