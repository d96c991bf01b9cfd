"""Every screen at 80x24 (and its footer at 160 and 200 columns): panels stack or collapse,
the keys that matter stay in the footer, nothing is cut. Pilot tests on the real app, then
snapshots of each screen at 80x24 and 160x48."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from canned import RUN_A, make_runs
from fake_engine import FakeEngine, train_four_epochs, wait_for
from textual.geometry import Size
from textual.widgets import DataTable

from cnn_tui.core.engine import experiments
from cnn_tui.core.results.experiment_store import EXPERIMENTS_DIR
from cnn_tui.tui.app import CnnTuiApp
from cnn_tui.tui.experiment import ExperimentScreen
from cnn_tui.tui.narrow import NARROW_BELOW
from cnn_tui.tui.results import ResultsScreen
from cnn_tui.tui.runs import RunsScreen
from cnn_tui.tui.widgets.confusion import ConfusionMatrix
from cnn_tui.tui.widgets.footer import COMPACT_BELOW as FOOTER_COMPACT_BELOW
from cnn_tui.tui.widgets.footer import Footer, FooterKey, key_width, plan_footer
from cnn_tui.tui.widgets.model_summary import ModelSummaryView

NARROW = (80, 24)
WIDE = (160, 48)
RUN_ID = "20240102-100000-digits-quick-abc123"


@pytest.fixture
def app_in(tmp_path, monkeypatch):
    """``app_in(engine=None)``: the app on a runs folder given as ``runs`` (relative, so
    titles and paths are the same on every machine), with the canned runs in it, and
    experiment folders with a fixed name and trial times."""
    monkeypatch.chdir(tmp_path)
    make_runs(Path("runs"))

    def fixed_dir(runs_dir: Path, name: str) -> Path:
        path = Path(runs_dir) / EXPERIMENTS_DIR / f"20240102-100000-{name}-abc123"
        path.mkdir(parents=True)
        return path

    monkeypatch.setattr(experiments, "create_experiment_dir", fixed_dir)
    # every trial takes 0.75 s (the queue's "seconds" column)
    clock = iter(i * 0.75 for i in range(10_000))
    monkeypatch.setattr(experiments, "time", SimpleNamespace(monotonic=lambda: next(clock), sleep=time.sleep))

    def make(engine=None) -> CnnTuiApp:
        app = CnnTuiApp(runs_dir=Path("runs"), engine=engine or FakeEngine(), user_presets_dir=tmp_path / "presets")
        app.KERAS_SUMMARY = False
        app.PRELOAD_TF = False
        app.AUTO_OPEN_RESULTS = False
        return app

    return make


def footer_keys(screen) -> dict[str, FooterKey]:
    """The footer's keys by key, after checking that each is whole on the screen: inside
    the footer, left of the command palette's key, not overlapping the next."""
    footer = screen.query_one(Footer)
    keys = [k for k in footer.query(FooterKey) if not k.has_class("-command-palette")]
    palettes = [k for k in footer.query(FooterKey) if k.has_class("-command-palette")]
    limit = palettes[0].region.x if palettes else footer.region.right
    assert footer.region.right <= screen.size.width
    for key, after in zip(keys, keys[1:] + [None]):
        assert key.region.width > 0 and key.region.right <= limit, (key.key, key.region, limit)
        if after is not None:
            assert key.region.right <= after.region.x
    return {k.key: k for k in keys}


def columns_fit(table: DataTable, upto: str) -> bool:
    """Whether the table's columns up to and including ``upto`` (a key or label) are whole
    in its width."""
    used = 0
    for key, column in table.columns.items():
        used += column.get_render_width(table)
        if upto in (key.value, column.label.plain):
            return used <= table.scrollable_content_region.width
    raise AssertionError(f"no column {upto}")


async def setup_ready(app) -> None:
    setup = app.setup_screen
    assert await wait_for(lambda: "digits" in setup.infos and setup.preset_name == "digits-quick")
    assert await wait_for(lambda: setup.query_one(ModelSummaryView).state == "plan")


async def train_done(app, pilot) -> None:
    """A 4-epoch fake run, every batch drawn (see test_training_snapshot)."""
    await setup_ready(app)
    await train_four_epochs(app, pilot)


