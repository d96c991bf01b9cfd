"""Experiments from the TUI: the Setup screen's dialog, the study in the App's training
worker (fake engine), the Experiment screen's queue, skip/cancel, table and curve band."""

from __future__ import annotations

import asyncio

from fake_engine import SIZE, FakeEngine, wait_for
from textual.widgets import DataTable, TextArea

from cnn_tui.core.results.experiment_store import read_progress
from cnn_tui.tui.experiment import ExperimentScreen
from cnn_tui.tui.dialogs.experiment import ExperimentDialog
from cnn_tui.tui.widgets.band_plot import BandPlot


async def _ready(app, epochs: int | None = 3) -> None:
    setup = app.setup_screen
    assert await wait_for(lambda: "digits" in setup.infos and setup.preset_name == "digits-quick")
    if epochs is not None:
        setup.field("train.epochs").control.value = str(epochs)
        assert await wait_for(lambda: setup.config is not None and setup.config.train.epochs == epochs)


async def _dialog(app, pilot, kind: str | None = None, lines: str | None = None, repeat: str | None = None):
    await pilot.press("ctrl+e")
    assert await wait_for(lambda: isinstance(app.screen, ExperimentDialog) and app.screen.is_mounted)
    dialog = app.screen
    if kind is not None:
        dialog.query_one("#exp-kind").value = kind
        await pilot.pause()
    if lines is not None:
        dialog.query_one("#exp-lines", TextArea).text = lines
    if repeat is not None:
        dialog.query_one("#exp-repeat").value = repeat
    await pilot.pause()
    return dialog


def _notified(app, needle: str) -> bool:
    return any(needle in n.message for n in app._notifications)


async def test_grid_study_fills_the_queue_table_and_band(make_app, runs_dir):
    engine = FakeEngine(steps=3, step_delay=0.005, warn=None)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app)
        dialog = await _dialog(app, pilot, "grid", "model.batch_norm=true,false", "2")
        check = dialog.query_one("#exp-check")
        assert await wait_for(lambda: "2 group(s) x 2 seed(s) = 4 trial(s)" in str(check.content))
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: app.session.study is not None)
        study = app.session.study
        assert [r.trial_id for r in study.trials] == ["g01-s42", "g01-s43", "g02-s42", "g02-s43"]
        assert app.screen is app.training_screen  # the current trial's live curves
        await pilot.press("E")
        assert await wait_for(lambda: isinstance(app.screen, ExperimentScreen) and app.screen.is_mounted)
        screen = app.screen
        queue = screen.query_one("#exp-queue", DataTable)
        assert queue.row_count == 4
        assert await wait_for(lambda: not study.active, timeout=30)
        assert study.state == "completed" and [r.state for r in study.trials] == ["completed"] * 4
        assert all(r.seconds is not None and r.metric is not None for r in study.trials)
        progress = read_progress(study.exp_dir)
        assert progress["state"] == "completed" and study.exp_dir.parent == runs_dir / "experiments"
        assert [c.train.epochs for c in (call["config"] for call in engine.calls)] == [3] * 4
        # the screen: every queue row completed, the table has mean ± std rows, the band has data
        assert await wait_for(lambda: str(queue.get_cell("g02-s43", "state")) == "completed")
        table = screen.query_one("#exp-table", DataTable)
        assert await wait_for(lambda: table.row_count == 2, timeout=10)
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[0] == "batch_norm=true" and any("±" in c for c in cells)
        band = screen.query_one("#exp-curves", BandPlot)
        assert await wait_for(lambda: len(band.series) == 2)
        assert band.series[0].x == (1.0, 2.0, 3.0) and len(band.series[0].band_x) == 3
        assert "4/4 done" in str(screen.query_one("#exp-summary").content)
        # statistics against the first cell: 2 seeds per cell is too few for a test
        labels = [str(c.label) for c in table.ordered_columns]
        assert labels[-4:] == ["compared with", "diff", "95% CI", "p (Welch)"]
        second = [str(c) for c in table.get_row_at(1)]
        assert second[-4] == "batch_norm=true" and second[-2:] == ["n<3", "n<3"]
        # F: the study's figures next to the exported tables, and a notification saying where
        await pilot.press("F")
        assert await wait_for(lambda: _notified(app, "Wrote 2 figure(s)"), timeout=60)
        assert sorted(p.name.rsplit("-", 1)[-1] for p in runs_dir.glob("export-*.png")) == ["bars.png", "curves.png"]
        assert _notified(app, str(runs_dir))
        await pilot.press("escape")
        assert await wait_for(lambda: app.screen is app.training_screen)


