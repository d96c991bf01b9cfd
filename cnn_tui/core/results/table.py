"""Tables of runs for reports: one writer for the CLI and the TUI.

Rows are runs; columns are the run's id, name and state, the config keys whose values
differ between the selected runs, and the test metrics. :func:`render` writes CSV,
Markdown, LaTeX (booktabs) or JSON, optionally transposed (fields as rows, runs as
columns, the usual layout of a report table); :func:`export` writes that to a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from cnn_tui.core.errors import CnnTuiError
from cnn_tui.core.formatting import FORMATS, METRICS
from cnn_tui.core.fsutil import write_output, write_text_synced

if TYPE_CHECKING:  # pragma: no cover
    from cnn_tui.core.results.store import RunInfo

METRIC_COLUMNS = (*METRICS, "params")
SUFFIXES = {".csv": "csv", ".md": "md", ".markdown": "md", ".tex": "latex", ".latex": "latex", ".json": "json"}

# Always shown (when present) even if equal across runs; never compared: `description`
# is prose, and the config's `name` is shown as the run's name.
_ALWAYS = ("data.dataset",)
_IGNORED = ("name", "description")
# Metric columns written with fewer decimals than `precision`.
_SECONDS = ("train_seconds",)


@dataclass
class Table:
    """A plain table: ``rows`` map column name -> raw value (None = missing)."""

    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""


def _flat_config(run: "RunInfo") -> dict[str, Any] | None:
    from cnn_tui.core.config import flatten

    try:
        return flatten(run.config)
    except CnnTuiError:
        return None  # damaged config.toml: its cells stay empty


def differing_keys(configs: Iterable[dict[str, Any] | None]) -> list[str]:
    """Dotted keys (in schema order) whose values are not the same in every config,
    plus ``data.dataset``; ``name`` and ``description`` are left out."""
    flats = [c for c in configs if c is not None]
    order: dict[str, None] = {}
    for flat in flats:
        for key in flat:
            order.setdefault(key, None)
    keys = []
    for key in order:
        if key in _IGNORED:
            continue
        values = [json.dumps(flat.get(key, None), sort_keys=True) for flat in flats]
        if key in _ALWAYS or len(set(values)) > 1:
            keys.append(key)
    return keys


def runs_table(runs: list["RunInfo"], *, title: str = "", config_keys: Iterable[str] | None = None) -> Table:
    """One row per run: run (folder id), name, state, the metrics, then config keys: those
    that differ between the runs (and ``data.dataset``), or ``config_keys`` when given.

    Metrics come first: with the differing keys first, ``test_accuracy`` sat some 300
    columns to the right of a sweep's table."""
    flats = [_flat_config(run) for run in runs]
    keys = differing_keys(flats) if config_keys is None else [k for k in config_keys if k not in _IGNORED]
    columns = ["run", "name", "state", *METRIC_COLUMNS, *keys]
    rows = []
    for run, flat in zip(runs, flats):
        row: dict[str, Any] = {"run": run.run_id, "name": run.name, "state": run.state}
        for key in keys:
            row[key] = flat.get(key) if flat is not None else None
        metrics = run.metrics or {}
        for key in METRIC_COLUMNS:
            row[key] = metrics.get(key)
        rows.append(row)
    return Table(columns=columns, rows=rows, title=title)


def sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before text; None handled by the caller (always last)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value).lower())


def sort_rows(rows: list[dict[str, Any]], column: str, reverse: bool = False) -> list[dict[str, Any]]:
    """``rows`` ordered by ``column``; rows without a value stay at the end either way
    (the app's Runs screen and ``cnn-tui runs list --sort``)."""
    present = [r for r in rows if r.get(column) is not None]
    missing = [r for r in rows if r.get(column) is None]
    return sorted(present, key=lambda r: sort_key(r[column]), reverse=reverse) + missing


def matches_words(text: str, values: Iterable[Any]) -> bool:
    """Every word of ``text`` occurs (case-insensitively) in one of ``values`` joined: the
    runs filter of the app (/) and of ``cnn-tui runs list --filter``."""
    haystack = " ".join(str(v) for v in values if v is not None).lower()
    return all(word in haystack for word in text.lower().split())


def config_keys_of(runs: list["RunInfo"]) -> list[str]:
    """Every dotted config key of ``runs`` (schema order), for choosing table columns."""
    order: dict[str, None] = {}
    for flat in (_flat_config(run) for run in runs):
        for key in flat or {}:
            if key not in _IGNORED:
                order.setdefault(key, None)
    return list(order)