def training_engine(app_in) -> tuple[CnnTuiApp, FakeEngine]:
    engine = FakeEngine(steps=8, step_delay=0.0, run_id=RUN_ID)
    app = app_in(engine)
    engine.wait_seen = lambda e, s: app.session.monitor is not None and (app.session.monitor.epoch, app.session.monitor.step) >= (e, s)
    return app, engine


async def open_results(app, pilot) -> ResultsScreen:
    await setup_ready(app)
    app.open_results(Path("runs") / RUN_A)
    assert await wait_for(lambda: isinstance(app.screen, ResultsScreen) and app.screen.is_mounted)
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.screen


async def open_runs(app, pilot) -> RunsScreen:
    await setup_ready(app)
    await pilot.press("u")
    assert await wait_for(lambda: isinstance(app.screen, RunsScreen) and app.screen.is_mounted)
    assert await wait_for(lambda: app.screen.query_one(DataTable).row_count == 6)
    await pilot.pause()
    return app.screen


async def run_study(app, pilot) -> ExperimentScreen:
    """A finished 2x2 grid study, its Experiment screen shown."""
    setup = app.setup_screen
    await setup_ready(app)
    setup.field("train.epochs").control.value = "2"
    assert await wait_for(lambda: setup.config is not None and setup.config.train.epochs == 2)
    await pilot.press("ctrl+e")
    assert await wait_for(lambda: type(app.screen).__name__ == "ExperimentDialog" and app.screen.is_mounted)
    dialog = app.screen
    dialog.query_one("#exp-kind").value = "grid"
    await pilot.pause()
    dialog.query_one("#exp-lines").text = "model.batch_norm=true,false"
    dialog.query_one("#exp-repeat").value = "2"
    await pilot.pause()
    await pilot.press("ctrl+s")
    assert await wait_for(lambda: app.session.study is not None)
    assert await wait_for(lambda: not app.session.study.active, timeout=30)
    await pilot.press("E")
    assert await wait_for(lambda: isinstance(app.screen, ExperimentScreen) and app.screen.is_mounted)
    screen = app.screen
    assert await wait_for(lambda: screen.query_one("#exp-table", DataTable).row_count == 2)
    app.clear_notifications()
    await pilot.pause()
    return screen


# -- the footer's plan ------------------------------------------------------------------


def test_footer_plan_keeps_quit_and_help_and_fits():
    keys = [("esc", "Back", "back"), ("1", "Summary", "show_tab('a')"), ("f5", "Train digits-quick", "app.train"),
            ("s", "Setup", "app.setup"), ("u", "Runs", "app.runs"), ("?", "Help", "app.help"), ("q", "Quit", "app.quit")]
    wide = plan_footer(keys, ("^p", "palette"), 200)
    assert not wide.compact and not wide.short and wide.shown == frozenset({-1, *range(7)})
    narrow = plan_footer(keys, ("^p", "palette"), 40)
    assert narrow.compact and narrow.short
    shown = [keys[i][0] for i in sorted(narrow.shown) if i >= 0]
    assert {"?", "q", "f5", "esc", "u"} <= set(shown) and "s" not in shown  # Setup: the lowest tier
    widths = [key_width(k, d.split()[0], True) for i, (k, d, _) in enumerate(keys) if i in narrow.shown]
    assert sum(widths) <= 40


# -- 80x24, screen by screen ----------------------------------------------------------------


async def test_setup_at_80x24_side_panel_under_the_form(app_in):
    app = app_in()
    async with app.run_test(size=NARROW) as pilot:
        await setup_ready(app)
        await pilot.pause()
        setup = app.setup_screen
        assert setup.has_class("-narrow")
        form, side = setup.query_one("#setup-form"), setup.query_one("#setup-side")
        status = setup.query_one("#setup-status")
        assert form.region.width >= 60 and form.region.height >= 6  # the fields keep their width
        assert side.region.y >= form.region.bottom and side.region.width >= 76
        assert status.region.bottom <= setup.query_one(Footer).region.y and status.region.height >= 2
        assert "trains [b]digits-quick" in str(status.content)
        table = setup.query_one("#summary-table", DataTable)
        assert columns_fit(table, "params")  # was ~18 columns: "layer k"
        assert table.region.height >= 4
        keys = footer_keys(setup)
        assert {"u", "question_mark", "q", "f5", "ctrl+s", "ctrl+o"} <= set(keys)


