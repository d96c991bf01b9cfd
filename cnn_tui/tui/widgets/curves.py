"""Per-epoch curves drawn with textual-plotext.

:class:`CurvePlot` draws any number of named series against the epoch;
:class:`TrainingCurves` shows one run's train-vs-validation loss and accuracy side by side;
:func:`overlay_series` turns several runs' histories into one series per run (the Runs
screen's comparison plot).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Horizontal
from textual_plotext import PlotextPlot


@dataclass(frozen=True)
class Series:
    """One line of a plot: y against epoch x."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def history_series(history: Sequence[dict[str, Any]], key: str, label: str) -> Series | None:
    """The epochs of ``history`` (rows from RunInfo.history()) where ``key`` has a finite value."""
    points = [(float(r["epoch"]), float(r[key])) for r in history if _finite(r.get(key)) and _finite(r.get("epoch"))]
    if not points:
        return None
    xs, ys = zip(*points)
    return Series(label, tuple(xs), tuple(ys))


def overlay_series(runs: Iterable[tuple[str, Sequence[dict[str, Any]]]], key: str) -> list[Series]:
    """One series per run (label, history) with its ``key`` column; runs without it are left out."""
    out = []
    for label, history in runs:
        series = history_series(history, key, label)
        if series is not None:
            out.append(series)
    return out


def epoch_figure(plt: Any, title: str, ylabel: str, epochs: Sequence[float], draw) -> None:
    """A fresh per-epoch figure: title, axis labels, ``draw()`` the lines, then integer
    epoch ticks when there are few enough to read."""
    plt.clear_figure()
    plt.title(title)
    plt.xlabel("epoch")
    if ylabel:
        plt.ylabel(ylabel)
    draw()
    if len(epochs) <= 12:
        plt.xticks(list(epochs), [str(int(e)) for e in epochs])


class CurvePlot(PlotextPlot):
    """A line plot of :class:`Series` against the epoch."""

    DEFAULT_CSS = """
    CurvePlot {
        width: 1fr;
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(
        self,
        title: str = "",
        ylabel: str = "",
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.plot_title = title
        self.ylabel = ylabel
        self.series: list[Series] = []

    def set_series(self, series: Sequence[Series], *, title: str | None = None, ylabel: str | None = None) -> None:
        self.series = list(series)
        if title is not None:
            self.plot_title = title
        if ylabel is not None:
            self.ylabel = ylabel
        self.refresh()

    def render(self) -> RenderResult:
        if not self.series:
            return Text(f"{self.plot_title}: no epochs recorded", style="dim")
        plt = self.plt

        def draw() -> None:
            for s in self.series:
                plt.plot(list(s.x), list(s.y), label=s.label, marker="braille")

        epochs = sorted({x for s in self.series for x in s.x})
        epoch_figure(plt, self.plot_title, self.ylabel, epochs, draw)
        return super().render()


class TrainingCurves(Horizontal):
    """Train vs validation loss (left) and accuracy (right) per epoch of one run."""

    DEFAULT_CSS = """
    TrainingCurves {
        height: 1fr;
        min-height: 12;
    }
    """

    def compose(self) -> ComposeResult:
        yield CurvePlot("loss", id="curve-loss")
        yield CurvePlot("accuracy", id="curve-accuracy")

    def set_history(self, history: Sequence[dict[str, Any]]) -> None:
        for metric in ("loss", "accuracy"):
            series = [
                s
                for s in (history_series(history, metric, "train"), history_series(history, f"val_{metric}", "val"))
                if s is not None
            ]
            self.query_one(f"#curve-{metric}", CurvePlot).set_series(series)
