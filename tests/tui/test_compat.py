"""Canaries of cnn_tui/tui/compat/: each fails when Textual (or plotext) changes what a
patch or a private read relies on -- the name, its signature, or the behaviour patched.

When one fails after an upgrade, fix the compat module it names (and widen the pin in
pyproject.toml only once they all pass).
"""

from __future__ import annotations

import inspect
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.stylesheet import Stylesheet
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Checkbox, Footer, Label, RichLog, Select, Static
from textual_plotext import PlotextPlot

from cnn_tui.tui.compat import TESTED_PLOTEXT, TESTED_TEXTUAL, TESTED_TEXTUAL_PLOTEXT
from cnn_tui.tui.compat import app as compat_app
from cnn_tui.tui.compat import prewarm, widgets
from cnn_tui.tui.compat.plotext import cell_style, figure_content
from cnn_tui.tui.compat.select import LeanSelect
from cnn_tui.tui.widgets.live_plot import LivePlot
from cnn_tui.tui.widgets.run_log import RunLog

ROOT = Path(__file__).resolve().parents[2]


def params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


# -- the pins ---------------------------------------------------------------------------


def _pinned(name: str) -> str:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    reqs = [Requirement(d) for d in deps]
    return str(next(r.specifier for r in reqs if r.name == name))


def test_pyproject_pins_what_the_canaries_cover_and_it_is_installed():
    for name, tested in (("textual", TESTED_TEXTUAL), ("textual-plotext", TESTED_TEXTUAL_PLOTEXT),
                         ("plotext", TESTED_PLOTEXT)):
        assert _pinned(name) == str(Requirement(f"{name}{tested}").specifier), name
        assert Version(version(name)) in Requirement(f"{name}{tested}").specifier, (name, version(name))


# -- compat/app.py ----------------------------------------------------------------------


class _Probe(compat_app.CompatApp):
    BINDINGS = [Binding("f5", "train", "Train")]

    def compose(self) -> ComposeResult:
        yield Checkbox("on", True, compact=True)
        yield Footer()


class _Plain(App):
    def compose(self) -> ComposeResult:
        yield Checkbox("on", True, compact=True)


class _Opaque(Screen):
    DEFAULT_CSS = "_Opaque { background: black; }"

    def compose(self) -> ComposeResult:
        yield Label("top")


async def _early_restyles(app_class, monkeypatch) -> int:
    """How many times the stylesheet restyled a node not yet in the DOM."""
    early = []
    original = Stylesheet.update_nodes

    def spy(self, nodes, animate=False):
        nodes = list(nodes)
        early.append(bool(nodes) and isinstance(nodes[0], Widget) and nodes[0]._parent is None)
        return original(self, nodes, animate)

    monkeypatch.setattr(Stylesheet, "update_nodes", spy)
    async with app_class().run_test() as pilot:
        await pilot.pause()
    return sum(early)


async def test_update_styles_guard_skips_the_restyle_textual_does_before_mount(monkeypatch):
    assert params(App.update_styles) == ["self", "node", "animate"]
    assert Widget()._parent is None and compat_app.in_dom(Widget()) is False
    assert await _early_restyles(_Plain, monkeypatch) > 0  # Textual still styles a control before mount
    assert await _early_restyles(_Probe, monkeypatch) == 0  # ...and the guard stops it


async def test_background_screens_is_empty_under_an_opaque_screen():
    assert isinstance(inspect.getattr_static(App, "_background_screens"), property)
    app = _Probe()
    async with app.run_test() as pilot:
        await app.push_screen(_Opaque())
        await pilot.pause()
        assert App._background_screens.fget(app)  # Textual paints the screen under it...
        assert app._background_screens == []  # ...not under CompatApp


class _Hooked(compat_app.FrameHookScreen):
    def __init__(self) -> None:
        super().__init__()
        self.frames: list[int] = []

    def frame_refreshed(self) -> None:
        self.frames.append(self.app._batch_count)


