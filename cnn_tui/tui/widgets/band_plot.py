"""Each group's mean curve with a ± std band, drawn with textual-plotext.

The curves come from the core (:func:`cnn_tui.core.results.aggregate.group_curves`); this
widget only draws them: the mean as a solid line and mean ± std as dotted lines of the same
colour (where a group has n >= 2 trials at that epoch). ``series`` is public so tests can
check what was plotted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from cnn_tui.tui.widgets.curves import epoch_figure

_COLORS = ("cyan", "orange", "green", "magenta", "red", "blue", "yellow", "white")


@dataclass(frozen=True)
class Band:
    """One group's points: epochs, mean, and the band's lower/upper edges (epochs with a std)."""

    label: str
    x: tuple[float, ...]
    mean: tuple[float, ...]
    band_x: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]


def bands(curves: Sequence[Any]) -> list[Band]:
    """Core GroupCurves -> the points to draw."""
    out = []
    for c in curves:
        with_std = [(float(e), m - s, m + s) for e, m, s in zip(c.epochs, c.mean, c.std) if s is not None]
        bx, low, high = (tuple(v) for v in zip(*with_std)) if with_std else ((), (), ())
        out.append(Band(c.label, tuple(float(e) for e in c.epochs), tuple(c.mean), bx, low, high))
    return out


class BandPlot(PlotextPlot):
    """Mean ± std curves of several groups against the epoch."""

    DEFAULT_CSS = """
    BandPlot {
        width: 1fr;
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, title: str, ylabel: str = "", *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.plot_title = title
        self.ylabel = ylabel
        self.series: list[Band] = []

    def set_curves(self, curves: Sequence[Any]) -> None:
        series = bands(curves)
        if series != self.series:
            self.series = series
            self.refresh()

    def render(self) -> RenderResult:
        if not self.series:
            return Text(f"{self.plot_title}: no completed trial yet", style="dim")
        plt = self.plt

        def draw() -> None:
            for i, band in enumerate(self.series):
                color = _COLORS[i % len(_COLORS)]
                plt.plot(list(band.x), list(band.mean), label=band.label, marker="braille", color=color)
                if band.band_x:
                    plt.plot(list(band.band_x), list(band.low), marker="dot", color=color)
                    plt.plot(list(band.band_x), list(band.high), marker="dot", color=color)

        epochs = sorted({x for b in self.series for x in b.x})
        epoch_figure(plt, self.plot_title, self.ylabel, epochs, draw)
        return super().render()
