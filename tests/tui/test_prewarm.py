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


async def test_results_of_the_latest_run_are_prebuilt_and_rebuilt_when_the_folder_changes(make_app, runs_dir):
    from canned import RUN_A, make_run

    from cnn_tui.tui.results import ResultsScreen
    from cnn_tui.tui.widgets.gallery import SampleGallery

    run = make_run(runs_dir, RUN_A, name="baseline")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: app.navigator.kept is not None and app.navigator.kept[2].is_mounted)
        prebuilt = app.navigator.kept[2]
        assert await wait_for(lambda: bool(prebuilt.query_one(SampleGallery).samples))
        assert isinstance(app.screen, SetupScreen)  # built out of sight
        await pilot.press("r")
        assert await wait_for(lambda: isinstance(app.screen, ResultsScreen))
        assert app.screen is prebuilt and prebuilt.run is not None and prebuilt.run.name == "baseline"
        await pilot.press("escape")
        assert await wait_for(lambda: isinstance(app.screen, SetupScreen))
        # The folder changes: r builds the screen again from what is there now.
        (run / "extra.txt").write_text("x", encoding="utf-8")
        await pilot.press("r")
        assert await wait_for(lambda: isinstance(app.screen, ResultsScreen))
        assert app.screen is not prebuilt


async def test_no_results_prebuilt_for_a_run_without_metrics(make_app, runs_dir):
    from canned import RUN_STOPPED, make_run

    make_run(runs_dir, RUN_STOPPED, name="stopped", state="stopped", evaluated=False, epochs=2)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: _built(app, "training") and _built(app, "runs"))
        await pilot.pause(0.5)
        assert app.navigator.kept is None
        assert not app._notifications  # nothing said about a run nobody asked for


async def test_no_results_prebuilding_while_a_run_trains(make_app, runs_dir):
    from canned import RUN_A, make_run
    from fake_engine import FakeEngine

    run = make_run(runs_dir, RUN_A, name="baseline")
    app = make_app(FakeEngine(steps=200, step_delay=0.02))
    app.PREWARM_SCREENS = False  # this test starts the prebuild itself
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        assert await wait_for(lambda: app.training_active)
        assert await app.navigator.prebuild_results(run) is False
        assert app.navigator.kept is None
        app.action_stop()
        assert await wait_for(lambda: not app.training_active)
