"""What the app does around its first paint: the terminal driver, the background
TensorFlow import, the screens built out of sight.

The first paint waits for nothing heavy. Right after it (:meth:`Startup.first_paint`), a
thread worker imports TensorFlow (:data:`TF_PRELOAD_DELAY` later, once the frame has been
written); when it is loaded, the Training and Runs screens and the latest run's Results
screen are built in the background (:mod:`cnn_tui.tui.compat.prewarm`), so their first
visit is a plain switch.
"""

from __future__ import annotations

import asyncio
import gc
import time
from functools import partial
from typing import TYPE_CHECKING

from cnn_tui.tui.compat.prewarm import PAUSE_SECONDS, prewarm_modes
from cnn_tui.tui.gc_policy import end_startup_pause
from cnn_tui.tui.messages import TensorFlowReady

if TYPE_CHECKING:
    from cnn_tui.tui.app import CnnTuiApp

TF_PRELOAD_DELAY = 0.3
"""Seconds between the first paint and the start of the background TensorFlow import."""


def driver_class(default: type) -> type:
    """The driver to run the app with, given Textual's choice ``default``: the terminal's
    with fd 2 silenced (:class:`~cnn_tui.tui.driver.QuietStderrDriver`), the browser's
    quitting on SIGHUP (:class:`~cnn_tui.tui.driver.ServedDriver`), else ``default``."""
    try:
        from textual.drivers.linux_driver import LinuxDriver
    except ImportError:  # Windows
        return default
    if default is LinuxDriver:
        from cnn_tui.tui.driver import QuietStderrDriver

        return QuietStderrDriver
    from textual.drivers.web_driver import WebDriver

    if default is WebDriver:  # a browser tab of `cnn-tui serve`
        from cnn_tui.tui.driver import ServedDriver

        return ServedDriver
    return default


class Startup:
    """The app's start-up state (first paint, TensorFlow) and the work after the first paint."""

    def __init__(self, app: CnnTuiApp) -> None:
        self.app = app
        self.created = time.perf_counter()
        self.first_paint_seconds: float | None = None
        """Seconds from the app's creation to the Setup screen's first frame."""
        self.tf_ready = False
        """TensorFlow is imported (by the background worker)."""
        """How long the background import took."""

    def first_paint(self) -> None:
        """Record the first paint (once) and start what waited for it."""
        if self.first_paint_seconds is not None:
            return
        self.first_paint_seconds = time.perf_counter() - self.created
        end_startup_pause()  # collection was off while the app started (cnn-tui launcher)
        app = self.app
        if app.PRELOAD_TF:
            # The import holds the GIL for seconds: start it only once the first frame
            # has really been written to the terminal (first_paint runs after the
            # screen's first refresh, but the frame still has to be flushed by the
            # driver's writer thread, which an import in progress would starve).
            app.set_timer(TF_PRELOAD_DELAY, self.preload_tf)
        elif app.PREWARM_SCREENS:
            app.set_timer(TF_PRELOAD_DELAY, self.prewarm_screens)

    def preload_tf(self) -> None:
        """Import TensorFlow in a thread worker; the app gets a :class:`TensorFlowReady`."""
        self.app.run_worker(self._import_tf, thread=True, group="tfimport", exit_on_error=False)

    def _import_tf(self) -> None:
        error = None
        try:
            from cnn_tui.core.tfimport import import_tf

            import_tf()
            if self.app.engine is None:
                import cnn_tui.core.engine  # noqa: F401 - warm the import for the first run
            # TensorFlow and Keras leave ~300k long-lived objects that every full
            # (generation 2) garbage collection walks again: 0.35-0.46 s with the GIL held,
            # i.e. a frozen screen every few seconds. They live as long as the process, so
            # move them out of the collector's sight.
            gc.freeze()
        except Exception as exc:  # noqa: BLE001 - reported, never a crash
            error = f"{type(exc).__name__}: {exc}"
        self.app.post_message(TensorFlowReady(error))

    def tf_loaded(self, message: TensorFlowReady) -> None:
        """The background import ended (:class:`TensorFlowReady`): record it, then pre-build."""
        app = self.app
        if message.error:
            app.notify(f"TensorFlow could not be imported: {message.error}", severity="error")
        else:
            self.tf_ready = True
        if app.PREWARM_SCREENS:
            self.prewarm_screens()

    def prewarm_screens(self) -> None:
        """Build the Training and Runs screens, then the latest run's Results screen, out of sight."""
        app = self.app
        app.navigator.ensure_mode("runs")
        # A callable, not a coroutine: a worker that never starts (the app is closing) then
        # leaves no coroutine behind that was never awaited.
        app.run_worker(partial(self._prewarm, ["training", "runs"]), group="prewarm", exclusive=True,
                       exit_on_error=False)

    async def _prewarm(self, modes: list[str]) -> None:
        navigator = self.app.navigator
        await prewarm_modes(self.app, modes)
        run_dir = navigator.results_run_dir(quiet=True)
        if run_dir is not None:
            await asyncio.sleep(PAUSE_SECONDS)
            await navigator.prebuild_results(run_dir)
