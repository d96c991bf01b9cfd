"""``cnn-tui`` / ``cnn-tui tui``: start the terminal app."""

from __future__ import annotations

import argparse

from cnn_tui.cli.common import add_runs_dir, runs_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("tui", help="start the terminal app (the default without a command)")
    add_runs_dir(p)
    p.add_argument("--preset", metavar="NAME", default=None, help="preset to open the setup screen with")
    p.set_defaults(func=launch)


def launch(args: argparse.Namespace) -> int:
    """Import the Textual app only now (it is the slow part of a bare `cnn-tui`).

    Garbage collection is off from here to the first painted frame (see
    :mod:`cnn_tui.tui.gc_policy`); the app switches it back on.
    """
    from cnn_tui.tui.gc_policy import end_startup_pause, pause_for_startup

    pause_for_startup()
    try:
        from cnn_tui.tui.app import CnnTuiApp

        preset = getattr(args, "preset", None) or getattr(args, "top_preset", None)
        app = CnnTuiApp(runs_dir=runs_dir(args), preset=preset)
        app.run()
    finally:
        end_startup_pause()  # no-op after a first paint; else (start-up failed) here
    code = getattr(app, "return_code", None)
    return int(code) if isinstance(code, int) else 0
