"""Snapshot of the Training screen after a scripted run (fake engine, fixed run id)."""

from __future__ import annotations

from fake_engine import SIZE, FakeEngine, train_four_epochs, wait_for


def test_training_screen_after_a_run_snapshot(make_app, snap_compare):
    engine = FakeEngine(steps=8, step_delay=0.0, run_id="20240102-100000-digits-quick-abc123")
    app = make_app(engine)
    # Every batch is drawn (none merged away), so the curve does not depend on timing.
    engine.wait_seen = lambda e, s: app.session.monitor is not None and (app.session.monitor.epoch, app.session.monitor.step) >= (e, s)

    async def run_before(pilot) -> None:
        setup = app.setup_screen
        assert await wait_for(lambda: setup.config is not None and setup.preset_name == "digits-quick")
        await train_four_epochs(app, pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
