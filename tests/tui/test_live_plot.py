"""LivePlot: the figure is rebuilt only when its data changed, its lines only when repainted."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.geometry import Region

from cnn_tui.tui.widgets.live_plot import LivePlot


class _PlotApp(App):
    def compose(self) -> ComposeResult:
        yield LivePlot("loss", id="plot")


async def test_lines_are_reused_until_the_plot_is_redrawn_refreshed_or_resized():
    app = _PlotApp()
    async with app.run_test(size=(60, 20)) as pilot:
        plot = app.query_one(LivePlot)
        plot.set_series("train", [1, 2, 3], [0.9, 0.5, 0.4])
        assert plot.redraw()
        await pilot.pause()
        crop = Region(0, 0, plot.size.width, plot.size.height)
        first = plot.render_lines(crop)
        assert plot.render_lines(crop) is first  # a repaint of the screen around it: same lines
        assert not plot.redraw()  # nothing changed: no rebuild either
        plot.set_series("train", [1, 2, 3, 4], [0.9, 0.5, 0.4, 0.3])
        assert plot.redraw()
        second = plot.render_lines(crop)
        assert second is not first and plot.render_lines(crop) is second
        plot.refresh()  # any repaint request (style, theme...) renders again
        assert plot.render_lines(crop) is not second
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        resized = plot.render_lines(Region(0, 0, plot.size.width, plot.size.height))
        assert len(resized) == plot.size.height and resized[0].cell_length == plot.size.width


class _ThreePlots(App):
    def compose(self) -> ComposeResult:
        yield LivePlot("Loss per epoch", "epoch", id="loss")
        yield LivePlot("Accuracy per epoch", "epoch", ylim=(0.0, 1.0), id="acc")
        yield LivePlot("Current epoch (running mean)", "step", id="empty")


def _cells(plot: LivePlot, renderable) -> list[list[tuple[str, str]]]:
    """(character, style) of every cell, as Textual paints the renderable in ``plot``."""
    from textual.visual import Visual, visualize

    width, height = plot.size
    strips = Visual.to_strips(plot, visualize(plot, renderable), width, height, plot.visual_style)
    return [[(ch, str(seg.style)) for seg in strip for ch in seg.text] for strip in strips]


async def test_figure_cells_match_plotext_own_rendering_in_every_theme():
    # The figure is read from plotext's cell matrix instead of its ANSI string: the cells
    # must be exactly what PlotextPlot.render (Text.from_ansi of the string) paints.
    from textual_plotext import PlotextPlot

    app = _ThreePlots()
    async with app.run_test(size=(70, 45)) as pilot:
        loss, acc, empty = (app.query_one(f"#{i}", LivePlot) for i in ("loss", "acc", "empty"))
        loss.set_series("train", [1, 2, 3, 4, 5, 6], [0.9, 0.6, 0.5, 0.45, 0.4, 0.38])
        loss.set_series("validation", [1, 2, 3, 4, 5, 6], [0.8, 0.65, 0.55, 0.5, 0.48, 0.47])
        acc.set_series("train", [1, 2, 3], [0.3, 0.6, 0.9])
        acc.set_series("validation", [1, 2, 3], [0.25, float("nan"), 0.8])
        for plot in (loss, acc, empty):
            plot.redraw(force=True)
        await pilot.pause()
        for theme in ("textual-dark", "textual-light", "nord"):
            app.theme = theme
            await pilot.pause()
            for plot in (loss, acc, empty):
                ours = _cells(plot, plot._figure_content())
                theirs = _cells(plot, PlotextPlot.render(plot))
                assert len(ours) == plot.size.height and len(ours[0]) == plot.size.width
                assert ours == theirs, (theme, plot.id)
        # and the plot shows its data: braille line cells in the series colours
        text = "".join(ch for row in _cells(loss, loss._figure_content()) for ch, _ in row)
        assert "Loss per epoch" in text and any("\u2800" < ch <= "\u28ff" for ch in text)
