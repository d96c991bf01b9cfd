"""Numbers, durations and tensor shapes as short text, for the CLI and the app alike, and
the names both offer: the test metrics and the table formats.

Each front end shows a missing value its own way (the CLI's aligned tables leave the cell
empty, the Training screen writes ``-``, the Results screen ``—``); the keyword arguments
say which, so that one function serves them all. Imports nothing heavy: the app's widgets
use it at start-up, and the CLI's argument parser (built on every ``cnn-tui`` start) takes
its choices from here.
"""

from __future__ import annotations

import math
from typing import Any

METRICS = ("test_accuracy", "test_loss", "f1_weighted", "f1_macro", "epochs_completed", "train_seconds")
"""The test metrics of a run that tables show and studies aggregate (a study's primary ``metric`` is one)."""
FORMATS = ("csv", "md", "latex", "json")
"""The table formats :func:`cnn_tui.core.results.table.render` writes."""


def fmt_float(value: Any, digits: int = 4, *, missing: str = "", nan: str | None = None,
              floats_only: bool = False) -> str:
    """``value`` with ``digits`` decimals (``0.9123``).

    ``missing`` stands for None; ``nan``, if given, for a NaN float (else it reads ``nan``).
    With ``floats_only`` only floats are formatted and any other value (an int count, a
    string) is shown as ``str(value)``; without it, whatever ``float()`` takes is formatted
    and the rest shown as ``str(value)``.
    """
    if value is None:
        return missing
    if nan is not None and isinstance(value, float) and math.isnan(value):
        return nan
    if floats_only and not isinstance(value, float):
        return str(value)
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def fmt_duration(seconds: float | None, *, unknown: str = "?", clamp: bool = False) -> str:
    """``h:mm:ss``, or ``m:ss`` under an hour, rounded to the second.

    ``unknown`` for None, NaN, infinity and a negative value; with ``clamp`` a negative
    value reads ``0:00`` instead (an ETA that ran out).
    """
    if seconds is None or not math.isfinite(seconds):
        return unknown
    if seconds < 0:
        if not clamp:
            return unknown
        seconds = 0
    h, rem = divmod(int(round(seconds)), 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_shape(shape: Any, *, empty: str = "scalar") -> str:
    """``(8, 8, 32)`` -> ``"8x8x32"``; ``(None, 10)`` -> ``"10"`` (batch dims dropped);
    ``empty`` when no dimension is left; a string passes through, and a value that is not a
    sequence of dimensions is shown as ``str(shape)``."""
    if isinstance(shape, str):
        return shape
    try:
        dims = [d for d in shape if d is not None]
    except TypeError:
        return str(shape)
    return "x".join(str(int(d)) for d in dims) if dims else empty