async def test_training_at_80x24_while_a_run_trains(app_in):
    engine = FakeEngine(steps=40, step_delay=0.05)
    app = app_in(engine)
    async with app.run_test(size=NARROW) as pilot:
        await setup_ready(app)
        await pilot.press("f5")
        assert await wait_for(lambda: app.training_active and app.session.monitor is not None and app.session.monitor.step > 0)
        await pilot.pause()
        screen = app.screen
        assert screen is app.training_screen
        for selector in ("#train-top", "#train-plots", "#train-log"):
            region = screen.query_one(selector).region
            assert region.height > 0 and region.right <= 80 and region.bottom <= 23, selector
        keys = footer_keys(screen)  # Stop and Pause join the footer: it overflowed
        assert {"x", "p", "question_mark", "q"} <= set(keys)
        await pilot.press("x")
        assert await wait_for(lambda: not app.training_active, timeout=10)


async def test_experiment_at_80x24_while_a_study_runs(app_in):
    """The study's own keys (skip a trial, cancel) stay in the footer with Stop and Pause."""
    app = app_in(FakeEngine(steps=40, step_delay=0.05, warn=None))
    async with app.run_test(size=NARROW) as pilot:
        await setup_ready(app)
        await pilot.press("ctrl+e")
        assert await wait_for(lambda: type(app.screen).__name__ == "ExperimentDialog" and app.screen.is_mounted)
        app.screen.query_one("#exp-kind").value = "repeat"
        await pilot.pause()
        app.screen.query_one("#exp-repeat").value = "3"
        await pilot.pause()
        await pilot.press("ctrl+s")
        assert await wait_for(lambda: app.session.study is not None and app.session.study.active and app.training_active)
        await pilot.press("E")
        assert await wait_for(lambda: isinstance(app.screen, ExperimentScreen) and app.screen.is_mounted)
        await pilot.pause()
        keys = footer_keys(app.screen)
        assert {"k", "c", "x", "p", "escape", "question_mark", "q"} <= set(keys)
        await pilot.press("c")
        assert await wait_for(lambda: not app.session.study.active, timeout=15)


async def test_results_at_80x24(app_in):
    app = app_in()
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_results(app, pilot)
        keys = footer_keys(screen)
        assert {"escape", "1", "2", "3", "question_mark", "q"} <= set(keys)
        per_class, confusion = screen.query_one("#per-class", DataTable), screen.query_one(ConfusionMatrix)
        assert per_class.region.right <= confusion.region.x and confusion.region.right <= 80
        assert confusion.region.width == confusion.get_content_width(Size(*WIDE), Size(*WIDE)) + 2  # padding 0 1: not squeezed
        assert columns_fit(per_class, per_class.ordered_columns[-1].key.value)


async def test_results_at_80x24_long_class_names_stack(app_in, monkeypatch):
    """Fashion-MNIST's class names: per-class table and confusion matrix side by side are
    wider than 80 columns, so the matrix goes under the table, whole (it was cut)."""
    import canned

    monkeypatch.setattr(canned, "CLASS_NAMES", ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                                "Shirt", "Sneaker", "Bag", "Ankle boot"])
    run_dir = canned.make_run(Path("runs"), "20240103-100000-fashion-ffffff", name="fashion")
    app = app_in()
    async with app.run_test(size=NARROW) as pilot:
        await setup_ready(app)
        app.open_results(run_dir)
        assert await wait_for(lambda: isinstance(app.screen, ResultsScreen) and app.screen.is_mounted)
        screen = app.screen
        confusion, per_class = screen.query_one(ConfusionMatrix), screen.query_one("#per-class", DataTable)
        assert await wait_for(lambda: per_class.row_count == 10)
        await app.workers.wait_for_complete()
        full = confusion.get_content_width(Size(*WIDE), Size(*WIDE)) + 2
        assert full > 60
        # whole: inside the screen, as wide as its content (it was cut at the screen's edge)
        assert await wait_for(lambda: confusion.region.right <= 80 and confusion.region.width == full, timeout=3)
        assert confusion.region.y >= per_class.region.bottom
        assert screen.query_one("#summary-body").has_class("-stacked")
        await pilot.resize_terminal(*WIDE)  # room again: side by side
        assert await wait_for(lambda: not screen.query_one("#summary-body").has_class("-stacked"))
        await pilot.pause()
        assert per_class.region.right <= confusion.region.x