async def test_skip_then_cancel(make_app):
    engine = FakeEngine(steps=20, step_delay=0.03, warn=None)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, epochs=50)
        await _dialog(app, pilot, "repeat", repeat="3")
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: app.session.study is not None)
        study = app.session.study
        await pilot.press("E")
        assert await wait_for(lambda: isinstance(app.screen, ExperimentScreen))
        assert await wait_for(lambda: study.current == 1 and engine.batches_emitted > 2)
        first_monitor = app.session.monitor
        await pilot.press("k")
        # the request names its trial (tests/test_experiments.py: a late one does not hit the next
        # trial) and the log says which
        assert any(f"skipping trial {study.trials[0].trial_id}" in m for _, m in first_monitor.log)
        assert await wait_for(lambda: study.trials[0].state == "skipped", timeout=10)
        assert await wait_for(lambda: study.current == 2 and study.trials[1].state == "running", timeout=10)
        assert app.session.monitor is not None and app.session.monitor.preset.endswith("r01-s43")  # a fresh monitor per trial
        eta_label = app.screen.query_one("#exp-eta")
        assert await wait_for(lambda: str(eta_label.content).startswith("ETA"))
        await pilot.press("c")
        assert await wait_for(lambda: not study.active, timeout=10)
        assert [r.state for r in study.trials] == ["skipped", "stopped", "pending"]
        assert study.state == "stopped"
        progress = read_progress(study.exp_dir)
        assert [t["state"] for t in progress["trials"]] == ["skipped", "stopped", "pending"]
        assert len(engine.calls) == 2 and not app.training_active
        assert await wait_for(lambda: _notified(app, "Experiment stopped: 0/3"))
        # nothing completed: the table has its row with n = 0 and the band stays empty
        screen = app.screen
        assert await wait_for(lambda: screen.query_one("#exp-table", DataTable).row_count == 1)
        assert screen.query_one("#exp-curves", BandPlot).series == []


async def test_bad_dialog_input_is_refused_with_a_message(make_app):
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, epochs=None)
        dialog = await _dialog(app, pilot, "grid", "model.bogus=1,2")
        check = dialog.query_one("#exp-check")
        assert await wait_for(
            lambda: "bogus" in str(check.content) and dialog.query_one("#exp-lines").has_class("-invalid")
        )
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: _notified(app, "bogus"))
        assert isinstance(app.screen, ExperimentDialog)
        for lines, needle in (("model.dropout", "expected KEY=VALUE"), ("model.dropout=5,0.2", "dropout=5"),
                              ("", "required")):
            dialog.query_one("#exp-lines", TextArea).text = lines
            assert await wait_for(lambda: needle in str(check.content)), (lines, str(check.content))
        dialog.query_one("#exp-lines", TextArea).text = "model.dropout=0.1,0.2"
        dialog.query_one("#exp-repeat").value = "zero"
        assert await wait_for(
            lambda: dialog.query_one("#exp-repeat").has_class("-invalid") and "whole number" in str(check.content)
        )
        dialog.query_one("#exp-kind").value = "ablation"
        dialog.query_one("#exp-repeat").value = "1"
        dialog.query_one("#exp-lines", TextArea).text = ": model.l2=0.1"
        assert await wait_for(lambda: "missing the step name" in str(check.content))
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: _notified(app, "missing the step name"))
        assert isinstance(app.screen, ExperimentDialog)
        await pilot.press("escape")
        assert await wait_for(lambda: not isinstance(app.screen, ExperimentDialog))
        assert engine.calls == [] and app.session.study is None


async def test_a_presets_experiment_section_fills_the_dialog(make_app):
    app = make_app(preset="assignment-ablation")
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen
        assert await wait_for(lambda: setup.preset_name == "assignment-ablation")
        status = setup.query_one("#setup-status")
        assert await wait_for(lambda: "runs the preset's study" in str(status.content)), str(status.content)
        dialog = await _dialog(app, pilot)
        assert dialog.kind == "ablation"
        lines = dialog.query_one("#exp-lines", TextArea).text.splitlines()
        assert lines[0] == "baseline:" and lines[2] == "+ input norm: data.normalization=rescale"
        assert str(dialog.query_one("#exp-metric").value) == "f1_weighted"
        assert "4 group(s) x 1 seed(s) = 4 trial(s)" in str(dialog.query_one("#exp-check").content)
        await pilot.press("escape")
        assert await wait_for(lambda: not isinstance(app.screen, ExperimentDialog))
        await asyncio.sleep(0)


