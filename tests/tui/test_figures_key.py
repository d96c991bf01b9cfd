"""The F key: report figures written in a worker next to the exported tables, and where they went."""

from __future__ import annotations

from pathlib import Path

from canned import RUN_A, RUN_B, make_runs
from fake_engine import ScreenApp, wait_for
from PIL import Image
from textual.app import App
from textual.widgets import DataTable

from cnn_tui.tui.dialogs.help import KEYS
from cnn_tui.tui.report_figures import FIGURES_KEY
from cnn_tui.tui.results import ResultsScreen
from cnn_tui.tui.runs import RunsScreen



def _pngs(folder: Path) -> list[str]:
    return sorted(p.name.split("-", 3)[-1] for p in folder.glob("export-*.png"))


def _said(app: App, *needles: str) -> bool:
    return any(all(n in note.message for n in needles) for note in app._notifications)


def _opens(path: Path) -> bool:
    with Image.open(path) as image:
        return image.size[0] > 0


async def test_results_screen_writes_the_runs_figures(tmp_path):
    runs = make_runs(tmp_path / "runs")
    app = ScreenApp(lambda: ResultsScreen(runs["a"]))
    async with app.run_test(size=(110, 40)) as pilot:
        assert await wait_for(lambda: isinstance(app.screen, ResultsScreen) and app.screen.run is not None)
        await pilot.press(FIGURES_KEY)
        folder = tmp_path / "runs"
        assert await wait_for(lambda: _said(app, "Wrote 3 figure(s)", str(folder)), timeout=60)
        assert _pngs(folder) == ["confusion.png", "curves.png", "misclassified.png"]
        assert all(_opens(p) for p in folder.glob("export-*.png"))
        assert _said(app, "-confusion.png", "-curves.png", "-misclassified.png")


async def test_runs_screen_overlays_the_selected_runs_and_says_why_not(tmp_path):
    runs = make_runs(tmp_path / "runs")
    folder = tmp_path / "runs"
    app = ScreenApp(lambda: RunsScreen(folder))
    async with app.run_test(size=(140, 40)) as pilot:
        assert await wait_for(lambda: isinstance(app.screen, RunsScreen) and app.screen.rows)
        screen = app.screen
        order = [r["run"] for r in screen.rows]
        screen.query_one(DataTable).move_cursor(row=order.index(RUN_A))
        await pilot.press("space", "space")
        assert await wait_for(lambda: screen.selected == [RUN_A, RUN_B])
        await pilot.press(FIGURES_KEY)
        assert await wait_for(lambda: _said(app, "Wrote 1 figure(s)", "2 selected runs"), timeout=60)
        assert _pngs(folder) == ["curves.png"]
        # a run that failed before an epoch: no figure, a notification that says why
        screen.selected.clear()
        screen.query_one(DataTable).move_cursor(row=[r["run"] for r in screen.rows].index(runs["failed"].name))
        await pilot.press(FIGURES_KEY)
        assert await wait_for(lambda: _said(app, "no figure to draw", "history.csv"), timeout=10), [n.message for n in app._notifications]
        assert _pngs(folder) == ["curves.png"]


def test_help_lists_the_key():
    assert any(key == FIGURES_KEY and "Experiment" in section for section, key, _ in KEYS)


def test_two_presses_in_one_second_write_apart(tmp_path):
    """F pressed twice within a second refused the second with 'file exists' (same stamp)."""
    from datetime import datetime

    from cnn_tui.tui.report_figures import figures_path

    now = datetime(2026, 12, 5, 12, 0, 0)
    first = figures_path(tmp_path, now)
    first.with_name(f"{first.stem}-curves.png").write_bytes(b"png")
    second = figures_path(tmp_path, now)
    assert second != first and not list(tmp_path.glob(f"{second.stem}-*.png"))
    second.with_name(f"{second.stem}-curves.png").write_bytes(b"png")
    assert figures_path(tmp_path, now) not in (first, second)
