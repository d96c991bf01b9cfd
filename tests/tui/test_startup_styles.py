"""Start-up styling: no CSS pass is spent on widgets that are not in the DOM, and the Setup
screen is not restyled as a whole before its first paint -- yet every later restyle
still happens and the widgets end up with their styles."""

from __future__ import annotations

from fake_engine import SIZE, wait_for
from textual.app import App, ComposeResult
from textual.css.stylesheet import Stylesheet
from textual.widgets import Checkbox, Input

from cnn_tui.tui.app import CnnTuiApp
from cnn_tui.tui.setup import SetupScreen


def _count_detached_applies(monkeypatch) -> list[str]:
    """Record each Stylesheet.apply on a node that has no parent (other than an App)."""
    seen: list[str] = []
    original = Stylesheet.apply

    def apply(self, node, **kwargs):
        if node._parent is None and not isinstance(node, App):
            seen.append(type(node).__name__)
        return original(self, node, **kwargs)

    monkeypatch.setattr(Stylesheet, "apply", apply)
    return seen


class _Controls(CnnTuiApp):
    """The app class with its own screen replaced by two compact controls built in compose."""

    CSS_PATH = None
    MODES = {}
    DEFAULT_MODE = "_default"
    PRELOAD_TF = False
    PREWARM_SCREENS = False
    KERAS_SUMMARY = False

    def compose(self) -> ComposeResult:
        yield Checkbox("on", True, compact=True, id="box")
        yield Input("7", compact=True, id="text")


class _PlainControls(App):
    compose = _Controls.compose


async def test_controls_built_in_compose_are_styled_only_once_mounted(monkeypatch, tmp_path):
    seen = _count_detached_applies(monkeypatch)
    app = _Controls(runs_dir=tmp_path / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        box, text = app.query_one("#box", Checkbox), app.query_one("#text", Input)
        # Textual's own App styles them in __init__ already (compact / value set there):
        # what this override saves. Here, none of that.
        assert seen == []
        # ...and the mount-time styling did happen: the toggle classes' rules apply.
        assert box.has_class("-on") and box.has_class("-textual-compact")
        assert text.has_class("-textual-compact")
        assert box.styles.border_top[0] in ("", "none")  # compact: no border
        # A class change on a mounted widget still restyles it.
        box.value = False
        await pilot.pause()
        assert not box.has_class("-on")


async def test_textual_app_styles_detached_controls(monkeypatch):
    # The canary for the override above: if Textual stops styling widgets before they are
    # mounted, CnnTuiApp.update_styles can go.
    seen = _count_detached_applies(monkeypatch)
    async with _PlainControls().run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert "Checkbox" in seen and "Input" in seen


async def test_setup_screen_is_not_restyled_before_first_paint_but_is_on_later_resumes(make_app, monkeypatch):
    restyles: list[bool] = []
    original = SetupScreen.update_node_styles

    def update_node_styles(self, animate: bool = True) -> None:
        restyles.append(self._first_paint_done)
        original(self, animate=animate)

    monkeypatch.setattr(SetupScreen, "update_node_styles", update_node_styles)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(lambda: app.first_paint_seconds is not None)
        await pilot.pause()
        assert False not in restyles  # nothing restyled the whole screen before its first paint
        setup = app.setup_screen
        assert setup.query_one("#preset-select").has_class("-lead")
        await pilot.press("t")  # Training
        assert await wait_for(lambda: app.screen is not setup)
        restyles.clear()
        await pilot.press("s")  # back: a normal resume restyles the screen again
        assert await wait_for(lambda: app.screen is setup)
        assert await wait_for(lambda: True in restyles)
