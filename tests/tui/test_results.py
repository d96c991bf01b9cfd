"""The Results screen on canned run folders (no TensorFlow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from canned import CLASS_NAMES, RUN_A, make_runs
from fake_engine import ScreenApp, wait_for
from textual.widgets import DataTable, Select, Static, TabbedContent

from cnn_tui.tui.results import ResultsScreen
from cnn_tui.tui.widgets.confusion import ConfusionMatrix, cell_colour
from cnn_tui.tui.widgets.curves import CurvePlot
from cnn_tui.tui.widgets.gallery import SampleGallery, SampleTile, display_size, halfblock_pixels



def plain(widget: Static) -> str:
    content = widget.content
    return content.plain if hasattr(content, "plain") else str(content)


@pytest.fixture()
def runs(tmp_path) -> dict[str, Path]:
    return make_runs(tmp_path / "runs")


async def _ready(app, pilot):
    from textual.worker import WorkerFailed

    try:
        await app.workers.wait_for_complete()
    except WorkerFailed:
        pass  # a load that fails on purpose: the screen turns it into a notification
    await pilot.pause()


async def test_metrics_per_class_and_confusion(runs):
    app = ScreenApp(lambda: ResultsScreen(runs["a"]))
    async with app.run_test(size=(110, 40)) as pilot:
        await _ready(app, pilot)
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        metrics = screen.run.metrics
        line = plain(screen.query_one("#metrics-line", Static))
        for key in ("test_loss", "test_accuracy", "f1_weighted", "f1_macro"):
            assert f"{metrics[key]:.4f}" in line
        assert "completed" in plain(screen.query_one("#results-head", Static))

        table = screen.query_one("#per-class", DataTable)
        assert table.row_count == len(CLASS_NAMES)
        first = [str(c) for c in table.get_row_at(0)]
        pc = metrics["per_class"][0]
        assert first == [pc["class"], f"{pc['precision']:.4f}", f"{pc['recall']:.4f}", f"{pc['f1']:.4f}", str(pc["support"])]

        confusion = screen.query_one(ConfusionMatrix)
        assert confusion.matrix == metrics["confusion_matrix"]
        assert confusion.class_names == CLASS_NAMES
        rendered = confusion.render()
        lines = rendered.plain.splitlines()
        # header of class names, then one row per true class with its counts
        assert lines[0].split()[1:] == CLASS_NAMES
        for i, row in enumerate(metrics["confusion_matrix"]):
            assert lines[i + 1].split() == [CLASS_NAMES[i], *map(str, row)]
        # shading: diagonal and off-diagonal cells in different hues, by row share
        shares = confusion.row_shares()
        assert all(abs(sum(r) - 1) < 1e-9 for r in shares)
        hit, miss = cell_colour(0.5, True), cell_colour(0.5, False)
        assert hit[1] > hit[0] and miss[0] > miss[1]
        assert cell_colour(0.9, False)[0] > cell_colour(0.2, False)[0]
        bgs = {span.style.bgcolor.get_truecolor()[:3] for span in rendered.spans if getattr(span.style, "bgcolor", None)}
        assert len(bgs) > 3

        # training curves from history.csv
        loss = screen.query_one("#curve-loss", CurvePlot)
        assert [s.label for s in loss.series] == ["train", "val"]
        assert len(loss.series[0].x) == 4


async def test_gallery_titles_paging_and_filter(runs):
    app = ScreenApp(lambda: ResultsScreen(runs["a"], page_size=8))
    async with app.run_test(size=(110, 40)) as pilot:
        await _ready(app, pilot)
        screen = app.screen
        gallery = screen.query_one(SampleGallery)
        wrong = screen.run.metrics["misclassified"]
        assert len(gallery.samples) == len(wrong) > 8
        first = wrong[0]
        expected = f"{first['true']} -> {first['pred']} ({first['confidence']:.2f})"
        assert gallery.titles[0] == expected
        assert len(gallery.titles) == 8
        tiles = [t for t in screen.query(SampleTile) if t.display]
        assert [t.title_text for t in tiles] == gallery.titles
        assert all(" -> " in t and t.endswith(")") for t in gallery.titles)

        page1 = [s.index for s in gallery.page_samples]
        await pilot.press("n")
        assert await wait_for(lambda: gallery.page == 1)
        assert screen.query_one(TabbedContent).active == "tab-gallery"
        page2 = [s.index for s in gallery.page_samples]
        assert page2 and not set(page1) & set(page2)
        assert "page 2/" in str(screen.query_one("#gallery-status").content)
        await pilot.press("b")
        assert await wait_for(lambda: [s.index for s in gallery.page_samples] == page1)

        # filter by true class (key f cycles through the classes present)
        await pilot.press("f")
        assert await wait_for(lambda: gallery.true_filter == min(s.true for s in gallery.samples))
        cls = gallery.true_filter
        assert gallery.filtered and all(s.true == cls for s in gallery.filtered)
        assert len(gallery.filtered) < len(gallery.samples)
        assert screen.query_one("#filter-true", Select).value == cls
        assert all(t.startswith(f"{CLASS_NAMES[cls]} -> ") for t in gallery.titles)
        # predicted-class filter through the Select widget
        target = gallery.filtered[0].pred  # the choices are the predictions of this class's mistakes
        screen.query_one("#filter-pred", Select).value = target
        assert await wait_for(lambda: gallery.pred_filter == target)
        assert all(s.pred == target and s.true == cls for s in gallery.filtered)
        await pilot.press("a")
        assert await wait_for(lambda: gallery.true_filter is None and gallery.pred_filter is None)
        assert len(gallery.filtered) == len(gallery.samples)


async def test_gallery_filter_counts_follow_the_other_filter(runs):
    """With a true-class filter on, the predicted-class choices counted every mistake ("pred:
    Trouser (1)" beside "no sample matches"): each list now counts what the other filter lets
    through, and 'f' only steps to classes that have samples there."""
    app = ScreenApp(lambda: ResultsScreen(runs["a"], page_size=8))
    async with app.run_test(size=(110, 40)) as pilot:
        await _ready(app, pilot)
        gallery = app.screen.query_one(SampleGallery)
        assert await wait_for(lambda: len(gallery.samples) > 8)
        cls = gallery.samples[0].true
        gallery.set_filter(true=cls)
        pred_select = app.screen.query_one("#filter-pred", Select)
        mine = [s for s in gallery.samples if s.true == cls]
        expected = {}
        for s in mine:
            expected[s.pred] = expected.get(s.pred, 0) + 1
        assert await wait_for(lambda: len(pred_select._options) - 1 == len(expected))  # + its prompt
        shown = {value: str(prompt) for prompt, value in pred_select._options if value is not Select.BLANK}
        for pred, n in expected.items():
            assert shown[pred].endswith(f"({n})"), (shown, expected)
        # stepping the predicted filter only offers classes with samples under true = cls
        for _ in range(len(expected)):
            gallery.cycle_filter("pred")
            assert gallery.filtered, (gallery.true_filter, gallery.pred_filter)
        gallery.clear_filters()
        assert len(gallery.filtered) == len(gallery.samples)


NO_METRICS = {
    "stopped": ["stopped", "No test metrics"],
    "failed": ["failed", "ResourceExhaustedError"],
    "crashed": ["crashed", "process died"],
    "damaged": ["damaged", "unreadable status"],
}


async def test_runs_without_metrics(runs):
    app = ScreenApp(lambda: ResultsScreen(runs["stopped"]))
    async with app.run_test(size=(110, 40)) as pilot:
        for which, words in NO_METRICS.items():
            if which != "stopped":
                await app.push_screen(ResultsScreen(runs[which]))
            await _ready(app, pilot)
            screen = app.screen
            assert isinstance(screen, ResultsScreen) and screen.run_dir == runs[which]
            text = plain(screen.query_one("#results-head", Static)) + plain(screen.query_one("#no-metrics", Static))
            for word in words:
                assert word in text, which
            assert not screen.query_one("#summary-body").display
            assert screen.query_one(SampleGallery).samples == []
        await pilot.press("n", "f")  # nothing to page or filter: no crash
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)


async def test_not_a_run_folder_notifies(tmp_path):
    app = ScreenApp(lambda: ResultsScreen(tmp_path / "nope"))
    async with app.run_test() as pilot:
        await _ready(app, pilot)
        assert isinstance(app.screen, ResultsScreen)
        assert any(n.severity == "error" for n in app._notifications)
        await pilot.press("escape")
        assert await wait_for(lambda: not isinstance(app.screen, ResultsScreen))


async def test_gallery_falls_back_to_reloading(runs, monkeypatch):
    import numpy as np
    from types import SimpleNamespace

    from canned import canned_images

    (runs["a"] / "samples.npz").unlink()
    monkeypatch.setattr("cnn_tui.core.data.load_dataset", lambda cfg: SimpleNamespace(x_test=canned_images()))
    app = ScreenApp(lambda: ResultsScreen(runs["a"]))
    async with app.run_test(size=(110, 40)) as pilot:
        await _ready(app, pilot)
        gallery = app.screen.query_one(SampleGallery)
        assert gallery.samples and all(np.array_equal(s.image, canned_images()[s.index]) for s in gallery.samples)


async def test_gallery_load_error_is_a_notification(runs, monkeypatch):
    from cnn_tui.core.errors import DataError

    (runs["a"] / "samples.npz").unlink()

    def broken(cfg):
        raise DataError("digits: scikit-learn is missing")

    monkeypatch.setattr("cnn_tui.core.data.load_dataset", broken)
    app = ScreenApp(lambda: ResultsScreen(runs["a"]))
    async with app.run_test(size=(110, 40)) as pilot:
        await _ready(app, pilot)
        gallery = app.screen.query_one(SampleGallery)
        assert await wait_for(
            lambda: any("scikit-learn" in n.message and n.severity == "error" for n in app._notifications)
        )
        assert "scikit-learn is missing" in str(app.screen.query_one("#gallery-status").content)
        assert gallery.samples == []


def test_display_size():
    assert display_size(8, 8) == (16, 16)
    assert display_size(28, 28) == (28, 28)
    assert display_size(32, 32) == (32, 32)
    assert display_size(64, 128) == (16, 32)


@pytest.mark.parametrize("shape", [(28, 28), (8, 8), (7, 5), (32, 32, 3), (9, 15, 4)])
def test_halfblock_pixels_draw_what_rich_pixels_draws(shape):
    import numpy as np
    from PIL import Image
    from rich_pixels import Pixels

    rng = np.random.default_rng(len(shape) * 100 + shape[0])
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    if len(shape) == 3 and shape[2] == 4:
        arr[..., 3] = rng.integers(0, 2, shape[:2]) * 255  # some fully transparent pixels
    arr[0, :] = arr[1, :] = arr[0, 0]  # repeated cells (the cache)
    image = Image.fromarray(arr, mode="L" if len(shape) == 2 else {3: "RGB", 4: "RGBA"}[shape[2]])
    want = Pixels.from_image(image)._segments.segments
    got = halfblock_pixels(image)._segments.segments
    assert got == want
    assert [repr(s.style) for s in got] == [repr(s.style) for s in want]


def test_snapshot_results(runs, snap_compare):
    assert runs["a"].name == RUN_A

    async def ready(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(ScreenApp(lambda: ResultsScreen(runs["a"])), terminal_size=(100, 32), run_before=ready)


def test_snapshot_results_gallery(runs, snap_compare):
    async def ready(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(ScreenApp(lambda: ResultsScreen(runs["a"])), terminal_size=(100, 32), run_before=ready)
