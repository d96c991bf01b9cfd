"""The Runs screen and export dialog on canned run folders (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from canned import RUN_A, RUN_B, RUN_CRASHED, RUN_DAMAGED, RUN_FAILED, RUN_STOPPED, make_run, make_runs
from fake_engine import ScreenApp, wait_for
from textual.widgets import Checkbox, DataTable, Input, Select

from cnn_tui.tui.results import ResultsScreen
from cnn_tui.tui.runs import RunsScreen, sort_rows
from cnn_tui.tui.widgets.curves import CurvePlot
from cnn_tui.tui.dialogs.export import ExportDialog



@pytest.fixture()
def runs_dir(tmp_path) -> Path:
    root = tmp_path / "runs"
    make_runs(root)
    return root


def column(table: DataTable, key: str) -> list[str]:
    return [str(v) for v in table.get_column(key)]


def order(screen: RunsScreen) -> list[str]:
    return [r["run"] for r in screen.rows]


async def move_to(pilot, screen: RunsScreen, run_id: str) -> None:
    screen.query_one(DataTable).move_cursor(row=order(screen).index(run_id))
    await pilot.pause()


async def test_lists_every_run_with_differing_keys_and_metrics(runs_dir):
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(DataTable)
        assert table.row_count == 6
        assert set(order(screen)) == {RUN_A, RUN_B, RUN_STOPPED, RUN_FAILED, RUN_CRASHED, RUN_DAMAGED}
        states = dict(zip(column(table, "run"), column(table, "state")))
        assert states[RUN_CRASHED] == "crashed"
        assert states[RUN_DAMAGED] == "damaged"
        assert states[RUN_FAILED] == "failed"
        assert states[RUN_A] == "completed"
        for key in ("model.dropout", "train.learning_rate", "train.epochs", "test_accuracy", "f1_macro"):
            assert key in screen.table.columns
        assert "model.activation" not in screen.table.columns  # same in every run
        accuracy = dict(zip(column(table, "run"), column(table, "test_accuracy")))
        metrics_a = screen.runs[RUN_A].metrics
        assert accuracy[RUN_A] == f"{metrics_a['test_accuracy']:.4f}"
        assert accuracy[RUN_STOPPED] == "—"
        assert "6 runs" in str(screen.query_one("#runs-summary").content)


async def test_sorting_by_key_and_header(runs_dir):
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(DataTable)
        await pilot.press("o")
        assert await wait_for(lambda: screen.sort_column == "run")
        assert order(screen) == sorted(order(screen))
        await pilot.press("O")
        assert await wait_for(lambda: order(screen) == sorted(order(screen), reverse=True))
        await pilot.press("o")
        assert await wait_for(lambda: screen.sort_column == "name")

        # a header click sorts by that column; a second click reverses it
        index = screen.table.columns.index("test_accuracy") + 1
        key = table.ordered_columns[index].key
        table.post_message(DataTable.HeaderSelected(table, key, index, table.ordered_columns[index].label))
        assert await wait_for(lambda: screen.sort_column == "test_accuracy" and not screen.sort_reverse)
        acc = {RUN_A: screen.runs[RUN_A].metrics["test_accuracy"], RUN_B: screen.runs[RUN_B].metrics["test_accuracy"]}
        low, high = sorted(acc, key=acc.get)
        assert order(screen)[:2] == [low, high]  # runs without metrics stay at the end
        assert "▲" in str(table.ordered_columns[index].label)
        table.post_message(DataTable.HeaderSelected(table, key, index, table.ordered_columns[index].label))
        assert await wait_for(lambda: screen.sort_reverse and order(screen)[:2] == [high, low])


async def test_metrics_come_first_at_80_columns(runs_dir):
    """test_accuracy sat ~300 columns to the right after every differing config key; at 80x24
    only run, name and state showed. Metrics now follow the state."""
    from cnn_tui.core.results.table import METRIC_COLUMNS

    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(80, 24)):
        screen = app.screen
        table = screen.query_one(DataTable)
        assert await wait_for(lambda: table.row_count == 6)
        assert screen.table.columns[:4] == ["run", "name", "state", METRIC_COLUMNS[0]]
        labels = [str(c.label) for c in table.ordered_columns]
        assert labels.index("test_accuracy") == 4  # after the selection mark, run, name, state


async def test_filter_by_name_state_and_dataset(runs_dir):
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 36)) as pilot:
        screen = app.screen
        table = screen.query_one(DataTable)
        assert await wait_for(lambda: table.row_count == 6)
        await pilot.press("slash")
        box = screen.query_one("#runs-filter", Input)
        assert await wait_for(lambda: box.has_focus and box.display)
        box.value = "stopped"
        assert await wait_for(lambda: order(screen) == [RUN_STOPPED])
        assert "1 match 'stopped'" in str(screen.query_one("#runs-summary").content)
        box.value = "digits drop"  # every word must match: the dataset and the name
        assert await wait_for(lambda: order(screen) == [RUN_B])
        await pilot.press("escape")  # clears the filter, stays on the screen
        assert await wait_for(lambda: table.row_count == 6 and not box.display)
        assert app.screen is screen


async def test_choose_config_columns(runs_dir):
    from cnn_tui.tui.dialogs.columns import DIFFERING, ColumnsDialog

    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 36)) as pilot:
        screen = app.screen
        assert await wait_for(lambda: screen.query_one(DataTable).row_count == 6)
        assert "model.dropout" in screen.table.columns and "model.activation" not in screen.table.columns
        await pilot.press("C")
        assert await wait_for(lambda: isinstance(app.screen, ColumnsDialog) and app.screen.is_mounted)
        dialog = app.screen
        assert "model.activation" in dialog.keys and "model.dropout" in dialog.shown
        dialog.dismiss(["model.activation", "train.batch_size"])
        assert await wait_for(lambda: app.screen is screen and "model.activation" in screen.table.columns)
        assert "model.dropout" not in screen.table.columns and "train.batch_size" in screen.table.columns
        exported, _ = screen.export_table()
        assert exported.columns == screen.table.columns  # the export shows what the screen shows
        await pilot.press("C")
        assert await wait_for(lambda: isinstance(app.screen, ColumnsDialog) and app.screen.is_mounted)
        app.screen.dismiss(DIFFERING)
        assert await wait_for(lambda: app.screen is screen and "model.dropout" in screen.table.columns)


def test_sort_rows_keeps_missing_last():
    rows = [{"v": None, "k": 0}, {"v": 2.0, "k": 1}, {"v": 10, "k": 2}, {"v": None, "k": 3}]
    assert [r["k"] for r in sort_rows(rows, "v")] == [1, 2, 0, 3]
    assert [r["k"] for r in sort_rows(rows, "v", reverse=True)] == [2, 1, 0, 3]


async def test_select_compare_and_open(runs_dir):
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        await move_to(pilot, screen, RUN_A)
        await pilot.press("space")  # selects and moves down to RUN_B
        await pilot.press("space")
        assert await wait_for(lambda: screen.selected == [RUN_A, RUN_B])
        assert str(screen.query_one(DataTable).get_cell(RUN_A, "_sel")) == "●"
        await pilot.press("c")
        assert await wait_for(lambda: screen.query_one("#runs-compare").display)
        acc_plot = screen.query_one("#compare-accuracy", CurvePlot)
        loss_plot = screen.query_one("#compare-loss", CurvePlot)
        assert [s.label for s in acc_plot.series] == ["baseline", "dropout"]
        history_b = screen.runs[RUN_B].history()
        assert list(acc_plot.series[1].y) == [r["val_accuracy"] for r in history_b]
        assert list(loss_plot.series[1].y) == [r["val_loss"] for r in history_b]
        assert len(acc_plot.series[1].x) == 5 and len(acc_plot.series[0].x) == 4
        # unselect one: the overlay follows
        await move_to(pilot, screen, RUN_A)
        await pilot.press("space")
        assert await wait_for(lambda: [s.label for s in acc_plot.series] == ["dropout"])

        await move_to(pilot, screen, RUN_FAILED)
        await pilot.press("enter")
        assert await wait_for(lambda: isinstance(app.screen, ResultsScreen))
        assert app.screen.run_dir == runs_dir / RUN_FAILED
        await pilot.press("escape")
        assert await wait_for(lambda: app.screen is screen)


async def _open_dialog(pilot, app) -> ExportDialog:
    await pilot.press("e")
    assert await wait_for(lambda: isinstance(app.screen, ExportDialog) and app.screen.is_mounted)
    return app.screen


async def test_export_markdown_and_latex(runs_dir, tmp_path):
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        dialog = await _open_dialog(pilot, app)
        default = Path(dialog.query_one("#export-path", Input).value)
        assert default.parent == runs_dir and default.name.startswith("export-") and default.suffix == ".md"
        target = tmp_path / "report.md"
        dialog.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        assert await wait_for(lambda: app.screen is screen)  # the file is written before the dialog closes
        text = target.read_text()
        assert text.startswith("| run ")
        for run_id in (RUN_A, RUN_B, RUN_CRASHED, RUN_DAMAGED):
            assert run_id in text
        assert await wait_for(lambda: any(str(target) in n.message for n in app._notifications))

        # LaTeX, transposed, only the selected runs
        await move_to(pilot, screen, RUN_A)
        await pilot.press("space", "space")
        dialog = await _open_dialog(pilot, app)
        assert "2 selected" in dialog.description
        dialog.query_one("#export-path", Input).value = str(tmp_path / "report.md")
        dialog.query_one("#export-format", Select).value = "latex"
        assert await wait_for(lambda: Path(dialog.query_one("#export-path", Input).value).suffix == ".tex")
        path = Path(dialog.query_one("#export-path", Input).value)
        dialog.query_one("#export-transpose", Checkbox).value = True
        assert await wait_for(lambda: dialog.query_one("#export-ok").region.area > 0)
        assert await pilot.click("#export-ok")
        assert await wait_for(lambda: app.screen is screen)  # written, then dismissed
        latex = path.read_text()
        assert "\\begin{tabular}" in latex and "\\toprule" in latex and "\\bottomrule" in latex
        assert "test\\_accuracy" in latex  # escaped, and a row label since transposed
        assert RUN_A in latex and RUN_B in latex and RUN_FAILED not in latex


async def test_export_refuses_overwrite_until_confirmed(runs_dir, tmp_path):
    target = tmp_path / "exists.csv"
    target.write_text("keep me\n")
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        dialog = await _open_dialog(pilot, app)
        dialog.query_one("#export-format", Select).value = "csv"
        await pilot.pause()
        dialog.query_one("#export-path", Input).value = str(target)
        await pilot.pause()
        await pilot.press("enter")
        assert await wait_for(lambda: "exists" in str(dialog.query_one("#export-message").content))
        assert app.screen is dialog  # still open, asking
        assert target.read_text() == "keep me\n"
        assert str(dialog.query_one("#export-ok").label) == "Overwrite"
        await pilot.press("enter")  # confirmed
        assert await wait_for(lambda: app.screen is not dialog)  # written, then dismissed
        assert target.read_text().startswith("run,name,state")


async def test_export_error_and_cancel(runs_dir, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        dialog = await _open_dialog(pilot, app)
        dialog.query_one("#export-path", Input).value = str(blocker / "sub" / "t.md")
        await pilot.press("enter")
        assert await wait_for(lambda: any(n.severity == "error" for n in app._notifications))
        assert app.screen is dialog
        await pilot.press("escape")
        assert await wait_for(lambda: isinstance(app.screen, RunsScreen))


async def test_refresh_picks_up_new_runs(runs_dir):
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert screen.query_one(DataTable).row_count == 6
        make_run(runs_dir, "20240103-090000-late-abcdef", name="late", created="2024-01-03T09:00:00+00:00")
        await pilot.press("R")
        assert await wait_for(lambda: screen.query_one(DataTable).row_count == 7)


async def test_empty_runs_folder(tmp_path):
    app = ScreenApp(lambda: RunsScreen(tmp_path / "none"))
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "No runs" in str(app.screen.query_one("#runs-summary").content)
        await pilot.press("enter", "space", "c", "e", "o")
        assert await wait_for(lambda: any("No runs to export" in n.message for n in app._notifications))
        assert isinstance(app.screen, RunsScreen)


async def _fixed_title(pilot) -> RunsScreen:
    """The Runs screen with a fixed sub-title, once mounted (its on_mount sets the
    sub-title and reads the rows)."""
    app = pilot.app
    assert await wait_for(lambda: isinstance(app.screen, RunsScreen) and app.screen.is_mounted)
    app.screen.sub_title = "runs"
    return app.screen


def test_snapshot_runs(runs_dir, snap_compare):
    async def ready(pilot):
        await _fixed_title(pilot)
        await pilot.pause()

    assert snap_compare(ScreenApp(lambda: RunsScreen(runs_dir)), terminal_size=(120, 24), run_before=ready)


def test_snapshot_runs_compare(runs_dir, snap_compare):
    async def ready(pilot):
        screen = await _fixed_title(pilot)
        await move_to(pilot, screen, RUN_A)
        await pilot.press("space", "space", "c")
        plot = screen.query_one("#compare-accuracy", CurvePlot)
        assert await wait_for(lambda: screen.query_one("#runs-compare").display and len(plot.series) == 2)

    assert snap_compare(ScreenApp(lambda: RunsScreen(runs_dir)), terminal_size=(120, 36), run_before=ready)


async def test_inside_the_real_app(make_app, runs_dir):
    """u opens the Runs screen of CnnTuiApp; enter a run's results; escape back."""
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("u")
        assert await wait_for(lambda: isinstance(app.screen, RunsScreen) and app.screen.is_mounted)
        screen = app.screen
        assert screen.runs_dir == runs_dir
        await move_to(pilot, screen, RUN_B)
        await pilot.press("enter")
        assert await wait_for(lambda: isinstance(app.screen, ResultsScreen))
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.run_dir == runs_dir / RUN_B
        await pilot.press("escape")
        assert await wait_for(lambda: app.screen is screen)


async def test_mount_after_the_children_are_gone_does_nothing(runs_dir):
    """Quitting while the prewarmed Runs screen mounts left it without children, and its
    on_mount's query raised NoMatches in the app's shutdown (a CI failure of
    test_quit_during_training_stores_the_run_as_stopped)."""
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 36)):
        screen = app.screen
        assert await wait_for(lambda: screen.query_one(DataTable).row_count == 6)
        await screen.query_one("#runs-compare").remove()
        screen.on_mount()  # no NoMatches


async def test_resume_or_narrow_after_the_children_are_gone_does_nothing(runs_dir):
    """The same shutdown race reached on_screen_resume (refresh -> _fill -> query DataTable)
    and narrow_changed: a screen whose children are gone ignores them too."""
    app = ScreenApp(lambda: RunsScreen(runs_dir))
    async with app.run_test(size=(140, 36)):
        screen = app.screen
        assert await wait_for(lambda: screen.query_one(DataTable).row_count == 6)
        await screen.query_one(DataTable).remove()
        screen.on_screen_resume()  # no NoMatches
        screen.narrow_changed(True)
