"""Terminal drivers: one that keeps TensorFlow's C++ log lines off the screen, one for the browser.

TensorFlow, absl and CUDA write straight to file descriptor 2 -- not only on import but
also at device initialisation and first use (e.g. ``failed call to cuInit``). Textual
draws on fd 2 as well, so those lines would land in the middle of the UI, and
silencing fd 2 around the import alone would also swallow the UI's own output while it
lasts. So while the app runs, Textual writes to a private duplicate of the terminal fd
and fd 2 itself points at /dev/null; it is restored when the driver closes, before
Textual prints any error traceback.

Under ``cnn-tui serve`` (textual-serve) the app runs with Textual's web driver; see
:class:`ServedDriver`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from textual import messages
from textual.drivers.linux_driver import LinuxDriver
from textual.drivers.web_driver import WebDriver

from cnn_tui.tui.compat.widgets import driver_app, set_driver_file


class QuietStderrDriver(LinuxDriver):
    """LinuxDriver drawing on a duplicate of fd 2, with fd 2 silenced while the app runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved_fd2: int | None = None
        self._screen_file: Any = None

    def start_application_mode(self) -> None:
        if self._saved_fd2 is None:
            try:
                sys.__stderr__.flush()
                terminal = os.dup(2)
                self._screen_file = os.fdopen(
                    os.dup(terminal), "w", encoding=getattr(sys.__stderr__, "encoding", None) or "utf-8",
                    errors="replace",
                )
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
                self._saved_fd2 = terminal
                set_driver_file(self, self._screen_file)
            except (OSError, AttributeError, ValueError):
                self._restore()
        super().start_application_mode()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._restore()

    def _restore(self) -> None:
        if self._saved_fd2 is not None:
            try:
                os.dup2(self._saved_fd2, 2)
                os.close(self._saved_fd2)
            except OSError:
                pass
            self._saved_fd2 = None
        set_driver_file(self, sys.__stderr__)
        if self._screen_file is not None:
            try:
                self._screen_file.close()
            except OSError:
                pass
            self._screen_file = None


class ServedDriver(WebDriver):
    """Textual's web driver (a browser tab of ``cnn-tui serve``), also quitting on SIGHUP.

    The web driver quits the app on the server's "quit" (the tab closed), SIGINT and SIGTERM;
    the app's quit stops a run in progress and stores it as ``stopped``. SIGHUP -- the terminal
    that started the server went away, e.g. a dropped SSH session -- would otherwise kill the
    app where it stands and leave the run ``crashed``. A SIGHUP that is ignored (``nohup``) stays
    ignored.
    """

    def start_application_mode(self) -> None:
        super().start_application_mode()
        if not hasattr(signal, "SIGHUP") or signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
            return
        try:
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: driver_app(self).post_message(messages.ExitApp())
            )
        except (NotImplementedError, RuntimeError):  # pragma: no cover - no signals here
            pass
