"""Snapshot of the Setup screen (fixed size; the Keras summary is off so it is deterministic)."""

from __future__ import annotations

from fake_engine import SIZE, wait_for

from cnn_tui.tui.widgets.model_summary import ModelSummaryView


def test_setup_screen_snapshot(make_app, snap_compare):
    app = make_app()

    async def run_before(pilot) -> None:
        setup = app.setup_screen
        assert await wait_for(lambda: "digits" in setup.infos and setup.preset_name == "digits-quick")
        assert await wait_for(lambda: setup.query_one(ModelSummaryView).state == "plan")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_setup_screen_with_an_invalid_field_snapshot(make_app, snap_compare):
    app = make_app()

    async def run_before(pilot) -> None:
        setup = app.setup_screen
        assert await wait_for(lambda: "digits" in setup.infos and setup.preset_name == "digits-quick")
        field = setup.field("model.dropout")
        field.switch.value = True
        await wait_for(lambda: not field.control.disabled)
        # Let the valid dropout config reach the shape plan first (validation is debounced),
        # so the snapshot never depends on whether the timer fired between the two edits.
        summary = setup.query_one(ModelSummaryView)
        assert await wait_for(lambda: setup.config is not None and setup.config.model.dropout > 0)
        assert await wait_for(lambda: summary.state == "plan" and any("dropout" in " ".join(r) for r in summary.rows))
        field.control.value = "1.5"
        assert await wait_for(lambda: field.has_class("-invalid"))
        await pilot.press("f5")  # refused: a notification says why
        assert await wait_for(lambda: bool(app.screen.query("Toast")))  # shown, not just queued
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
