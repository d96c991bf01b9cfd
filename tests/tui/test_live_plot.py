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