async def test_runs_at_80x24_metrics_in_sight(app_in):
    app = app_in()
    async with app.run_test(size=NARROW) as pilot:
        screen = await open_runs(app, pilot)
        assert screen.has_class("-narrow")
        table = screen.query_one(DataTable)
        assert columns_fit(table, "test_accuracy") and columns_fit(table, "test_loss")
        keys = footer_keys(screen)
        assert {"enter", "escape", "question_mark", "q"} <= set(keys)


async def test_experiment_at_80x24_queue_state_and_metric(app_in):
    app = app_in(FakeEngine(steps=3, step_delay=0.0, warn=None))
    async with app.run_test(size=NARROW) as pilot:
        screen = await run_study(app, pilot)
        queue = screen.query_one("#exp-queue", DataTable)
        assert str(queue.get_cell("g01-s42", "state")) == "completed"
        assert queue.columns["state"].get_render_width(queue) >= len("completed") + 2
        assert columns_fit(queue, "metric")  # the state was cut ("comple"), the metric hidden
        keys = footer_keys(screen)
        assert {"escape", "question_mark", "q"} <= set(keys)


# -- wide footers, resizes ------------------------------------------------------------------


@pytest.mark.parametrize("width", [160, 200])
async def test_results_and_runs_footer_whole_when_wide(app_in, width):
    app = app_in()
    async with app.run_test(size=(width, 40)) as pilot:
        screen = await open_runs(app, pilot)
        assert {"question_mark", "q", "enter"} <= set(footer_keys(screen))  # "r Re" and no q Quit
        await pilot.press("escape")  # back to Setup
        screen = await open_results(app, pilot)
        assert {"question_mark", "q", "escape"} <= set(footer_keys(screen))


async def test_key_widths_match_textual(app_in):
    """The footer's plan measures keys as Textual lays them out (fails if Textual's footer
    CSS changes)."""
    app = app_in()
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_results(app, pilot)
        for width in (160, 100, 80):
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            await pilot.pause()
            footer = screen.query_one(Footer)
            assert footer.compact == (width < FOOTER_COMPACT_BELOW)
            keys = footer_keys(screen)
            assert keys
            for key in keys.values():
                measured = key.region.width + key.styles.margin.right
                assert measured == key_width(key.key_display, key.description, footer.compact), key.key


async def test_resize_across_the_threshold(app_in):
    app = app_in()
    async with app.run_test(size=(120, 40)) as pilot:
        await setup_ready(app)
        setup = app.setup_screen
        form, side = setup.query_one("#setup-form"), setup.query_one("#setup-side")
        assert not setup.has_class("-narrow") and side.region.x >= form.region.right
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert setup.has_class("-narrow") and side.region.y >= form.region.bottom
        assert {"u", "question_mark", "q"} <= set(footer_keys(setup))
        calls = []
        setup.narrow_changed = lambda narrow: calls.append(narrow)
        await pilot.resize_terminal(NARROW_BELOW - 5, 24)  # still narrow: nothing restyled
        await pilot.pause()
        assert calls == []
        await pilot.resize_terminal(NARROW_BELOW, 40)
        await pilot.pause()
        assert calls == [False] and not setup.has_class("-narrow") and side.region.x >= form.region.right


# -- snapshots: 80x24 and 160x48 ------------------------------------------------------------


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
def test_snapshot_setup(app_in, snap_compare, size):
    app = app_in()

    async def run_before(pilot) -> None:
        await setup_ready(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
def test_snapshot_training(app_in, snap_compare, size):
    app, _ = training_engine(app_in)

    async def run_before(pilot) -> None:
        await train_done(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
def test_snapshot_results(app_in, snap_compare, size):
    app = app_in()

    async def run_before(pilot) -> None:
        await open_results(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
def test_snapshot_runs(app_in, snap_compare, size):
    app = app_in()

    async def run_before(pilot) -> None:
        await open_runs(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x48"])
def test_snapshot_experiment(app_in, snap_compare, size):
    app = app_in(FakeEngine(steps=3, step_delay=0.0, warn=None))

    async def run_before(pilot) -> None:
        await run_study(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