async def test_frame_hook_runs_after_refreshes_outside_the_update_batch(monkeypatch):
    assert params(Screen._compositor_refresh) == ["self"]
    batches = []
    original = Screen._compositor_refresh

    def spy(self):
        batches.append(self.app._batch_count)
        return original(self)

    monkeypatch.setattr(Screen, "_compositor_refresh", spy)
    app = _Probe()
    async with app.run_test() as pilot:
        screen = _Hooked()
        with app.batch_update():
            assert compat_app.in_update_batch(app)
            await app.push_screen(screen)
            screen.refresh()
            await pilot.pause()
        assert not compat_app.in_update_batch(app)
        screen.refresh()
        await pilot.pause()
        assert screen.frames and set(screen.frames) == {0}
        assert any(batches)  # refreshes inside the batch reach _compositor_refresh, and are not frames


async def test_screen_stacks_installed_screens_and_binding_labels():
    app = _Probe()
    async with app.run_test() as pilot:
        stacks = compat_app.screen_stacks(app)
        assert list(stacks) == [app.current_mode] and stacks[app.current_mode][0] is app.screen
        screen = _Opaque()
        app.install_screen(screen, name="kept")
        await app.push_screen("kept")
        assert compat_app.on_a_stack(app, screen)
        try:
            app.uninstall_screen(screen)
        except Exception:  # noqa: BLE001 - refused while on a stack: why drop_installed exists
            pass
        else:  # pragma: no cover - Textual changed: drop_installed may no longer be needed
            raise AssertionError("uninstall_screen accepted a screen on a stack")
        compat_app.drop_installed(app, "kept")
        assert not app.is_screen_installed("kept")
        app.pop_screen()
        await pilot.pause()
        assert not compat_app.on_a_stack(app, screen)

        assert compat_app.relabel_binding(app, "f5", "Train digits") is True
        assert compat_app.relabel_binding(app, "f5", "Train digits") is False  # unchanged
        assert compat_app.relabel_binding(app, "f9", "nothing") is False
        app.refresh_bindings()
        await pilot.pause()
        assert app.active_bindings["f5"].binding.description == "Train digits"
        assert "Train digits" in [k.description for k in app.query(widgets.FooterKey)]


# -- compat/prewarm.py ------------------------------------------------------------------


class _Modes(compat_app.CompatApp):
    MODES = {"one": lambda: _Opaque(), "two": lambda: _Opaque()}
    DEFAULT_MODE = "one"


async def test_prewarm_builds_a_mode_and_a_screen_out_of_sight_as_styled():
    assert params(App._init_mode) == ["self", "mode"]
    assert params(App._get_screen) == ["self", "screen"]
    assert params(App._load_screen_css) == ["self", "screen"]
    assert params(Screen._refresh_layout) == ["self", "size", "scroll"]
    app = _Modes()
    async with app.run_test() as pilot:
        assert await prewarm.prewarm_mode(app, "two") is True
        built = app.get_screen_stack("two")[0]
        assert built.is_mounted and app.screen is not built
        assert built._css_update_count == app._css_update_count  # recorded as styled
        assert await prewarm.prewarm_mode(app, "two") is False  # made already

        screen = _Opaque()
        assert await prewarm.prewarm_screen(app, screen) is True
        assert screen.is_mounted and not compat_app.on_a_stack(app, screen)
        assert screen._css_update_count == app._css_update_count
        assert isinstance(screen._layout_widgets, dict) and screen._layout_required is False
        assert screen.query_one(Label).region.width > 0  # laid out at the app's size
        await app.push_screen(screen)
        await pilot.pause()
        assert app.screen is screen


# -- compat/select.py -------------------------------------------------------------------


def test_select_private_parts_lean_select_overrides():
    from textual.widgets import _select

    assert {"NoSelection", "SelectCurrent", "SelectOverlay"} <= set(vars(_select))
    assert params(Select._watch_value) == ["self", "value"]
    assert params(Select._watch_expanded) == ["self", "expanded"]
    assert params(Select._watch_prompt) == ["self", "prompt"]
    assert params(Select._setup_options_renderables) == ["self"]
    select = Select([("a", 1)], value=1, allow_blank=False, type_to_search=True)
    assert (select._value, select._allow_blank, select._type_to_search) == (1, False, True)
    assert params(_select.SelectOverlay) == ["type_to_search"]


