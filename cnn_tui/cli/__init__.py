"""The ``cnn-tui`` command: no arguments -> the terminal app; sub-commands -> headless core calls.

Each sub-command lives in its own module exposing ``register(subparsers)``, which adds a
parser and sets ``func`` (``args -> exit code``) as its default. Adding a command is one
entry in :data:`COMMAND_MODULES`.

Exit codes: 0 ok, 1 a run failed, 2 bad input (one ``cnn-tui: error: ...`` line on
stderr, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from cnn_tui import __version__
from cnn_tui.core.errors import CnnTuiError
from cnn_tui.cli.common import BAD_INPUT, INTERRUPTED, PROG, RUN_FAILED, CliError, error_line, print_error

# Sub-command modules (under cnn_tui.cli), in the order `--help` lists them.
COMMAND_MODULES: list[str] = [
    "tui_cmd",
    "serve",
    "run",
    "resume_cmd",
    "experiments_cmd",
    "runs",
    "export",
    "plot",
    "presets_cmd",
    "datasets",
]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``cnn-tui run: error: ... (see cnn-tui run --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        text = " ".join(message.split())
        print(f"{self.prog}: error: {text} (see {self.prog} --help)", file=sys.stderr, flush=True)
        raise SystemExit(BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Run CNN image-classification experiments (TensorFlow/Keras). "
        "Without a command, starts the terminal app.",
        epilog="Run `cnn-tui COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--runs-dir",
        dest="top_runs_dir",
        metavar="D",
        default=None,
        help="runs folder (default: $CNN_TUI_RUNS_DIR or ./runs)",
    )
    parser.add_argument("--preset", dest="top_preset", metavar="NAME", default=None, help="preset to open the app with")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cnn-tui``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else BAD_INPUT)
    func = getattr(args, "func", None)
    if func is None:
        from cnn_tui.cli.tui_cmd import launch

        func = launch
    try:
        return int(func(args) or 0)
    except (CnnTuiError, CliError) as exc:
        print_error(exc)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(error_line("interrupted"), file=sys.stderr, flush=True)
        return INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (`cnn-tui runs list | head`): not an error worth a traceback.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except OSError as exc:
        # A disk fault the core did not turn into a run state (full disk, read-only folder).
        where = f": {exc.filename}" if exc.filename else ""
        print(error_line(f"{exc.strerror or exc}{where}"), file=sys.stderr, flush=True)
        return RUN_FAILED


__all__ = ["COMMAND_MODULES", "build_parser", "main"]
