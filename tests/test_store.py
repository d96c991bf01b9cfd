"""RunStore: run folders, listing, lookup, history, crash and damage detection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_tui.core.config import ExperimentConfig, apply_overrides
from cnn_tui.core.errors import CnnTuiError, RunStoreError
from cnn_tui.core.results.history import HISTORY_COLUMNS, read_history
from cnn_tui.core.results.store import RunStore, resolve_runs_dir


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "runs")


def _config(name: str = "demo", **overrides) -> ExperimentConfig:
    return apply_overrides(ExperimentConfig(name=name), overrides) if overrides else ExperimentConfig(name=name)


def _row(epoch: int) -> dict:
    return {"epoch": epoch, "loss": 1.0 / epoch, "accuracy": 0.5, "val_loss": 0.9, "val_accuracy": 0.6, "lr": 1e-3, "seconds": 0.1}


def _no_temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]


def test_create_writes_config_status_and_history_header(store: RunStore) -> None:
    writer = store.create(_config(), tags={"group": "a"})
    assert writer.path.parent == store.root
    assert writer.run_id.split("-")[2] == "demo"
    status = json.loads((writer.path / "status.json").read_text())
    assert status["state"] == "running" and status["tags"] == {"group": "a"}
    assert (writer.path / "history.csv").read_text().strip() == ",".join(HISTORY_COLUMNS)
    run = store.get(writer.run_id)
    assert run.config.name == "demo"
    assert run.state == "running"  # this process is alive
    assert run.tags == {"group": "a"}


def test_create_sanitizes_the_name(store: RunStore) -> None:
    writer = store.create(_config(), name="../../etc passwd")
    assert writer.path.parent == store.root
    assert "/" not in writer.run_id and ".." not in writer.run_id


def test_list_is_oldest_first_and_get_finds_by_id_short_id_substring_latest(store: RunStore) -> None:
    second = store.create(_config("beta"))
    second.finish("stopped")
    first = store.create(_config("alpha"))
    first.finish("completed")
    # Order follows the created time, not the folder name.
    first.update_status(created="2026-01-01T10:00:00+00:00")
    second.update_status(created="2026-01-01T11:00:00+00:00")
    runs = store.list()
    assert [r.run_id for r in runs] == [first.run_id, second.run_id]
    assert store.get(first.run_id).path == first.path
    assert store.get(second.status["short_id"]).path == second.path
    assert store.get("alpha").path == first.path
    assert store.get("latest").path == second.path
    assert store.get(str(first.path)).path == first.path
    assert store.get("beta").state == "stopped"


def test_get_ambiguous_and_unknown_raise_one_line(store: RunStore) -> None:
    store.create(_config("same")).finish("completed")
    store.create(_config("same")).finish("completed")
    with pytest.raises(RunStoreError, match="ambiguous") as ambiguous:
        store.get("same")
    with pytest.raises(RunStoreError, match="not found") as unknown:
        store.get("nothing-like-this")
    for exc in (ambiguous.value, unknown.value):
        assert isinstance(exc, CnnTuiError) and "\n" not in str(exc)


def test_get_on_empty_store_says_how_to_make_a_run(store: RunStore) -> None:
    with pytest.raises(RunStoreError, match="no runs yet"):
        store.get("latest")
    assert store.list() == []


def test_history_append_truncate_and_torn_last_line(store: RunStore) -> None:
    writer = store.create(_config())
    for epoch in (1, 2, 3):
        writer.append_history(_row(epoch))
    rows = read_history(writer.path)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0]["loss"] == pytest.approx(1.0) and isinstance(rows[0]["lr"], float)

    writer.truncate_history(2)
    assert [r["epoch"] for r in store.get(writer.run_id).history()] == [1, 2]
    assert _no_temp_files(store.root) == []


@pytest.mark.parametrize("torn", ["3,0.4,0.", "3,0.4", "3", "1"])
def test_torn_last_history_line_is_ignored(store: RunStore, torn: str) -> None:
    """A process killed mid-row leaves a partial last line (no newline): it is not an epoch."""
    writer = store.create(_config())
    for epoch in (1, 2):
        writer.append_history(_row(epoch))
    with open(writer.path / "history.csv", "a", encoding="utf-8") as handle:
        handle.write(torn)
    assert [r["epoch"] for r in read_history(writer.path)] == [1, 2]


def test_missing_history_is_empty(store: RunStore) -> None:
    writer = store.create(_config())
    (writer.path / "history.csv").unlink()
    assert store.get(writer.run_id).history() == []


def test_running_with_a_dead_pid_is_crashed(store: RunStore) -> None:
    writer = store.create(_config())
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead_pid = int(proc.stdout)
    writer.update_status(pid=dead_pid)
    assert store.get(writer.run_id).state == "crashed"
    writer.update_status(host="some-other-host")  # can't tell about other machines: keep "running"
    assert store.get(writer.run_id).state == "running"


def test_damaged_status_is_listed_as_damaged_and_foreign_folders_are_skipped(store: RunStore) -> None:
    good = store.create(_config("good"))
    good.finish("completed")
    bad = store.create(_config("bad"))
    (bad.path / "status.json").write_text("{not json", encoding="utf-8")
    (store.root / "notes").mkdir()
    (store.root / "notes" / "readme.txt").write_text("not a run")
    (store.root / ".hidden").mkdir()
    (store.root / "stray-file.txt").write_text("x")
    runs = {r.run_id: r for r in store.list()}
    assert set(runs) == {good.run_id, bad.run_id}
    assert runs[bad.run_id].state == "damaged"
    assert "unreadable status" in runs[bad.run_id].error
    assert runs[good.run_id].state == "completed"


def test_damaged_config_raises_run_store_error(store: RunStore) -> None:
    writer = store.create(_config())
    (writer.path / "config.toml").write_text("[model\n", encoding="utf-8")
    with pytest.raises(RunStoreError):
        store.get(writer.run_id).config


def test_metrics_and_predictions_round_trip(store: RunStore) -> None:
    import numpy as np

    writer = store.create(_config())
    writer.write_metrics({"test_accuracy": 0.5, "params": 10})
    writer.save_predictions(probs=np.full((2, 3), 1 / 3, dtype=np.float32), labels=np.array([0, 1]))
    run = store.get(writer.run_id)
    assert run.metrics == {"test_accuracy": 0.5, "params": 10}
    preds = run.predictions()
    assert preds["probs"].shape == (2, 3) and preds["labels"].tolist() == [0, 1]
    (writer.path / "metrics.json").write_text("[1, 2", encoding="utf-8")
    assert store.get(writer.run_id).metrics is None  # damaged metrics: shown as missing


def test_atomic_writes_leave_no_temp_files(store: RunStore) -> None:
    import numpy as np

    writer = store.create(_config())
    for epoch in range(1, 4):
        writer.append_history(_row(epoch))
        writer.update_status(epoch=epoch)
    writer.write_metrics({"test_accuracy": 0.5})
    writer.save_predictions(probs=np.zeros((1, 2), dtype=np.float32))
    writer.truncate_history(2)
    writer.finish("completed")
    assert _no_temp_files(store.root) == []
    assert sorted(p.name for p in writer.path.iterdir()) == [
        "config.toml",
        "history.csv",
        "metrics.json",
        "predictions.npz",
        "status.json",
    ]


def test_reopening_a_killed_run_removes_its_half_written_temp_files(store: RunStore) -> None:
    writer = store.create(_config())
    # what a SIGKILL inside atomic_write_with leaves: a dot-named temp beside the real file
    (writer.path / ".checkpoint.k2j_9x.tmp.keras").write_bytes(b"PK half a zip")
    (writer.path / ".status.abc123.tmp.json").write_text("{", encoding="utf-8")
    (writer.path / "notes.tmp.txt").write_text("the user's own file", encoding="utf-8")
    store.open_writer(store.get(writer.run_id))
    assert sorted(p.name for p in writer.path.iterdir()) == ["config.toml", "history.csv", "notes.tmp.txt", "status.json"]


def test_finish_rejects_a_non_final_state(store: RunStore) -> None:
    writer = store.create(_config())
    with pytest.raises(ValueError):
        writer.finish("running")


def test_resolve_runs_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CNN_TUI_RUNS_DIR", raising=False)
    assert resolve_runs_dir(None) == Path("runs")
    monkeypatch.setenv("CNN_TUI_RUNS_DIR", str(tmp_path / "env"))
    assert resolve_runs_dir(None) == tmp_path / "env"
    assert resolve_runs_dir(str(tmp_path / "arg")) == tmp_path / "arg"
