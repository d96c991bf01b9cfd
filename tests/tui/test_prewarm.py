"""The Training and Runs screens are built in the background, so their first visit is a switch."""

from __future__ import annotations

from fake_engine import SIZE, wait_for

from cnn_tui.tui.runs import RunsScreen
from cnn_tui.tui.setup import SetupScreen


def _built(app, mode: str) -> bool:
    try:
        stack = app.get_screen_stack(mode)
    except KeyError:
        return False
    return bool(stack) and stack[0].is_mounted


async def test_screens_are_prebuilt_and_first_visits_restyle_nothing(make_app, monkeypatch):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _built(app, "training") and _built(app, "runs"))
        assert isinstance(app.screen, SetupScreen)  # built out of sight
        assert app.focused is not None and app.focused.screen is app.screen
        refreshes = []
        original = type(app).refresh_css
        monkeypatch.setattr(app, "refresh_css", lambda *a, **k: (refreshes.append(1), original(app, *a, **k)))
        for key, check in (
            ("t", lambda: app.screen.id == "training"),
            ("u", lambda: isinstance(app.screen, RunsScreen)),
            ("t", lambda: app.screen.id == "training"),
            ("u", lambda: isinstance(app.screen, RunsScreen)),
        ):
            await pilot.press(key)
            assert await wait_for(check)
        assert refreshes == []  # no stylesheet re-parse on first or second visits


async def test_no_prebuilding_when_turned_off(make_app):
    app = make_app()
    app.PREWARM_SCREENS = False
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.6)
        assert not _built(app, "training") and not _built(app, "runs")
        await pilot.press("t")
        assert await wait_for(lambda: app.screen.id == "training")
