"""What the subcommands share: output helpers, one-line errors, the progress reporter.

Kept free of heavy imports: the core modules are imported inside the functions that
need them, so ``cnn-tui --help`` stays instant; only the core's formatting and the
names of metrics and table formats (:mod:`cnn_tui.core.formatting`, light) load with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

from cnn_tui.core.formatting import FORMATS, fmt_duration, fmt_float

PROG = "cnn-tui"
TABLE_FORMATS = ("md", *(f for f in FORMATS if f != "md"))
"""The table formats ``--format`` offers: the core's, the default (md) first."""

# Exit codes.
OK = 0
RUN_FAILED = 1
BAD_INPUT = 2
INTERRUPTED = 130


class CliError(Exception):
    """A usage error found by the CLI itself (reported like a CnnTuiError: one line, exit 2)."""


def error_line(message: object) -> str:
    """``cnn-tui: error: <message>`` folded onto one line."""
    text = " ".join(str(message).split()) or "unknown error"
    return f"{PROG}: error: {text}"


def print_error(message: object, stream: TextIO | None = None) -> None:
    print(error_line(message), file=stream or sys.stderr, flush=True)


def info(message: str) -> None:
    """A diagnostic line (stderr)."""
    print(message, file=sys.stderr, flush=True)


def out(text: str = "") -> None:
    """A result line (stdout)."""
    print(text, file=sys.stdout, flush=True)


# ---------------------------------------------------------------------------------------
# Shared arguments


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir",
        metavar="D",
        # SUPPRESS: a nested parser's default must not overwrite a value given earlier.
        default=argparse.SUPPRESS,
        help="runs folder (default: $CNN_TUI_RUNS_DIR or ./runs)",
    )


def add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="K=V",
        action="append",
        default=[],
        help="override a config key, e.g. --set model.dropout=0.3 (repeatable)",
    )


def runs_dir(args: argparse.Namespace) -> Path:
    """The runs folder from ``--runs-dir`` (sub-command or top level), env, or ./runs."""
    from cnn_tui.core.results.store import resolve_runs_dir

    return resolve_runs_dir(getattr(args, "runs_dir", None) or getattr(args, "top_runs_dir", None))


def resolve_config(spec: str, overrides: Sequence[str] = ()):
    """A preset name or TOML path, with ``--set`` overrides applied."""
    from cnn_tui.core import presets
    from cnn_tui.core.config import apply_overrides

    config = presets.resolve_spec(spec)
    if overrides:
        config = apply_overrides(config, list(overrides))
    return config


# ---------------------------------------------------------------------------------------
# Formatting


def columns(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: Sequence[bool] | None = None) -> str:
    """A plain aligned text table for the terminal (two spaces between columns)."""
    text_rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text_rows)]) for i, h in enumerate(headers)]
    right = list(right) if right is not None else [False] * len(headers)

    def line(values: Sequence[str]) -> str:
        cells = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(cells).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in text_rows)])


def fmt_lr(lr: float | None) -> str:
    """A learning rate, compactly: 0.01, 1e-3, 2.5e-4."""
    if lr is None:
        return "?"
    if lr == 0:
        return "0"
    if 1e-2 <= abs(lr) < 100:
        return f"{lr:.3g}"
    mantissa, exp = f"{lr:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exp)}"


def fmt_created(iso: str | None) -> str:
    """``2026-05-09T12:34:56+02:00`` -> ``2026-05-09 12:34``."""
    if not iso:
        return ""
    return iso[:16].replace("T", " ")


# ---------------------------------------------------------------------------------------
# Progress


def _epoch_line(ev: Any) -> str:
    logs = ev.logs or {}
    parts = [f"epoch {ev.epoch}/{ev.epochs}"]
    for key, label in (("loss", "loss"), ("accuracy", "acc"), ("val_loss", "val_loss"), ("val_accuracy", "val_acc")):
        if logs.get(key) is not None:
            parts.append(f"{label} {fmt_float(logs[key])}")
    parts.append(f"lr {fmt_lr(ev.lr)}")
    parts.append(f"{ev.seconds:.1f}s")
    return "  ".join(parts)