class _SelectApp(App):
    def compose(self) -> ComposeResult:
        yield LeanSelect([("alpha", 1), ("beta", 2)], value=1, allow_blank=False)


async def test_lean_select_watchers_run_under_textual_private_names():
    app = _SelectApp()
    async with app.run_test() as pilot:
        select = app.query_one(LeanSelect)
        assert select._options[-1][1] == 2
        assert not select.query(_select_overlay())
        select.expanded = True  # Textual calls _watch_expanded: the overlay is mounted
        await pilot.pause()
        await pilot.pause()
        assert select.query(_select_overlay())
        select.expanded = False
        select.value = 2  # _watch_value: the line shows the new label
        await pilot.pause()
        assert "beta" in str(select.children[0].render())


def _select_overlay():
    from cnn_tui.tui.compat.select import SelectOverlay

    return SelectOverlay


# -- compat/widgets.py ------------------------------------------------------------------


class _Watched(Static):
    count = reactive(0)


class _WatchApp(App):
    def compose(self) -> ComposeResult:
        yield _Watched(id="watched")
        yield Static(id="watcher")


async def test_closed_watchers_stay_registered_until_pruned():
    app = _WatchApp()
    async with app.run_test() as pilot:
        watched, watcher = app.query_one("#watched"), app.query_one("#watcher")
        watcher.watch(watched, "count", lambda value: None, init=False)
        assert len(getattr(watched, "__watchers")["count"]) == 1
        await watcher.remove()
        await pilot.pause()
        assert watcher._closed or watcher._closing
        assert len(getattr(watched, "__watchers")["count"]) == 1  # Textual keeps it (the leak)
        assert widgets.prune_closed_watchers(watched) == 1
        assert getattr(watched, "__watchers")["count"] == []


async def test_footer_keys_are_the_exported_footer_key_class():
    app = _Probe()
    async with app.run_test() as pilot:
        await pilot.pause()
        keys = list(app.query(widgets.FooterKey))
        assert keys and all(type(k).__module__ == "textual.widgets._footer" for k in keys)


async def test_scroll_update_gives_a_log_its_scrollbar_without_a_layout():
    assert params(Widget._scroll_update) == ["self", "virtual_size"]
    assert RichLog.virtual_size._layout is True  # why RunLog redefines it (test_run_log checks the effect)

    class LogApp(App):
        def compose(self) -> ComposeResult:
            yield RunLog()

    app = LogApp()
    async with app.run_test(size=(40, 10)) as pilot:
        log = app.query_one(RunLog)
        log.virtual_size = Size(30, 100)  # not a layout reactive in RunLog: only scroll_update runs
        await pilot.pause()
        assert log.show_vertical_scrollbar and log.vertical_scrollbar.window_virtual_size == 100


async def test_linux_driver_writes_to_its_file_and_knows_its_app():
    assert "self._file" in inspect.getsource(LinuxDriver.start_application_mode)
    app = App()
    driver = LinuxDriver(app)
    assert driver._file is sys.__stderr__ and widgets.driver_app(driver) is app
    widgets.set_driver_file(driver, sys.__stdout__)
    assert driver._file is sys.__stdout__


# -- compat/plotext.py ------------------------------------------------------------------


class _PlotApp(App):
    def compose(self) -> ComposeResult:
        yield LivePlot("loss", id="plot")


async def test_figure_from_the_matrix_is_plotext_own_rendering():
    from plotext._utility import colors_to_ansi

    assert "\x1b[" in colors_to_ansi("red", "bold", "default")  # (fullground, style, background)
    assert params(PlotextPlot._get_plotext_theme_name) == ["self", "app_theme_name"]
    app = _PlotApp()
    async with app.run_test(size=(60, 20)) as pilot:
        plot = app.query_one(LivePlot)
        plot.set_series("train", [1, 2, 3], [0.9, 0.5, 0.4])
        plot.redraw()
        await pilot.pause()
        width, height = plot.size
        ours = figure_content(plot, width, height)
        theirs = PlotextPlot.render(plot)
        assert ours.plain == theirs.plain
        assert cell_style("default", "default", "default") is None
