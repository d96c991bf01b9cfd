"""LeanSelect: Textual's Select with a one-widget closed line and an overlay mounted on first open."""

from __future__ import annotations

from fake_engine import wait_for
from textual.app import App, ComposeResult
from textual.widgets import Select
from textual.widgets._select import SelectOverlay

from cnn_tui.tui.widgets.lean_select import LeanSelect, LeanSelectCurrent

OPTIONS = [(name, name) for name in ("adam", "sgd", "rmsprop", "adamw")]


class _SelectApp(App):
    def __init__(self, **select_kwargs) -> None:
        super().__init__()
        self.select_kwargs = select_kwargs
        self.changes: list = []

    def compose(self) -> ComposeResult:
        yield LeanSelect(OPTIONS, id="sel", **self.select_kwargs)

    def on_select_changed(self, event: Select.Changed) -> None:
        self.changes.append(event.value)


def _line(app: _SelectApp) -> str:
    return str(app.query_one(LeanSelectCurrent).render())


def _opened(select: LeanSelect) -> bool:
    """Open, with the overlay (mounted by a worker on the first open) shown."""
    overlays = select.query(SelectOverlay)
    return select.expanded and len(overlays) == 1 and overlays.first().display


async def test_closed_select_is_one_line_widget_without_overlay():
    app = _SelectApp(value="sgd", allow_blank=False)
    async with app.run_test() as pilot:
        await pilot.pause()
        select = app.query_one(LeanSelect)
        assert [type(w) for w in select.children] == [LeanSelectCurrent]
        assert select.value == "sgd" and "sgd" in _line(app) and "▼" in _line(app)
        assert isinstance(select, Select)  # code and tests that look for Select find it


async def test_keyboard_opens_the_list_and_picks_an_option():
    app = _SelectApp(value="adam", allow_blank=False)
    async with app.run_test() as pilot:
        select = app.query_one(LeanSelect)
        select.focus()
        await pilot.press("enter")
        assert await wait_for(lambda: _opened(select) and select.query_one(SelectOverlay).has_focus)
        overlay = select.query_one(SelectOverlay)
        assert overlay.option_count == len(OPTIONS) and overlay.highlighted == 0  # the current value
        assert "▲" in _line(app)
        await pilot.press("down", "down", "enter")
        assert await wait_for(lambda: select.value == "rmsprop" and not select.expanded and select.has_focus)
        assert "rmsprop" in _line(app) and "▼" in _line(app)
        assert await wait_for(lambda: app.changes and app.changes[-1] == "rmsprop")
        await pilot.press("enter")  # reopening reuses the overlay, highlighting the value
        assert await wait_for(lambda: _opened(select) and overlay.highlighted == 2)
        await pilot.press("escape")
        assert await wait_for(lambda: not select.expanded)
        assert select.value == "rmsprop"


async def test_mouse_click_opens_the_list():
    app = _SelectApp(value="adam", allow_blank=False)
    async with app.run_test() as pilot:
        select = app.query_one(LeanSelect)
        assert await wait_for(lambda: app.query_one(LeanSelectCurrent).region.area > 0)
        assert await pilot.click(LeanSelectCurrent)
        assert await wait_for(lambda: _opened(select) and select.query_one(SelectOverlay).has_focus)
        await pilot.press("down", "enter")
        assert await wait_for(lambda: select.value == "sgd")


async def test_set_options_and_prompt_before_the_first_open():
    app = _SelectApp(prompt="(none)")
    async with app.run_test() as pilot:
        select = app.query_one(LeanSelect)
        await pilot.pause()
        assert select.value is Select.NULL and "(none)" in _line(app)
        select.prompt = "(custom config)"
        await pilot.pause()
        assert "(custom config)" in _line(app)
        select.set_options([("one", 1), ("two", 2)])
        select.value = 2
        assert "two" in _line(app)
        assert await wait_for(lambda: app.changes and app.changes[-1] == 2)
        select.focus()
        await pilot.press("enter")
        assert await wait_for(lambda: _opened(select) and select.query_one(SelectOverlay).has_focus)
        overlay = select.query_one(SelectOverlay)
        assert overlay.option_count == 3  # the blank prompt and the two options
        await pilot.press("up", "enter")
        assert await wait_for(lambda: select.value == 1)
        assert "one" in _line(app)
