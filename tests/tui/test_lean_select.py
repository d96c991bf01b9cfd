"""LeanSelect: Textual's Select with a one-widget closed line and an overlay mounted on first open."""

from __future__ import annotations

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
        await pilot.pause()
        overlay = select.query_one(SelectOverlay)
        assert select.expanded and overlay.display and overlay.has_focus
        assert overlay.option_count == len(OPTIONS) and overlay.highlighted == 0  # the current value
        assert "▲" in _line(app)
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert select.value == "rmsprop" and not select.expanded and select.has_focus
        assert "rmsprop" in _line(app) and "▼" in _line(app)
        assert app.changes[-1] == "rmsprop"
        await pilot.press("enter")  # reopening reuses the overlay, highlighting the value
        await pilot.pause()
        assert len(select.query(SelectOverlay)) == 1 and overlay.highlighted == 2
        await pilot.press("escape")
        await pilot.pause()
        assert not select.expanded and select.value == "rmsprop"


async def test_mouse_click_opens_the_list():
    app = _SelectApp(value="adam", allow_blank=False)
    async with app.run_test() as pilot:
        await pilot.click(LeanSelectCurrent)
        await pilot.pause()
        select = app.query_one(LeanSelect)
        assert select.expanded and select.query_one(SelectOverlay).display
        await pilot.press("down", "enter")
        await pilot.pause()
        assert select.value == "sgd"


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
        await pilot.pause()
        assert "two" in _line(app) and app.changes[-1] == 2
        select.focus()
        await pilot.press("enter")
        await pilot.pause()
        overlay = select.query_one(SelectOverlay)
        assert overlay.option_count == 3  # the blank prompt and the two options
        await pilot.press("up", "enter")
        await pilot.pause()
        assert select.value == 1 and "one" in _line(app)
