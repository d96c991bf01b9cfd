"""Shared text formatting (cnn_tui/core/formatting.py) and the constants the front ends share:
one definition each, and every caller's output as it was when each had its own copy."""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

import pytest

from cnn_tui.core.formatting import fmt_duration, fmt_float, format_shape

PACKAGE = Path(__file__).resolve().parents[1] / "cnn_tui"


@pytest.mark.parametrize("pattern", [
    r"def _?fmt_float\b", r"def _?fmt_duration\b", r"def _?format_shape\b", r"def _fmt\(value: Any, digits",
    r"^_?METRICS\s*=", r"^_?FORMATS\s*=",
])
def test_each_helper_and_constant_is_defined_once(pattern: str) -> None:
    found = [f"{path.relative_to(PACKAGE)}:{n}" for path in sorted(PACKAGE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if re.search(pattern, line)]
    assert len(found) <= 1, found


def test_fmt_float_as_each_front_end_shows_it() -> None:
    # the CLI's tables: missing is an empty cell, NaN reads nan
    assert [fmt_float(v) for v in (0.91234, None, "", math.nan, "n/a", 3)] == ["0.9123", "", "", "nan", "n/a", "3.0000"]
    assert fmt_float(12.345, 1) == "12.3"
    # the Training screen's log lines: None and NaN are "-"
    assert [fmt_float(v, missing="-", nan="-") for v in (0.5, None, math.nan)] == ["0.5000", "-", "-"]
    # the Results screen: "—" for missing, only floats get decimals (a support count stays an int)
    assert [fmt_float(v, missing="—", floats_only=True) for v in (0.5, None, 30, math.nan)] == ["0.5000", "—", "30", "nan"]


def test_fmt_duration_unknown_and_clamped() -> None:
    assert [fmt_duration(s) for s in (0, 65.4, 3725, 59.6)] == ["0:00", "1:05", "1:02:05", "1:00"]
    assert [fmt_duration(s) for s in (None, math.nan, -1, math.inf)] == ["?", "?", "?", "?"]
    assert fmt_duration(-3, clamp=True) == "0:00"  # the app's ETA once it ran out


def test_format_shape_in_core_and_in_the_app() -> None:
    assert format_shape((8, 8, 32)) == "8x8x32"
    assert format_shape((None, 10)) == "10"
    assert format_shape(()) == "scalar"
    assert format_shape((), empty="-") == "-"  # the model summary's table
    assert format_shape("4x4x8") == "4x4x8"  # Keras' summary rows come as text
    assert format_shape(7) == "7"


def test_front_ends_use_the_shared_definitions() -> None:
    from cnn_tui.cli import common
    from cnn_tui.core.models import shapes
    from cnn_tui.tui import training
    from cnn_tui.tui.widgets import model_summary

    assert common.fmt_float is fmt_float and common.fmt_duration is fmt_duration
    assert shapes.format_shape is format_shape
    assert not hasattr(training, "_fmt_duration") and not hasattr(training, "_fmt_float")
    assert getattr(model_summary, "format_shape", format_shape) is format_shape


def _choices(parser: argparse.ArgumentParser, command: str, option: str) -> tuple:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return tuple(next(a for a in sub._actions if option in a.option_strings).choices)


def test_the_cli_offers_the_metrics_and_formats_of_the_core() -> None:
    from cnn_tui.cli import build_parser
    from cnn_tui.core.engine import plan
    from cnn_tui.core.formatting import FORMATS, METRICS
    from cnn_tui.core.results import table

    parser = build_parser()
    assert plan.METRICS is METRICS and table.METRICS is METRICS and table.FORMATS is FORMATS
    for command in ("sweep", "ablate", "experiment"):
        if command != "experiment":  # its metric is the config's
            assert _choices(parser, command, "--metric") == METRICS
        assert _choices(parser, command, "--format") == ("md", "csv", "latex", "json")  # the default first, as before
    assert _choices(parser, "export", "--format") == ("md", "csv", "latex", "json")
    assert sorted(_choices(parser, "export", "--format")) == sorted(FORMATS)