class Progress:
    """Prints engine events on ``stream`` (stderr).

    On a terminal: one carriage-return progress bar (epoch, step, running loss/accuracy,
    ETA), replaced by a permanent line at each epoch end. Elsewhere: one plain line per
    epoch and no carriage returns.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream or sys.stderr
        if tty is None:
            try:
                tty = self.stream.isatty()
            except (AttributeError, ValueError):
                tty = False
        self.tty = tty
        self.clock = clock
        self.epochs = 0
        self.initial_epoch = 0
        self._bar_shown = False
        self._mark: tuple[int, float, int] | None = None  # (epoch, time, step) of its first batch seen
        self._epoch_times: list[float] = []
        self.last_epoch = 0

    # -- output
    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _clear_bar(self) -> None:
        if self._bar_shown:
            width = shutil.get_terminal_size((80, 24)).columns
            self._write("\r" + " " * (width - 1) + "\r")
            self._bar_shown = False

    def line(self, text: str) -> None:
        self._clear_bar()
        self._write(text + "\n")

    # -- events
    def __call__(self, event: Any) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _on_RunStarted(self, ev: Any) -> None:
        self.epochs = ev.epochs
        self.initial_epoch = getattr(ev, "initial_epoch", 0) or 0
        resumed = f", resuming after epoch {self.initial_epoch}" if self.initial_epoch else ""
        self.line(
            f"run {ev.run_id}: {ev.device}, {ev.params:,} params, "
            f"train {ev.train_size} / val {ev.val_size} / test {ev.test_size}, {ev.epochs} epochs{resumed}"
        )

    def _on_BatchEnd(self, ev: Any) -> None:
        if not self.tty:
            return
        now = self.clock()
        if self._mark is None or self._mark[0] != ev.epoch:
            # Timing starts at the first batch seen: the first one carries graph tracing.
            self._mark = (ev.epoch, now, ev.step)
        steps = max(ev.steps, 1)
        frac = min(max(ev.step / steps, 0.0), 1.0)
        per_epoch: float | None = None
        if self._epoch_times:  # finished epochs (they include validation) are the best guide
            recent = self._epoch_times[-3:]
            per_epoch = sum(recent) / len(recent)
        elif ev.step > self._mark[2] and now > self._mark[1]:
            per_epoch = (now - self._mark[1]) / (ev.step - self._mark[2]) * steps
        eta = None
        if per_epoch is not None:
            eta = per_epoch * (1 - frac) + max(self.epochs - ev.epoch, 0) * per_epoch
        logs = ev.logs or {}
        stats = []
        if logs.get("loss") is not None:
            stats.append(f"loss {fmt_float(logs['loss'])}")
        if logs.get("accuracy") is not None:
            stats.append(f"acc {fmt_float(logs['accuracy'])}")
        width = shutil.get_terminal_size((80, 24)).columns
        head = f"epoch {ev.epoch}/{self.epochs or '?'} "
        tail = f" {ev.step:>{len(str(ev.steps))}}/{ev.steps}  " + "  ".join(stats)
        bar_w = max(5, min(25, width - len(head) - len(tail) - len("  ETA 0:00:00") - 3))  # steady width
        tail += f"  ETA {fmt_duration(eta)}"
        filled = int(round(frac * bar_w))
        text = f"{head}[{'#' * filled}{'.' * (bar_w - filled)}]{tail}"
        self._write("\r" + text[: width - 1].ljust(width - 1))
        self._bar_shown = True

    def _on_EpochEnd(self, ev: Any) -> None:
        self.epochs = ev.epochs or self.epochs
        self.last_epoch = ev.epoch
        self._epoch_times.append(ev.seconds)
        self.line(_epoch_line(ev))

    def _on_Log(self, ev: Any) -> None:
        if ev.level == "error":
            return  # a failed run's error comes once, from the caller's summary line
        if ev.level == "info":
            self.line(ev.message)
        else:
            self.line(f"{ev.level}: {ev.message}")

    def _on_Evaluated(self, ev: Any) -> None:
        self._clear_bar()

    def _on_RunFinished(self, ev: Any) -> None:
        self._clear_bar()

    def _on_RunFailed(self, ev: Any) -> None:
        self._clear_bar()

    def close(self) -> None:
        self._clear_bar()


@contextlib.contextmanager
def sigint_stops(
    stop: threading.Event, message: str = "stopping after this batch (Ctrl+C again to quit at once)"
) -> Iterator[None]:
    """While active, the first Ctrl+C sets ``stop`` (saying ``message``) and the second
    exits at once (130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            os._exit(INTERRUPTED)
        stop.set()
        try:
            sys.stderr.write(f"\n{message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