def transpose_table(table: Table) -> Table:
    """Fields as rows, one column per row of ``table`` (labelled by its first column)."""
    if not table.columns:
        return Table(columns=[], rows=[], title=table.title)
    key = table.columns[0]
    labels: list[str] = []
    for row in table.rows:
        label = _text(row.get(key), key, 4) or "?"
        while label in labels or label == key:
            label += "'"
        labels.append(label)
    rows = []
    for col in table.columns[1:]:
        new: dict[str, Any] = {key: col}
        for label, row in zip(labels, table.rows):
            new[label] = _Cell(row.get(col), col)
        rows.append(new)
    return Table(columns=[key, *labels], rows=rows, title=table.title)


@dataclass(frozen=True)
class _Cell:
    """A value that remembers which column it came from (for formatting after transposing)."""

    value: Any
    column: str


def _unwrap(value: Any, column: str) -> tuple[Any, str]:
    if isinstance(value, _Cell):
        return value.value, value.column
    return value, column


def _is_metric(column: str) -> bool:
    return column in METRIC_COLUMNS


def _text(value: Any, column: str, precision: int) -> str:
    """A cell as text: missing -> "", metric floats with ``precision`` decimals."""
    value, column = _unwrap(value, column)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if _is_metric(column):
            return f"{value:.{1 if column in _SECONDS else precision}f}"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v, "", precision) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _json_value(value: Any, column: str, precision: int) -> Any:
    value, column = _unwrap(value, column)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        if _is_metric(column):
            return round(value, 1 if column in _SECONDS else precision)
    return value


def _is_numeric_column(table: Table, column: str) -> bool:
    seen = False
    for row in table.rows:
        value, _ = _unwrap(row.get(column), column)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        seen = True
    return seen


def render(table: Table, fmt: str, *, transpose: bool = False, precision: int = 4) -> str:
    """The table as ``fmt`` text (csv, md, latex or json); ends with a newline."""
    if fmt not in FORMATS:
        raise CnnTuiError(f"unknown table format {fmt!r} (allowed: {', '.join(FORMATS)})")
    if transpose:
        table = transpose_table(table)
    if fmt == "json":
        return _render_json(table, precision)
    cells = [[_text(row.get(c), c, precision) for c in table.columns] for row in table.rows]
    if fmt == "csv":
        return _render_csv(table, cells)
    if fmt == "md":
        return _render_md(table, cells)
    return _render_latex(table, cells)


def _render_json(table: Table, precision: int) -> str:
    rows = [{c: _json_value(row.get(c), c, precision) for c in table.columns} for row in table.rows]
    return json.dumps(rows, indent=2, default=str) + "\n"


def _render_csv(table: Table, cells: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(cells)
    return buf.getvalue()


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _render_md(table: Table, cells: list[list[str]]) -> str:
    header = [_md_escape(c) for c in table.columns]
    body = [[_md_escape(c) for c in row] for row in cells]
    right = [_is_numeric_column(table, c) for c in table.columns]
    widths = [max([3, len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right)) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in body)]) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",  # OT1, LaTeX's default font encoding, prints '<' as an inverted '!'
    ">": r"\textgreater{}",
    "±": r"$\pm$",  # mean ± std cells: math mode works with any input encoding
}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in plain text."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _render_latex(table: Table, cells: list[list[str]]) -> str:
    align = "".join("r" if _is_numeric_column(table, c) else "l" for c in table.columns)
    lines = []
    if table.title:
        lines.append("% " + table.title.replace("\n", " "))
    lines += [
        f"\\begin{{tabular}}{{{align}}}",
        "\\toprule",
        " & ".join(latex_escape(c) for c in table.columns) + r" \\",
        "\\midrule",
        *(" & ".join(latex_escape(c) for c in row) + r" \\" for row in cells),
        "\\bottomrule",
        "\\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


def format_for_path(path: str | os.PathLike) -> str | None:
    """The format a file name suggests (``.csv`` -> csv, ``.tex`` -> latex ...), or None."""
    return SUFFIXES.get(Path(path).suffix.lower())


def export(
    table: Table,
    fmt: str,
    path: str | os.PathLike,
    *,
    transpose: bool = False,
    force: bool = False,
    precision: int = 4,
) -> Path:
    """Write the rendered table to ``path`` atomically; refuse to replace a file unless ``force``."""
    text = render(table, fmt, transpose=transpose, precision=precision)
    target = write_output(path, lambda tmp: write_text_synced(tmp, text), force=force)
    return target
