"""Work that lands while the app closes (a worker's last message, a select opened as q is
pressed) is dropped quietly: once App.exit() is called every node reports itself detached
and any mount raises MountError, and the screen stacks are emptied."""

from __future__ import annotations

from textual.app import App, ComposeResult

from cnn_tui.tui.app import CnnTuiApp
from cnn_tui.tui.widgets.lean_select import LeanSelect


class _SelectApp(App):
    def compose(self) -> ComposeResult:
        yield LeanSelect([("adam", "adam"), ("sgd", "sgd")], id="sel", allow_blank=False)


async def test_select_opened_as_the_app_exits_mounts_nothing():
    app = _SelectApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        select = app.query_one(LeanSelect)
        app.exit()
        assert not select.is_attached
        assert await select._mount_overlay() is None  # was MountError
        await select.action_show_overlay()
        await select._open_when_mounted()
    assert app.return_code == 0  # no worker error ended the app


def test_training_done_check_survives_empty_screen_stacks():
    """The end of a run asks whether the Training screen is on top; at exit the stacks are
    empty and App.screen raises ScreenStackError."""
    assert CnnTuiApp().showing_training() is False
