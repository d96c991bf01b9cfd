"""End to end with the real engine: launch -> F5 on digits-quick (2 epochs) -> Results screen.

Takes some 20-40 s (TensorFlow import and two epochs on the 8x8 digits). Skipped until the
engine and the Results screen exist; deselect with ``-k "not e2e"``.
"""

from __future__ import annotations

import json

import pytest
from fake_engine import SIZE, wait_for

pytest.importorskip("cnn_tui.core.engine")
results = pytest.importorskip("cnn_tui.tui.results")

from cnn_tui.tui.app import CnnTuiApp  # noqa: E402
from cnn_tui.tui.widgets.confusion import ConfusionMatrix  # noqa: E402
from cnn_tui.tui.widgets.live_plot import LivePlot  # noqa: E402


async def test_e2e_real_engine_from_launch_to_results(runs_dir, presets_dir):
    app = CnnTuiApp(runs_dir=runs_dir, user_presets_dir=presets_dir)  # engine: cnn_tui.core.engine.train
    assert app.engine is None and app.PRELOAD_TF and app.AUTO_OPEN_RESULTS
    async with app.run_test(size=SIZE) as pilot:
        setup = app.setup_screen
        assert await wait_for(lambda: setup.config is not None and setup.preset_name == "digits-quick", timeout=30)
        setup.field("train.epochs").control.value = "2"  # as `--set train.epochs=2`
        assert await wait_for(lambda: setup.config is not None and setup.config.train.epochs == 2)
        await pilot.press("f5")
        assert await wait_for(lambda: app.session.monitor is not None and not app.session.monitor.active, timeout=180)
        monitor = app.session.monitor
        assert monitor.status == "completed", monitor.error
        assert await wait_for(lambda: isinstance(app.screen, results.ResultsScreen), timeout=30)
        screen = app.screen
        # The Results screen shows the stored run: its metrics and the misclassified digits.
        assert await wait_for(lambda: screen.run is not None, timeout=30)
        gallery = screen.query_one(results.SampleGallery)
        assert await wait_for(lambda: bool(gallery.samples), timeout=30)
        assert screen.run.run_id == monitor.run_dir.name
        assert screen.class_names == [str(d) for d in range(10)]
        assert all(s.true != s.pred and s.image is not None for s in gallery.samples)
        confusion = screen.query_one(ConfusionMatrix)
        assert confusion.matrix == monitor.metrics["confusion_matrix"]
        assert sum(map(sum, confusion.matrix)) == sum(row["support"] for row in monitor.metrics["per_class"])
        assert monitor.epoch_x == [1.0, 2.0] and len(monitor.val_accuracy) == 2
        assert monitor.batch_steps, "no batch-level points reached the UI"
        assert monitor.metrics and monitor.metrics["test_accuracy"] > 0.3
        plot = app.training_screen.query_one("#plot-acc", LivePlot)
        assert plot.series["val"][1] == monitor.val_accuracy
        status = json.loads((monitor.run_dir / "status.json").read_text())
        assert status["state"] == "completed"
        assert (monitor.run_dir / "metrics.json").exists()