async def test_failing_trials_are_recorded_and_the_study_goes_on(make_app):
    from fake_engine import bad_dataset_error

    from cnn_tui.tui.app import CnnTuiCommands

    engine = FakeEngine(raise_error=bad_dataset_error())
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, epochs=None)
        assert app.check_action("experiment", ()) is False  # E is hidden until a study starts
        titles = [str(hit.display) async for hit in CnnTuiCommands(app.screen).discover()]
        assert "Experiment…" in titles and "Experiment queue" in titles
        await _dialog(app, pilot, "repeat", repeat="2")
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: app.session.study is not None and not app.session.study.active, timeout=20)
        study = app.session.study
        assert [r.state for r in study.trials] == ["failed", "failed"] and study.state == "failed"
        assert "no such folder" in (study.trials[0].error or "")
        assert len(engine.calls) == 2 and app.check_action("experiment", ()) is True
        await pilot.press("E")
        assert await wait_for(lambda: isinstance(app.screen, ExperimentScreen) and app.screen.is_mounted)
        queue = app.screen.query_one("#exp-queue", DataTable)
        assert str(queue.get_cell("r01-s42", "state")) == "failed"


async def test_a_study_on_a_folder_without_class_folders_says_why_and_writes_nothing(make_app, runs_dir, tmp_path):
    from PIL import Image
    from textual.widgets import Input, Select

    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        Image.new("RGB", (10, 10), (60 * i, 90, 200)).save(flat / f"img{i}.png")
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, epochs=None)
        setup = app.setup_screen
        setup.query_one("#dataset-select", Select).value = "other (folder:PATH / arrays:PATH)"
        custom = setup.query_one("#dataset-custom", Input)
        assert await wait_for(lambda: custom.display)
        custom.value = f"folder:{flat}"
        assert await wait_for(lambda: setup.config is not None and setup.config.data.dataset == f"folder:{flat}")
        await _dialog(app, pilot, "ablation", "baseline:\n+ bn: model.batch_norm=true\n+ drop: model.dropout=0.2")
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: app.session.study is not None and not app.session.study.active, timeout=20)
        assert await wait_for(lambda: _notified(app, "no class sub-folders"))
        note = next(n for n in app._notifications if "no class sub-folders" in n.message)
        assert note.severity == "error" and note.title == "Experiment not started" and "\n" not in note.message
        assert not any("trials completed" in n.message for n in app._notifications)
        assert app.session.study.state == "failed" and "no class sub-folders" in (app.session.study.error or "")
        assert engine.calls == [] and not (runs_dir / "experiments").exists()
        assert not app.training_active


async def test_a_failed_studys_notification_gives_the_first_reason(make_app):
    """Trials that fail while training (not bad input) are recorded failed; the summary says why."""
    engine = FakeEngine(fail_with="training crashed: loss became NaN")
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(app, epochs=2)
        await _dialog(app, pilot, "repeat", repeat="2")
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: app.session.study is not None and not app.session.study.active, timeout=20)
        assert [r.state for r in app.session.study.trials] == ["failed", "failed"] and app.session.study.state == "failed"
        assert await wait_for(lambda: _notified(app, "Experiment failed: 0/2 trials completed"))
        summary = next(n.message for n in app._notifications if "Experiment failed" in n.message)
        assert "r01-s42: training crashed: loss became NaN" in summary and "\n" not in summary
        assert len(engine.calls) == 2


def test_study_eta_from_trial_times_and_the_current_trials_eta():
    from cnn_tui.tui.study import StudyMonitor, TrialRow

    s = StudyMonitor(1, "x", "repeat", "test_accuracy", [TrialRow(f"r01-s{i}", "all", i) for i in range(4)])
    assert s.eta_seconds() is None  # nothing known yet
    s.trials[0].state, s.trials[0].seconds = "completed", 10.0
    s.trials[1].state, s.current = "running", 2
    assert s.eta_seconds(current_trial_eta=4.0) == 4.0 + 2 * 10.0
    assert 19.0 < s.eta_seconds() <= 30.0  # no ETA of the trial itself: the mean minus its elapsed time
    s.trials[0].state, s.trials[0].seconds = "skipped", None  # only completed trials count as times
    assert s.eta_seconds(current_trial_eta=4.0) is not None
    s.current, s.trials[1].state = 0, "stopped"
    assert s.eta_seconds() is None
