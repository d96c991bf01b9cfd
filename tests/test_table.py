"""The runs table: differing keys, the four formats, transposing, LaTeX escaping, export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cnn_tui.core.config import ExperimentConfig, apply_overrides
from cnn_tui.core.errors import CnnTuiError, RunStoreError
from cnn_tui.core.results.store import RunStore
from cnn_tui.core.results.table import (
    FORMATS,
    METRIC_COLUMNS,
    Table,
    export,
    format_for_path,
    latex_escape,
    render,
    runs_table,
    transpose_table,
)


def _make_run(store: RunStore, name: str, overrides: dict, metrics: dict | None, state: str = "completed"):
    config = apply_overrides(ExperimentConfig(name=name, description=f"about {name}"), overrides)
    writer = store.create(config)
    if metrics is not None:
        writer.write_metrics(metrics)
    writer.finish(state)
    return store.get(writer.run_id)


@pytest.fixture
def runs(tmp_path: Path):
    store = RunStore(tmp_path / "runs")
    a = _make_run(
        store,
        "base",
        {"model.dropout": 0.0, "train.epochs": 5},
        {"test_accuracy": 0.912345, "test_loss": 0.3, "f1_weighted": 0.91, "f1_macro": 0.9, "epochs_completed": 5, "train_seconds": 12.345, "params": 1234},
    )
    b = _make_run(
        store,
        "drop",
        {"model.dropout": 0.5, "train.epochs": 5},
        {"test_accuracy": 0.95, "test_loss": 0.2, "f1_weighted": 0.949, "f1_macro": 0.94, "epochs_completed": 5, "train_seconds": 13.0, "params": 1234},
    )
    c = _make_run(store, "stopped", {"model.dropout": 0.5, "train.epochs": 5}, None, state="stopped")
    return [a, b, c]


def test_runs_table_keeps_only_differing_keys(runs) -> None:
    table = runs_table(runs)
    config_cols = [c for c in table.columns if c not in ("run", "name", "state", *METRIC_COLUMNS)]
    assert config_cols == ["data.dataset", "model.dropout"]  # epochs equal, description ignored
    # metrics right after the run's identity: a sweep's differing keys pushed test_accuracy
    # ~300 characters to the right
    assert table.columns[: 3 + len(METRIC_COLUMNS)] == ["run", "name", "state", *METRIC_COLUMNS]
    assert table.columns[-2:] == ["data.dataset", "model.dropout"]
    assert [r["name"] for r in table.rows] == ["base", "drop", "stopped"]
    assert [r["state"] for r in table.rows] == ["completed", "completed", "stopped"]
    assert table.rows[2]["test_accuracy"] is None


def test_runs_table_with_chosen_config_columns(runs) -> None:
    table = runs_table(runs, config_keys=["train.epochs", "name", "model.dropout"])
    assert table.columns == ["run", "name", "state", *METRIC_COLUMNS, "train.epochs", "model.dropout"]
    assert [r["train.epochs"] for r in table.rows] == [5, 5, 5]
    from cnn_tui.core.results.table import config_keys_of

    keys = config_keys_of(runs)
    assert "train.epochs" in keys and "model.dropout" in keys and "name" not in keys


def test_identical_runs_show_only_name_and_dataset(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs")
    runs = [_make_run(store, n, {}, {"test_accuracy": 0.5}) for n in ("x", "y")]
    table = runs_table(runs)
    assert [c for c in table.columns if c not in METRIC_COLUMNS] == ["run", "name", "state", "data.dataset"]


def test_damaged_config_leaves_its_cells_empty(runs) -> None:
    (runs[2].path / "config.toml").write_text("[broken\n")
    table = runs_table(RunStore(runs[0].path.parent).list())
    assert "model.dropout" in table.columns
    assert [r["model.dropout"] for r in table.rows] == [0.0, 0.5, None]
    assert table.rows[2]["data.dataset"] is None


def test_csv(runs) -> None:
    text = render(runs_table(runs), "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == ["base", "drop", "stopped"]
    assert rows[0]["test_accuracy"] == "0.9123"
    assert rows[0]["train_seconds"] == "12.3"
    assert rows[0]["model.dropout"] == "0.0" and rows[1]["model.dropout"] == "0.5"
    assert rows[2]["test_accuracy"] == ""
    assert "\r" not in text


def test_precision(runs) -> None:
    rows = list(csv.DictReader(io.StringIO(render(runs_table(runs), "csv", precision=2))))
    assert rows[0]["test_accuracy"] == "0.91"


def test_markdown_is_an_aligned_pipe_table(runs) -> None:
    text = render(runs_table(runs), "md")
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == 2 + 3
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[:1] + lines[2:])
    assert set(lines[1]) <= set("|-: ")
    assert len({len(line) for line in lines}) == 1  # aligned
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:3] == ["run", "name", "state"]
    acc = header.index("test_accuracy")
    assert lines[1].strip("|").split("|")[acc].endswith(":")  # numbers right-aligned
    assert "0.9123" in lines[2] and "0.9500" in lines[3]


def test_markdown_escapes_pipes() -> None:
    text = render(Table(columns=["a"], rows=[{"a": "x|y"}]), "md")
    assert "x\\|y" in text


def test_latex_booktabs_and_escaping(runs) -> None:
    text = render(runs_table(runs), "latex")
    for needle in ("\\begin{tabular}{", "\\toprule", "\\midrule", "\\bottomrule", "\\end{tabular}"):
        assert needle in text
    assert "test\\_accuracy" in text and "test_accuracy" not in text.replace("test\\_accuracy", "")
    body = text.split("\\midrule")[1].split("\\bottomrule")[0].strip().split("\n")
    assert len(body) == 3 and all(line.endswith("\\\\") for line in body)


def test_latex_escape_special_characters() -> None:
    assert latex_escape("a_b & 50% #1 $x {y} ~ ^ \\") == (
        "a\\_b \\& 50\\% \\#1 \\$x \\{y\\} \\textasciitilde{} \\textasciicircum{} \\textbackslash{}"
    )
    table = Table(columns=["run", "note"], rows=[{"run": "r_1", "note": "100% & more #"}], title="a_title")
    text = render(table, "latex")
    assert "r\\_1 & 100\\% \\& more \\#" in text
    assert "% a_title" in text.split("\n")[0]


def test_json_keeps_numbers_and_uses_null(runs) -> None:
    data = json.loads(render(runs_table(runs), "json"))
    assert [r["name"] for r in data] == ["base", "drop", "stopped"]
    assert data[0]["test_accuracy"] == 0.9123
    assert data[0]["params"] == 1234
    assert data[0]["model.dropout"] == 0.0
    assert data[2]["test_accuracy"] is None


def test_transpose_puts_fields_in_rows(runs) -> None:
    table = runs_table(runs)
    flipped = transpose_table(table)
    assert flipped.columns == ["run", *[r.run_id for r in runs]]
    assert [r["run"] for r in flipped.rows] == table.columns[1:]
    text = render(table, "csv", transpose=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["run", *[r.run_id for r in runs]]
    by_field = {r[0]: r[1:] for r in rows[1:]}
    assert by_field["name"] == ["base", "drop", "stopped"]
    assert by_field["test_accuracy"] == ["0.9123", "0.9500", ""]
    data = json.loads(render(table, "json", transpose=True))
    acc = next(r for r in data if r["run"] == "test_accuracy")
    assert acc[runs[0].run_id] == 0.9123 and acc[runs[2].run_id] is None
    for fmt in FORMATS:
        assert render(table, fmt, transpose=True).endswith("\n")


def test_unknown_format_is_a_one_line_error(runs) -> None:
    with pytest.raises(CnnTuiError, match="unknown table format 'xls'"):
        render(runs_table(runs), "xls")


def test_format_for_path() -> None:
    assert format_for_path("a/b.CSV") == "csv"
    assert format_for_path("t.tex") == "latex"
    assert format_for_path("t.md") == "md"
    assert format_for_path("t.json") == "json"
    assert format_for_path("t.txt") is None


def test_export_writes_atomically_and_refuses_to_overwrite(runs, tmp_path: Path) -> None:
    table = runs_table(runs)
    target = tmp_path / "out" / "table.md"
    assert export(table, "md", target) == target
    assert target.read_text() == render(table, "md")
    with pytest.raises(RunStoreError, match="exists") as exc:
        export(table, "csv", target)
    assert "\n" not in str(exc.value)
    assert target.read_text() == render(table, "md")  # untouched
    export(table, "csv", target, force=True)
    assert target.read_text() == render(table, "csv")
    assert [p.name for p in target.parent.iterdir()] == ["table.md"]  # no temp files left
    with pytest.raises(RunStoreError, match="folder"):
        export(table, "md", tmp_path, force=True)
