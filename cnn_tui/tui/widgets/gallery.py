"""The misclassified-sample gallery: images drawn with half-block pixels, paged and filtered.

Each tile is a test image (nearest-neighbour upscaled when tiny, e.g. 8x8 -> 16x16, shrunk
when bigger than 32 px) titled ``true -> pred (confidence)``. Filters narrow the set to one
true class and/or one predicted class; paging walks through what is left.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from rich.color import Color, ColorType
from rich.color_triplet import ColorTriplet
from rich.console import Group
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from rich_pixels import Pixels
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.strip import Strip
from textual.visual import Visual
from textual.widgets import Label, Select, Static

from cnn_tui.core.results.samples import Sample

MIN_SIDE = 16  # smaller images are upscaled by an integer factor to at least this
MAX_SIDE = 32  # bigger ones are shrunk to this


def display_size(height: int, width: int) -> tuple[int, int]:
    """(height, width) in pixels at which an image is drawn."""
    side = max(height, width)
    if side < MIN_SIDE:
        factor = math.ceil(MIN_SIDE / side)
        return height * factor, width * factor
    if side > MAX_SIDE:
        scale = MAX_SIDE / side
        return max(1, round(height * scale)), max(1, round(width * scale))
    return height, width


def sample_pixels(image: Any) -> Pixels:
    """A rich-pixels renderable of a uint8 (H, W, C) image (C = 1, 3 or 4)."""
    import numpy as np
    from PIL import Image

    arr = np.asarray(image, dtype=np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        pil = Image.fromarray(arr, mode="L")
    elif arr.shape[2] == 3:
        pil = Image.fromarray(arr, mode="RGB")
    else:
        pil = Image.fromarray(arr[..., :4], mode="RGBA")
    height, width = display_size(arr.shape[0], arr.shape[1])
    if (height, width) != (arr.shape[0], arr.shape[1]):
        upscale = height > arr.shape[0]
        pil = pil.resize((width, height), Image.Resampling.NEAREST if upscale else Image.Resampling.BOX)
    return halfblock_pixels(pil)


# rich-pixels' half-cell renderer parses a style string ("rgb(r,g,b) on rgb(r,g,b)") for
# every cell: ~8 ms a 28x28 image, i.e. 0.06-0.1 s of UI thread for a page of new tiles.
# halfblock_pixels draws the same segments (same characters, equal styles) with the
# colours and cells cached: ~0.4-2 ms an image.
_CELL_CACHE_MAX = 1 << 17
_cells: dict[tuple[int, int], Segment] = {}
_colors: dict[int, Color] = {}
_NEWLINE = Segment("\n", None)


def _color(rgba: int) -> Color | None:
    """The colour of a pixel packed as 0xRRGGBBAA (None when fully transparent)."""
    if not rgba & 0xFF:
        return None
    rgb = rgba >> 8
    color = _colors.get(rgb)
    if color is None:
        r, g, b = rgb >> 16, (rgb >> 8) & 0xFF, rgb & 0xFF
        color = _colors[rgb] = Color(f"rgb({r},{g},{b})", ColorType.TRUECOLOR, triplet=ColorTriplet(r, g, b))
    return color


def _cell(lower: int, upper: int) -> Segment:
    """A half-block cell: the lower pixel is the foreground of "▄", the upper the background."""
    key = (lower, upper)
    cell = _cells.get(key)
    if cell is None:
        if len(_cells) >= _CELL_CACHE_MAX:
            _cells.clear()
        lower_color = _color(lower)
        cell = _cells[key] = Segment("▄" if lower_color else " ", Style.from_color(lower_color, _color(upper)))
    return cell


def halfblock_pixels(image: Any) -> Pixels:
    """What ``Pixels.from_image(image)`` draws (rich-pixels' half-cell renderer, no
    default colour), built faster."""
    import numpy as np
    from PIL import Image

    rgba = image.convert("RGBA")
    if rgba.height % 2:  # two pixel rows a line: pad like rich-pixels (nearest resize)
        rgba = rgba.resize((rgba.width, rgba.height + 1), resample=Image.Resampling.NEAREST)
    arr = np.asarray(rgba, dtype=np.uint32)
    packed = (arr[..., 0] << 24) | (arr[..., 1] << 16) | (arr[..., 2] << 8) | arr[..., 3]
    segments: list[Segment] = []
    append = segments.append
    for upper_row, lower_row in zip(packed[0::2].tolist(), packed[1::2].tolist()):
        for upper, lower in zip(upper_row, lower_row):
            append(_cell(lower, upper))
        append(_NEWLINE)
    return Pixels.from_segments(segments)


def class_label(class_names: Sequence[str], index: int) -> str:
    return class_names[index] if 0 <= index < len(class_names) else str(index)


def sample_title(sample: Sample, class_names: Sequence[str]) -> str:
    """``true -> pred (0.87)`` with class names."""
    return f"{class_label(class_names, sample.true)} -> {class_label(class_names, sample.pred)} ({sample.confidence:.2f})"


class SampleTile(Static):
    """One image with its title."""

    DEFAULT_CSS = """
    SampleTile {
        width: 1fr;
        height: 1fr;
        content-align: center top;
        text-align: center;
    }
    """

    def __init__(self) -> None:
        super().__init__("")
        self.sample: Sample | None = None
        self.title_text = ""
        self._lines: dict[tuple, list[Strip]] | None = None

    def show(
        self,
        sample: Sample | None,
        class_names: Sequence[str],
        cache: dict[int, Pixels] | None = None,
        lines: dict[tuple, list[Strip]] | None = None,
    ) -> None:
        """Draw ``sample`` (None hides the tile); ``cache`` keeps the Pixels of samples
        already drawn (by ``id``), so paging back and forth does not rebuild them, and
        ``lines`` their rendered lines (see :meth:`render_line`)."""
        if sample is self.sample and sample is not None:
            return
        self.sample = sample
        self._lines = lines
        self.display = sample is not None
        if sample is None:
            self.title_text = ""
            self.update("", layout=False)
            return
        self.title_text = sample_title(sample, class_names)
        pixels = cache.get(id(sample)) if cache is not None else None
        if pixels is None:
            pixels = sample_pixels(sample.image)
            if cache is not None:
                cache[id(sample)] = pixels
        # The grid fixes every tile's size (grid_rows / columns): no layout pass needed.
        self.update(Group(pixels, Text(self.title_text, no_wrap=True, overflow="ellipsis")), layout=False)

    def render_line(self, y: int) -> Strip:
        # Rendering a tile (Rich renders the image's ~400 cells, then Textual splits,
        # styles and aligns them) costs several ms; a page of 8-12 new tiles made each
        # n/b press slow. The lines of a sample drawn before at the same size and style
        # are kept in the gallery's ``lines`` cache and reused as they are.
        lines = self._lines
        if lines is None or self.sample is None or self.text_selection is not None:
            return super().render_line(y)
        width, height = self.size
        style = self.visual_style
        key = (id(self.sample), width, height, style)
        strips = lines.get(key)
        if strips is None:
            strips = lines[key] = Visual.to_strips(self, self.render(), width, height, style)
        if y < len(strips):
            return strips[y]
        return Strip.blank(width, style.rich_style)


class SampleGallery(Vertical):
    """Pages of misclassified samples with true/predicted class filters."""

    DEFAULT_CSS = """
    SampleGallery {
        height: auto;
    }
    SampleGallery #gallery-bar {
        height: auto;
    }
    SampleGallery #gallery-bar Select {
        width: 28;
        margin-right: 1;
    }
    SampleGallery #gallery-status {
        padding: 1 1;
        width: 1fr;
    }
    SampleGallery #gallery-grid {
        height: auto;
        grid-gutter: 0 1;
    }
    """

    def __init__(
        self,
        page_size: int | None = None,
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._fixed_page_size = page_size
        self.samples: list[Sample] = []
        self.class_names: list[str] = []
        self.true_filter: int | None = None
        self.pred_filter: int | None = None
        self.page = 0
        self.total: int | None = None
        self.message = "loading misclassified samples…"
        self._tile_size = (18, 9)  # (width, height) in cells, from the image size
        self._pixels: dict[int, Pixels] = {}
        """Pixels of the samples drawn so far, by ``id`` (reset with the samples)."""
        self._lines: dict[tuple, list[Strip]] = {}
        """Rendered tile lines by (sample id, width, height, style) (see SampleTile.render_line)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="gallery-bar"):
            yield Select([], prompt="true: any", id="filter-true")
            yield Select([], prompt="predicted: any", id="filter-pred")
            yield Label(self.message, id="gallery-status")
        yield Grid(*(SampleTile() for _ in range(self.max_page_size)), id="gallery-grid")

    @property
    def max_page_size(self) -> int:
        return self._fixed_page_size or 12

    @property
    def page_size(self) -> int:
        """Images per page: 12 small ones, 8 when they are drawn 28 px or wider."""
        if self._fixed_page_size:
            return self._fixed_page_size
        return 12 if self._tile_size[0] < 28 else 8

    # -- data -------------------------------------------------------------------------

    def set_message(self, message: str) -> None:
        """Show ``message`` instead of images (loading, no samples, an error)."""
        self.samples = []
        self.message = message
        self._refresh_options()
        self._show_page()

    def set_samples(self, samples: Sequence[Sample], class_names: Sequence[str], *, total: int | None = None) -> None:
        """Show ``samples``; ``total`` is the run's count of mistakes when it kept fewer images."""
        self.samples = list(samples)
        self._pixels = {}
        self._lines = {}
        for tile in self.query(SampleTile) if self.is_mounted else ():
            tile.sample = None  # new samples: redraw every tile
        self.total = total if total and total > len(self.samples) else None
        self.class_names = [str(n) for n in class_names]
        self.true_filter = self.pred_filter = None
        self.page = 0
        self.message = "" if self.samples else "no misclassified test samples"
        if self.samples:
            height, width = display_size(*self.samples[0].image.shape[:2])
            longest = max(len(sample_title(s, self.class_names)) for s in self.samples)
            self._tile_size = (max(width, min(longest, 30)), (height + 1) // 2 + 1)
        self._refresh_options()
        self._show_page()

    @property
    def filtered(self) -> list[Sample]:
        return [
            s
            for s in self.samples
            if (self.true_filter is None or s.true == self.true_filter)
            and (self.pred_filter is None or s.pred == self.pred_filter)
        ]

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(len(self.filtered) / self.page_size))

    @property
    def page_samples(self) -> list[Sample]:
        """The samples on the current page."""
        start = self.page * self.page_size
        return self.filtered[start : start + self.page_size]

    @property
    def titles(self) -> list[str]:
        return [sample_title(s, self.class_names) for s in self.page_samples]

    # -- actions ----------------------------------------------------------------------

    def next_page(self) -> None:
        if self.page + 1 < self.page_count:
            self.page += 1
            self._show_page()

    def previous_page(self) -> None:
        if self.page > 0:
            self.page -= 1
            self._show_page()

    def set_filter(self, *, true: int | None | bool = False, pred: int | None | bool = False) -> None:
        """Set the true and/or predicted class filter (None = any; False = leave as is)."""
        if true is not False:
            self.true_filter = true  # type: ignore[assignment]
            self._sync_select("#filter-true", self.true_filter)
        if pred is not False:
            self.pred_filter = pred  # type: ignore[assignment]
            self._sync_select("#filter-pred", self.pred_filter)
        self.page = 0
        self._refresh_options()
        self._show_page()

    def cycle_filter(self, which: str) -> None:
        """Step the ``"true"`` or ``"pred"`` filter to the next class present (then back to any)."""
        choices: list[int | None] = [None, *self._present_classes(which)]
        current = self.true_filter if which == "true" else self.pred_filter
        nxt = choices[(choices.index(current) + 1) % len(choices)] if current in choices else None
        self.set_filter(**{which: nxt})

    def clear_filters(self) -> None:
        self.set_filter(true=None, pred=None)

    # -- internals --------------------------------------------------------------------

    def _counts(self, which: str) -> dict[int, int]:
        """Samples per class of the ``which`` filter among those the OTHER filter lets through
        (faceted: with true = Trouser, the predicted-class counts are of Trouser's mistakes)."""
        other = self.pred_filter if which == "true" else self.true_filter
        counts: dict[int, int] = {}
        for s in self.samples:
            if other is not None and (s.pred if which == "true" else s.true) != other:
                continue
            key = s.true if which == "true" else s.pred
            counts[key] = counts.get(key, 0) + 1
        return counts

    def _present_classes(self, which: str) -> list[int]:
        return sorted(self._counts(which))

    def _refresh_options(self) -> None:
        if not self.is_mounted:
            return
        for which, sel_id, prefix in (("true", "#filter-true", "true"), ("pred", "#filter-pred", "pred")):
            counts = self._counts(which)
            current = self.true_filter if which == "true" else self.pred_filter
            if current is not None:
                counts.setdefault(current, 0)  # the chosen class stays, with its count (maybe 0)
            options = [(f"{prefix}: {class_label(self.class_names, c)} ({counts[c]})", c) for c in sorted(counts)]
            select = self.query_one(sel_id, Select)
            with select.prevent(Select.Changed):
                select.set_options(options)
                if current is not None:
                    select.value = current

    def _sync_select(self, sel_id: str, value: int | None) -> None:
        if not self.is_mounted:
            return
        select = self.query_one(sel_id, Select)
        with select.prevent(Select.Changed):
            if value is None:
                select.clear()
            else:
                select.value = value

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = None if event.value is Select.NULL else int(event.value)  # type: ignore[arg-type]
        if event.select.id == "filter-true" and value != self.true_filter:
            self.true_filter = value
        elif event.select.id == "filter-pred" and value != self.pred_filter:
            self.pred_filter = value
        else:
            return
        self.page = 0
        self._refresh_options()
        self._show_page()

    def on_mount(self) -> None:
        self._refresh_options()
        self._show_page()

    def on_resize(self) -> None:
        self._layout_grid()

    def _layout_grid(self) -> None:
        if not self.is_mounted:
            return
        grid = self.query_one("#gallery-grid", Grid)
        tile_w, tile_h = self._tile_size
        width = self.content_region.width or 80
        columns = max(1, min(self.page_size, (width + 1) // (tile_w + 1)))
        grid.styles.grid_size_columns = columns
        grid.styles.grid_rows = str(tile_h)

    def _show_page(self) -> None:
        if not self.is_mounted:
            return
        self.page = min(self.page, self.page_count - 1)
        shown = self.page_samples
        for i, tile in enumerate(self.query(SampleTile)):
            tile.show(shown[i] if i < len(shown) else None, self.class_names, self._pixels, self._lines)
        self._layout_grid()
        if not self.samples:
            self._set_status(self.message)
            return
        matching = len(self.filtered)
        if not matching:
            self._set_status(f"no sample matches the filter ({len(self.samples)} misclassified)")
            return
        start = self.page * self.page_size
        what = (
            f"{matching} matching ({len(self.samples)} misclassified)"
            if matching != len(self.samples)
            else f"{matching} misclassified"
        )
        if self.total:
            what += f" (images of the {len(self.samples)} most confident of {self.total:,})"
        self._set_status(f"page {self.page + 1}/{self.page_count} · {start + 1}-{start + len(shown)} of {what}")

    def _set_status(self, text: str) -> None:
        """Show ``text`` in the bar, with a layout pass only when its height changes (the
        label's width is fixed; a layout of the whole Results screen cost 0.1-0.3 s a
        page under load)."""
        status = self.query_one("#gallery-status", Label)
        status.update(text, layout=False)
        region = status.content_region
        if not region.width or status.get_content_height(region.size, region.size, region.width) != region.height:
            status.refresh(layout=True)
