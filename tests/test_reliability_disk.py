"""Disk faults: a read-only runs folder or a full disk gives one clear error line, and the
runs already stored there are untouched.

Where the test process may mount a filesystem (root in a container), the faults are real:
a tiny tmpfs remounted read-only, or too small for a checkpoint. Elsewhere those two are
skipped and the same paths are driven by an OSError injected where the files are written
(those always run). Tests run as root here, so chmod would not stop a write: not used.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_tui.cli import main
from cnn_tui.core.config import ExperimentConfig
from cnn_tui.core.results import store as store_mod
from cnn_tui.core.results.store import RunStore

QUICK = ["--set", "train.epochs=2", "--set", "data.train_limit=300", "--set", "data.test_limit=100"]


def _earlier_run(runs: Path) -> Path:
    writer = RunStore(runs).create(ExperimentConfig(name="earlier"))
    writer.append_history({"epoch": 1, "loss": 0.5, "accuracy": 0.8, "lr": 1e-3, "seconds": 0.1})
    writer.write_metrics({"test_accuracy": 0.9, "epochs_completed": 1})
    writer.finish("completed")
    return writer.path


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_error_line(err: str, *fragments: str) -> str:
    """The one line that says what went wrong: ``cnn-tui: error: ...`` (bad input, exit 2) or
    ``run failed: ...`` (exit 1), said once."""
    assert "Traceback" not in err
    assert not [line for line in err.splitlines() if line.startswith("error:")], err
    lines = [line for line in err.splitlines() if line.startswith(("cnn-tui: error:", "run failed:"))]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _mount(args: list[str], target: Path) -> bool:
    if sys.platform != "linux":
        return False
    proc = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    return proc.returncode == 0


@pytest.fixture
def tiny_fs(tmp_path: Path):
    """``make(size)``: a fresh tmpfs of ``size`` at tmp_path/runs (skips where mounting is not allowed)."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        target = tmp_path / "runs"
        target.mkdir()
        if not _mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs"], target):
            pytest.skip("cannot mount a tmpfs here")
        mounted.append(target)
        return target

    yield make
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


# ---------------------------------------------------------------------------------------
# Read-only runs folder


def test_read_only_runs_folder_real(tiny_fs, capsys) -> None:
    runs = tiny_fs("1m")
    earlier = _earlier_run(runs)
    before = _files(runs)
    if not _mount(["-o", "remount,ro"], runs):
        pytest.skip("cannot remount read-only")
    code = main(["run", "digits-quick", "--runs-dir", str(runs), *QUICK])
    captured = capsys.readouterr()
    assert code == 2
    _one_error_line(captured.err, str(runs), "Read-only file system")
    assert captured.out == ""
    assert _files(runs) == before and earlier.is_dir()


def test_read_only_runs_folder_injected(tmp_path, capsys, monkeypatch) -> None:
    runs = tmp_path / "runs"
    _earlier_run(runs)
    before = _files(runs)

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(runs))

    monkeypatch.setattr(store_mod.tempfile, "mkstemp", refuse)
    code = main(["run", "digits-quick", "--runs-dir", str(runs), *QUICK])
    captured = capsys.readouterr()
    assert code == 2
    _one_error_line(captured.err, str(runs), "Read-only file system")
    assert _files(runs) == before


def test_runs_folder_under_a_regular_file(tmp_path, capsys) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be\n")
    code = main(["run", "digits-quick", "--runs-dir", str(blocker / "runs"), *QUICK])
    captured = capsys.readouterr()
    assert code == 2
    _one_error_line(captured.err, "not-a-folder", "cannot write runs there")
    assert blocker.read_text() == "a file where a folder should be\n"


# ---------------------------------------------------------------------------------------
# Full disk while training


def _failed_run(runs: Path, earlier: Path):
    (run,) = [r for r in RunStore(runs).list() if r.path != earlier]
    return run


def test_full_disk_during_training_real(tiny_fs, capsys) -> None:
    # ~140 KB: room for the run's small files, not for the first checkpoint (~450 KB).
    runs = tiny_fs("140k")
    earlier = _earlier_run(runs)
    before = _files(earlier)
    code = main(["run", "digits-quick", "--runs-dir", str(runs), *QUICK])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    line = _one_error_line(captured.err, "run failed", "No space left on device", str(runs))
    assert "cannot write the run's files" in line
    assert _files(earlier) == before
    run = _failed_run(runs, earlier)
    assert run.state == "failed" and "No space left" in run.error
    assert not [p.name for p in run.path.iterdir() if ".tmp" in p.name]
    json.loads((run.path / "status.json").read_text())


def test_full_disk_during_training_injected(tmp_path, capsys, monkeypatch) -> None:
    runs = tmp_path / "runs"
    earlier = _earlier_run(runs)
    before = _files(earlier)
    real_append = store_mod.RunWriter.append_history

    def append(self, row):
        if row["epoch"] >= 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path / "history.csv"))
        real_append(self, row)

    monkeypatch.setattr(store_mod.RunWriter, "append_history", append)
    code = main(["run", "digits-quick", "--runs-dir", str(runs), *QUICK])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    _one_error_line(captured.err, "run failed", "No space left on device", "history.csv")
    assert _files(earlier) == before
    run = _failed_run(runs, earlier)
    assert run.state == "failed"
    assert [row["epoch"] for row in run.history()] == [1]
    assert captured.out.strip().splitlines()[-1] == str(run.path)


def test_status_unwritable_at_the_end_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    """Disk full by the time the run ends: even the failure cannot be recorded; still one line."""
    runs = tmp_path / "runs"
    real_append = store_mod.RunWriter.append_history
    full = {"on": False}

    def append(self, row):
        full["on"] = True
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path / "history.csv"))

    real_write = store_mod.atomic_write_json

    def write_json(path, data):
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(store_mod.RunWriter, "append_history", append)
    monkeypatch.setattr(store_mod, "atomic_write_json", write_json)
    code = main(["run", "digits-quick", "--runs-dir", str(runs), *QUICK])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    _one_error_line(captured.err, "run failed", "No space left on device")
    assert "could not record the failure" in captured.err
    del real_append
