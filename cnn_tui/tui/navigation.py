"""Moving between the app's screens, and the one Results screen kept for the next r.

Setup, Training and Runs are modes (a screen stack each, the Runs mode added on first
use); Results and Help are pushed over them. Opening a run's Results screen composes it
and reads the run (~0.25 s): the last one built is kept installed
(:data:`RESULTS_SCREEN_NAME`) and shown again while its run folder is unchanged, and the
latest completed run's is built out of sight after start-up and after a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.screen import Screen

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.tui.compat.app import drop_installed, on_a_stack
from cnn_tui.tui.compat.prewarm import mark_styled, prewarm_screen

if TYPE_CHECKING:
    from cnn_tui.tui.app import CnnTuiApp

RESULTS_SCREEN_NAME = "results-last"
"""The installed (kept after pop) Results screen of the run last opened."""


def folder_stamp(run_dir: Path) -> tuple:
    """What changes when a run folder's contents change (names, sizes, mtimes)."""
    entries = []
    try:
        for entry in run_dir.iterdir():
            st = entry.stat()
            entries.append((entry.name, st.st_size, st.st_mtime_ns))
    except OSError:
        return ()
    return tuple(sorted(entries))


def same_path(path: Path) -> Path:
    """``path`` made absolute and resolved, to compare two spellings of one folder."""
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path).absolute()


class Navigator:
    """The app's moves between screens and its kept Results screen."""

    def __init__(self, app: CnnTuiApp) -> None:
        self.app = app
        self.kept: tuple[Path, tuple, Screen] | None = None
        """The Results screen kept: (its run folder, the folder's stamp, the screen)."""
        self._added: set[str] = set()
        """The modes added on first use (their screen modules are imported then)."""

    def goto(self, mode: str) -> None:
        """Show a mode's base screen (pops what was pushed over it, e.g. a Results screen
        left open there before switching away)."""
        app = self.app
        if app.current_mode != mode:
            app.switch_mode(mode)
            # Textual restyles a new mode's screen before it is mounted and never records
            # it: without this, the second visit re-parses all CSS again (0.15-0.35 s).
            app.call_after_refresh(mark_styled, app, app.screen)
        while len(app.screen_stack) > 1:
            app.pop_screen()

    def ensure_mode(self, mode: str) -> None:
        """Add the ``runs`` or ``experiment`` mode on its first use (its module is imported then)."""
        if mode in self._added:
            return
        app = self.app
        if mode == "runs":
            from cnn_tui.tui.runs import RunsScreen

            app.add_mode("runs", lambda: RunsScreen(app.runs_dir))
        else:
            from cnn_tui.tui.experiment import ExperimentScreen

            app.add_mode("experiment", ExperimentScreen)
        self._added.add(mode)

    def results_run_dir(self, *, quiet: bool = False) -> Path | None:
        """The run r shows: the last one this app ran, else the latest stored."""
        app = self.app
        if app.last_run_dir is not None:
            return app.last_run_dir
        try:
            from cnn_tui.core.results.store import RunStore

            return RunStore(app.runs_dir).get("latest").path
        except CnnTuiError as exc:
            if not quiet:
                app.notify(str(exc), severity="warning")
            return None

    def cached_results_screen(self, run_dir: Path, stamp: tuple) -> Screen | None:
        """The Results screen built for ``run_dir`` when the folder is unchanged since
        (same ``stamp``) and the screen is not shown."""
        kept = self.kept
        if kept is not None and kept[:2] == (same_path(run_dir), stamp) and not on_a_stack(self.app, kept[2]):
            return kept[2]
        return None

    async def prebuild_results(self, run_dir: Path) -> bool:
        """Build the Results screen of ``run_dir`` out of sight, so that r shows it at once
        (see :func:`cnn_tui.tui.compat.prewarm.prewarm_screen`); only for a completed run, and
        not while a run trains (a speculative screen is not worth CPU taken from training)."""
        app = self.app
        if app.training_active:
            return False
        from cnn_tui.tui.results import ResultsScreen, load_run

        try:
            run = load_run(run_dir)
        except CnnTuiError:
            return False
        if run.state != "completed" or run.metrics is None:
            return False  # nothing worth it, and no error toast for a run nobody asked for
        run_dir = Path(run_dir)
        stamp = folder_stamp(run_dir)
        if self.cached_results_screen(run_dir, stamp) is not None or app.session.quitting:
            return False
        if self.kept is not None and on_a_stack(app, self.kept[2]):
            return False  # a Results screen is shown: leave it be
        screen = ResultsScreen(run_dir)
        self._keep(run_dir, stamp, screen)
        return await prewarm_screen(app, screen)

    def open_results(self, run_dir: Path) -> None:
        """Push the Results screen for ``run_dir``."""
        from cnn_tui.tui.results import ResultsScreen

        app = self.app
        run_dir = Path(run_dir)
        stamp = folder_stamp(run_dir)
        cached = self.cached_results_screen(run_dir, stamp)
        if cached is not None:
            # Same run folder, unchanged since: show the screen built last time (composing
            # it and re-reading the run costs ~0.25 s a press of r).
            app.push_screen(cached)
            return
        try:
            screen = ResultsScreen(run_dir)
        except CnnTuiError as exc:
            app.notify(str(exc), severity="error")
            return
        self._keep(run_dir, stamp, screen)
        app.push_screen(screen)

    def _keep(self, run_dir: Path, stamp: tuple, screen: Screen) -> None:
        """Install ``screen`` as the one Results screen kept (for ``run_dir`` as it is at
        ``stamp``), in place of the one kept before."""
        self.forget_results_screen()
        self.app.install_screen(screen, name=RESULTS_SCREEN_NAME)
        self.kept = (same_path(run_dir), stamp, screen)

    def forget_results_screen(self) -> None:
        """Uninstall the kept Results screen (if any)."""
        kept = self.kept
        if kept is None:
            return
        self.kept = None
        try:
            self.app.uninstall_screen(kept[2])  # refused (ScreenStackError) while on a stack
        except Exception:  # noqa: BLE001 - still on a stack: Textual removes it when popped
            drop_installed(self.app, RESULTS_SCREEN_NAME)
        else:
            if kept[2].is_attached:
                kept[2].remove()
