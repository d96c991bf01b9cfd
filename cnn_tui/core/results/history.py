"""history.csv: a run's epoch rows (written by :class:`~cnn_tui.core.results.store.RunWriter`),
read back by every front end and checked before resume rewrites it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")


def history_csv(rows: list[dict[str, Any]]) -> str:
    """The text of a history.csv holding ``rows`` (header first; None values empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in HISTORY_COLUMNS})
    return buf.getvalue()


def read_history(path: Path) -> list[dict[str, Any]]:
    """Rows of ``path/history.csv`` as dicts of floats (epoch as int); [] if absent.

    A torn last line (a process killed mid-write) is ignored, and so is any line that is
    not an epoch row (a tampered or damaged file: bytes that are not UTF-8, text that is not
    CSV): readers show the epochs that are there, never fail on the rest.
    """
    file = path / "history.csv"
    try:
        with open(file, encoding="utf-8", errors="replace", newline="") as handle:
            lines = handle.readlines()
    except OSError:  # absent, a folder, unreadable
        return []
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # every row is written with its newline: one without it is torn
    rows: list[dict[str, Any]] = []
    reader = csv.DictReader(lines)
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error:  # e.g. a field over csv's size limit: skip that line
            continue
        try:
            rows.append(_history_row(raw))
        except (TypeError, ValueError, KeyError):
            continue
    return rows


def _history_row(raw: dict[str, Any]) -> dict[str, Any]:
    """A csv row of history.csv as an epoch row (epoch int, the rest float or None);
    TypeError/ValueError/KeyError when it is not one."""
    row: dict[str, Any] = {"epoch": int(raw["epoch"])}
    for key in HISTORY_COLUMNS[1:]:
        val = raw.get(key)
        row[key] = float(val) if val not in (None, "") else None
    return row


def history_problem(path: Path) -> str | None:
    """Why ``path/history.csv`` cannot be rewritten safely (resume truncates it), or None: not
    UTF-8, another header, or a complete line that is not an epoch row (a file edited by hand
    or by a spreadsheet). A missing file and a torn last line are fine."""
    file = path / "history.csv"
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{file}: cannot read ({exc.strerror or exc})"
    except UnicodeDecodeError:
        return f"{file}: not UTF-8 text"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()  # torn by a kill: resume drops it
    if not lines:
        return None
    if lines[0].strip() != ",".join(HISTORY_COLUMNS):
        return f"{file}: header {lines[0].strip()[:60]!r} is not {','.join(HISTORY_COLUMNS)!r}"
    for number, line in enumerate(lines[1:], start=2):
        try:
            (raw,) = list(csv.DictReader([lines[0], line]))
            _history_row(raw)
        except (TypeError, ValueError, KeyError, csv.Error):
            return f"{file}: line {number} is not an epoch row ({line.strip()[:40]!r})"
    return None


# metrics.json keys the readers format, with the types they must have; a value of another
