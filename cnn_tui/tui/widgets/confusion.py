"""A confusion matrix drawn as a shaded grid of counts.

Rows are true classes, columns predicted classes. Each cell's background is shaded by
its share of the row (row-normalized), so a class with few samples reads as clearly as a
big one: the diagonal (correct) in green, mistakes in red. Counts are printed in the cells.
"""

from __future__ import annotations

from typing import Sequence

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

_BASE = (30, 30, 36)  # empty cell: near the dark surface
_HIT = (40, 170, 80)  # diagonal hue
_MISS = (215, 60, 50)  # off-diagonal hue
_LABEL_MAX = 14


def _blend(base: tuple[int, int, int], hue: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    t = min(1.0, max(0.0, t))
    return tuple(round(b + (h - b) * t) for b, h in zip(base, hue))  # type: ignore[return-value]


def cell_colour(share: float, diagonal: bool) -> tuple[int, int, int]:
    """Background RGB for a cell holding ``share`` (0..1) of its row."""
    if share <= 0:
        return _BASE
    # a floor so a single mistake is visible next to an empty cell
    return _blend(_BASE, _HIT if diagonal else _MISS, 0.15 + 0.85 * share)


def _abbrev(name: str, width: int) -> str:
    return name if len(name) <= width else name[: max(1, width - 1)] + "…"


class ConfusionMatrix(Widget):
    """Shaded confusion-matrix grid. Call :meth:`set_data` with counts and class names."""

    DEFAULT_CSS = """
    ConfusionMatrix {
        width: auto;
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(
        self,
        matrix: Sequence[Sequence[int]] | None = None,
        class_names: Sequence[str] | None = None,
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.matrix: list[list[int]] = []
        self.class_names: list[str] = []
        if matrix is not None:
            self._store(matrix, class_names)

    def _store(self, matrix: Sequence[Sequence[int]], class_names: Sequence[str] | None) -> None:
        self.matrix = [[int(v) for v in row] for row in matrix]
        k = len(self.matrix)
        names = [str(n) for n in (class_names or [])]
        self.class_names = names[:k] + [str(i) for i in range(len(names), k)]

    def set_data(self, matrix: Sequence[Sequence[int]], class_names: Sequence[str] | None = None) -> None:
        """Show ``matrix`` (K x K counts, rows = true class) labelled with ``class_names``."""
        self._store(matrix, class_names)
        self.refresh(layout=True)

    def row_shares(self) -> list[list[float]]:
        """Each cell's share of its row (what the shading shows)."""
        out = []
        for row in self.matrix:
            total = sum(row)
            out.append([v / total if total else 0.0 for v in row])
        return out

    def render(self) -> Text:
        if not self.matrix:
            return Text("no confusion matrix", style="dim")
        k = len(self.matrix)
        biggest = max((v for row in self.matrix for v in row), default=0)
        cell_w = max(2, len(str(biggest)), min(5, max(len(n) for n in self.class_names))) + 1
        label_w = max(3, min(_LABEL_MAX, max(len(n) for n in self.class_names)))
        shares = self.row_shares()

        text = Text(no_wrap=True, overflow="crop")
        corner = "true\\pred" if label_w >= 9 else "t\\p"
        text.append(f"{corner:<{label_w + 1}}"[: label_w + 1], style="dim")
        for j in range(k):
            text.append(f"{_abbrev(self.class_names[j], cell_w - 1):>{cell_w}}", style="bold")
        for i in range(k):
            text.append("\n")
            text.append(f"{_abbrev(self.class_names[i], label_w):<{label_w}} ", style="bold")
            for j in range(k):
                diagonal = i == j
                bg = cell_colour(shares[i][j], diagonal)
                lum = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
                fg = "rgb(20,20,20)" if lum > 140 else ("rgb(235,235,235)" if self.matrix[i][j] else "rgb(110,110,110)")
                style = Style(color=fg, bgcolor=f"rgb({bg[0]},{bg[1]},{bg[2]})", bold=diagonal)
                text.append(f"{self.matrix[i][j]:>{cell_w - 1}} ", style=style)
        text.append("\n")
        text.append("rows true · cols predicted", style="dim italic")
        return text
