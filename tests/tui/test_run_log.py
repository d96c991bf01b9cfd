"""RunLog: lines appended to the Training screen's log repaint the log, not the screen."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import RichLog, Static

from cnn_tui.tui.widgets.run_log import RunLog


class _LogApp(App):
    # overflow-y auto (RichLog's own CSS says scroll) so the scrollbar's arrival is tested too.
    CSS = "#top { height: 3; } RichLog { height: 6; overflow-y: auto; }"

    def __init__(self, log_class: type[RichLog]) -> None:
        super().__init__()
        self.log_class = log_class

    def compose(self) -> ComposeResult:
        yield Static("top", id="top")
        yield self.log_class(id="log", max_lines=100, wrap=False, markup=False, highlight=False)


def _count_layouts(monkeypatch) -> list[int]:
    calls: list[int] = []
    original = Screen._refresh_layout

    def refresh_layout(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", refresh_layout)
    return calls


async def _write_lines(app: _LogApp, pilot, first: int, count: int) -> RichLog:
    log = app.query_one("#log", RichLog)
    for i in range(first, first + count):
        log.write(f"epoch {i}: loss {1 / i:.4f}")
        await pilot.pause()
    await pilot.pause()
    return log


async def test_appending_lines_does_not_lay_out_the_screen(monkeypatch):
    app = _LogApp(RunLog)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        await _write_lines(app, pilot, 1, 20)  # past the box: the scrollbar is shown already
        calls = _count_layouts(monkeypatch)
        log = await _write_lines(app, pilot, 21, 5)
        assert len(calls) == 0
        # The scroll range and scrollbar followed the 25 lines; the view sits at the end.
        assert log.virtual_size.height == 25
        assert log.show_vertical_scrollbar
        assert log.max_scroll_y == 25 - log.scrollable_content_region.height > 0
        assert log.scroll_y == log.max_scroll_y
        assert "epoch 25" in log.lines[-1].text


async def test_plain_richlog_lays_out_per_line(monkeypatch):
    """The counter sees RichLog's own behaviour (a layout per write), so the zero above is
    measured, not a counter that never fires."""
    app = _LogApp(RichLog)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        await _write_lines(app, pilot, 1, 20)
        calls = _count_layouts(monkeypatch)
        await _write_lines(app, pilot, 21, 5)
        assert len(calls) >= 5


async def test_log_shows_its_last_lines_and_scrolls_back():
    app = _LogApp(RunLog)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        log = await _write_lines(app, pilot, 1, 3)
        assert not log.show_vertical_scrollbar  # 3 lines fit in the box
        assert [line.text for line in log.lines] == [f"epoch {i}: loss {1 / i:.4f}" for i in (1, 2, 3)]
        log = await _write_lines(app, pilot, 4, 10)
        assert log.show_vertical_scrollbar  # appeared once the lines overflowed the box
        assert log.scroll_y == log.max_scroll_y > 0
        log.scroll_home(animate=False)
        await pilot.pause()
        assert log.scroll_y == 0
        log.clear()
        await pilot.pause()
        assert log.virtual_size.height == 0 and log.max_scroll_y == 0
