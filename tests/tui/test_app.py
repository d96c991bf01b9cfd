"""App-wide rules: fast start without TensorFlow, keys, help, command palette, clean quit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fake_engine import SIZE, FakeEngine, wait_for
from textual.command import CommandPalette

from cnn_tui.tui.app import CnnTuiApp, CnnTuiCommands
from cnn_tui.tui.dialogs.help import HelpScreen
from cnn_tui.tui.setup import SetupScreen


def test_importing_the_app_loads_no_tensorflow_or_sklearn():
    code = (
        "import sys, cnn_tui.tui.app; "
        "bad = [m for m in ('tensorflow', 'keras', 'sklearn', 'matplotlib', 'scipy') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_first_screen_paints_before_tensorflow_is_imported(make_app):
    app = make_app(preload_tf=True)
    async with app.run_test(size=SIZE):
        assert isinstance(app.screen, SetupScreen)
        assert await wait_for(lambda: app.first_paint_seconds is not None)
        assert app.first_paint_seconds < 10
        # the background import reports back (or was already done by an earlier test)
        assert await wait_for(lambda: app.tf_ready, timeout=90)


async def test_help_screen_opens_and_closes(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert await wait_for(lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        assert await wait_for(lambda: isinstance(app.screen, SetupScreen))
        await pilot.press("f1")
        assert await wait_for(lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")


async def test_command_palette_lists_the_actions(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        provider = CnnTuiCommands(app.screen)
        titles = [hit.display async for hit in provider.discover()]
        for title in ("Train", "Stop training", "Pause / resume training", "Runs", "Results",
                      "Save preset", "Load preset", "Help"):
            assert title in titles
        assert CnnTuiCommands in app.COMMANDS
        hits = [hit async for hit in provider.search("save pre")]
        assert hits and "Save preset" in str(hits[0].text)
        # through the palette itself
        await pilot.press("ctrl+p")
        assert await wait_for(lambda: isinstance(app.screen, CommandPalette) and app.screen.is_mounted)
        await pilot.press(*"save preset")
        await pilot.pause(0.3)
        await pilot.press("enter")
        assert await wait_for(lambda: type(app.screen).__name__ == "SavePresetDialog")
        await pilot.press("escape")


async def test_screens_keys_s_t_u_r(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        assert await wait_for(lambda: app.screen is app.training_screen)
        await pilot.press("s")
        assert await wait_for(lambda: isinstance(app.screen, SetupScreen))
        await pilot.press("r")  # no runs yet: a notification, no crash
        assert await wait_for(lambda: any("no runs" in n.message for n in app._notifications))
        try:
            from cnn_tui.tui.runs import RunsScreen
        except ImportError:
            return
        await pilot.press("u")
        assert await wait_for(lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("s")
        assert await wait_for(lambda: isinstance(app.screen, SetupScreen))


async def test_footer_leaves_out_the_key_of_the_screen_shown(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "s" not in app.screen.active_bindings and "t" in app.screen.active_bindings
        await pilot.press("s")  # already there: nothing happens
        assert isinstance(app.screen, SetupScreen)
        await pilot.press("t")
        assert await wait_for(lambda: app.screen is app.training_screen)
        assert await wait_for(lambda: "t" not in app.screen.active_bindings and "s" in app.screen.active_bindings)
        app.push_screen(HelpScreen())  # something over the Training screen: t goes back to it
        await pilot.pause()
        assert app.check_action("training", ()) is True and app.check_action("setup", ()) is True


async def test_quit_during_training_stores_the_run_as_stopped(make_app, runs_dir):
    engine = FakeEngine(steps=50, step_delay=0.02)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: app.setup_screen.config is not None)
        await pilot.press("f5")
        assert await wait_for(lambda: engine.batches_emitted >= 3)
        await pilot.press("q")
        assert await wait_for(lambda: not app.training_active, timeout=15)
        await wait_for(lambda: not app.is_running, timeout=5)
    assert not app.is_running
    runs = [p for p in runs_dir.iterdir() if p.is_dir()]
    assert len(runs) == 1
    status = json.loads((runs[0] / "status.json").read_text())
    assert status["state"] == "stopped" and status["finished"]
    assert (runs[0] / "metrics.json").exists() and (runs[0] / "predictions.npz").exists()


async def test_quit_without_a_run_exits_at_once(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, timeout=5)
    assert not app.is_running


def test_constructor_follows_the_contract(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_TUI_RUNS_DIR", str(tmp_path / "env-runs"))
    app = CnnTuiApp()
    assert app.runs_dir == tmp_path / "env-runs"
    assert app.engine is None  # the real engine is imported lazily, on the training thread
    app = CnnTuiApp(runs_dir=tmp_path / "r", preset="digits-quick", engine=FakeEngine(), user_presets_dir=tmp_path)
    assert app.runs_dir == tmp_path / "r" and app.initial_preset == "digits-quick"


@pytest.mark.parametrize("preset", ["no-such-preset"])
async def test_unknown_preset_falls_back_with_a_notification(make_app, preset):
    app = make_app(preset=preset)
    async with app.run_test(size=SIZE):
        assert await wait_for(lambda: app.setup_screen.preset_name == "digits-quick")
        assert any("no-such-preset" in n.message for n in app._notifications)


def _help_text(screen: HelpScreen) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    for static in screen.query("Static"):
        console.print(static.content if hasattr(static, "content") else static.renderable)
    return console.export_text()


async def test_help_lists_every_screen_key_and_keeps_bracketed_words(make_app):
    """Help lost '[experiment]' to Rich markup ("(a preset's  fills it in)") and listed no
    Results keys (1/2/3, n/b, f/g/a, R) nor the Runs sort keys: every key of every screen's
    BINDINGS is in it now."""
    from textual.binding import Binding

    from cnn_tui.tui.experiment import ExperimentScreen
    from cnn_tui.tui.results import ResultsScreen
    from cnn_tui.tui.runs import RunsScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert await wait_for(lambda: isinstance(app.screen, HelpScreen) and app.screen.is_mounted)
        text = _help_text(app.screen)
        assert "[experiment]" in text
        from cnn_tui.tui.dialogs.help import KEYS

        listed = set()
        for _, keys_cell, _ in KEYS:  # "o / O", "enter", "? / F1", "/" ...
            listed.update(part.strip() for part in keys_cell.split(" / "))
            assert keys_cell in text
        for screen in (ResultsScreen, RunsScreen, ExperimentScreen, SetupScreen, CnnTuiApp):
            for binding in screen.BINDINGS:
                if not isinstance(binding, Binding) or binding.action in ("back", "leave_field"):
                    continue
                keys = [k.strip() for k in binding.key.split(",")]
                shown = binding.key_display or keys[0]
                names = {shown, *keys, shown.upper(), {"question_mark": "?"}.get(keys[0], keys[0])}
                assert names & listed, f"{screen.__name__}: key {binding.key!r} ({binding.description}) not in help"
        assert "moves to the next row" in text  # space on Runs moves the cursor: said


async def test_help_fits_80x24(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert await wait_for(lambda: isinstance(app.screen, HelpScreen) and app.screen.is_mounted)
        body = app.screen.query_one("#help-body")
        assert await wait_for(lambda: body.region.width > 0)
        assert body.region.x >= 0 and body.region.right <= 80, body.region


async def test_command_palette_has_the_screen_keys(make_app):
    """ctrl+p promised every action, but 'export', 'compare', 'sort' found nothing on Runs."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("u")
        assert await wait_for(lambda: type(app.screen).__name__ == "RunsScreen" and app.screen.is_mounted)
        provider = CnnTuiCommands(app.screen)
        for query, title in (("export", "Runs: Export"), ("compare", "Runs: Compare"), ("sort", "Runs: Sort")):
            hits = [hit async for hit in provider.search(query)]
            assert hits and any(title in str(hit.text) for hit in hits), (query, [str(h.text) for h in hits])
        runs = app.screen
        sort_before = getattr(runs, "sort_key", None)
        hit = next(h for h in [h async for h in provider.search("sort")] if "Runs: Sort" in str(h.text))
        called = []
        original = runs.action_cycle_sort
        runs.action_cycle_sort = lambda: called.append(True) or original()
        await hit.command()
        assert called, sort_before
