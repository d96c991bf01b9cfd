"""The run store: one folder per run under a runs directory.

Layout of ``runs/<yyyymmdd-hhmmss>-<name>-<shortid>/``::

    config.toml      the full resolved config (atomic write)
    status.json      state, times, pid/host, error, tags (atomic write)
    history.csv      one row per epoch, appended and fsynced as it goes
    metrics.json     test metrics (atomic write)
    predictions.npz  test probabilities, labels, predictions
    model.keras      the trained model for inference (no augmentation layers): loads in
                     plain Keras, without cnn-tui
    samples.npz      the most confident misclassified test images (the gallery)
    checkpoint.keras the complete model + optimizer at the last checkpointed epoch (for
                     resume, read by cnn-tui only; deleted when the run completes)
    tb/              TensorBoard logs

A run whose status says ``running`` but whose process is gone is reported ``crashed``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import socket
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cnn_tui.core.config import ExperimentConfig, to_toml
from cnn_tui.core.errors import RunStoreError
from cnn_tui.core.fsutil import atomic_write_json, atomic_write_text, atomic_write_with, remove_stale_temps
from cnn_tui.core.results.history import HISTORY_COLUMNS, history_csv, history_problem, read_history
from cnn_tui.core.results.run_info import RunInfo, pid_alive, status_problem

# RunInfo and pid_alive live in run_info.py; importers of the store keep finding them here.
__all__ = ["RunInfo", "RunStore", "RunWriter", "pid_alive", "resolve_runs_dir"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def resolve_runs_dir(arg: str | os.PathLike | None = None) -> Path:
    """The runs folder: ``arg``, else ``$CNN_TUI_RUNS_DIR``, else ``./runs``."""
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get("CNN_TUI_RUNS_DIR")
    return Path(env).expanduser() if env else Path("runs")


def now() -> str:
    """The local time with its offset, to the second (``created``, ``started``, ``finished``)."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def new_folder(root: Path, label: str, what: str) -> Path:
    """Make a new, unique ``root/<yyyymmdd-hhmmss>-<label>-<6 hex digits>`` folder (a run's or
    an experiment's); RunStoreError naming ``what`` if 20 tries collide."""
    for _ in range(20):
        path = root / f"{datetime.now():%Y%m%d-%H%M%S}-{label}-{secrets.token_hex(3)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunStoreError(f"{root}: could not create a unique {what} folder")  # pragma: no cover - 24 random bits


class RunWriter:
    """Writes one run's files while it trains. Created by :meth:`RunStore.create`."""

    def __init__(self, path: Path, status: dict[str, Any]):
        self.path = path
        self._status = status

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def status(self) -> dict[str, Any]:
        return dict(self._status)

    def update_status(self, **changes: Any) -> None:
        """Merge ``changes`` into status.json (atomic)."""
        self._status.update(changes)
        atomic_write_json(self.path / "status.json", self._status)

    def finish(self, state: str, error: str | None = None) -> None:
        """Mark the run ended with ``state`` (completed, stopped or failed)."""
        if state not in ("completed", "stopped", "failed"):
            raise ValueError(f"not a final state: {state}")
        self.update_status(state=state, finished=now(), error=error)

    def append_history(self, row: dict[str, Any]) -> None:
        """Append one epoch row to history.csv and flush it to disk."""
        with open(self.path / "history.csv", "a", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
            writer.writerow({k: row.get(k, "") for k in HISTORY_COLUMNS})
            handle.flush()
            os.fsync(handle.fileno())

    def truncate_history(self, epochs: int) -> None:
        """Keep only the rows of the first ``epochs`` epochs (used when resuming)."""
        rows = [r for r in read_history(self.path) if int(r["epoch"]) <= epochs]
        atomic_write_text(self.path / "history.csv", history_csv(rows))

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        atomic_write_json(self.path / "metrics.json", metrics)

    def save_predictions(self, **arrays: Any) -> None:
        """Save numpy arrays to predictions.npz (temp file + rename)."""
        import numpy as np

        atomic_write_with(self.path / "predictions.npz", lambda tmp: np.savez_compressed(tmp, **arrays))


def _is_run_folder(path: Path) -> bool:
    """Whether ``path`` is a folder with a status.json; False for names the OS refuses
    (too long, NUL bytes) instead of an error: such a name is just not a run."""
    try:
        return path.is_dir() and (path / "status.json").exists()
    except (OSError, ValueError):
        return False


class RunStore:
    """All runs under one folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def check_writable(self, folder: Path | None = None) -> None:
        """RunStoreError unless a file can be created in ``folder`` (default: the runs folder,
        made if missing). Tries it: permission bits do not stop root, and a full disk only
        shows when writing."""
        target = Path(folder) if folder is not None else self.root
        try:
            target.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=target)
            try:
                os.write(fd, b"ok")
                os.fsync(fd)
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise RunStoreError(f"{target}: cannot write runs there ({reason}); choose another runs folder") from None

    def create(self, config: ExperimentConfig, name: str | None = None, tags: dict[str, Any] | None = None) -> RunWriter:
        """Make a new run folder with config.toml and a ``running`` status.json."""
        label = _SAFE.sub("_", name or config.name).strip("_.")[:48] or "run"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            path = new_folder(self.root, label, "run")
            status = {
                "run_id": path.name,
                "short_id": path.name.rsplit("-", 1)[1],
                "name": label,
                "state": "running",
                "created": now(),
                "finished": None,
                "error": None,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "tags": dict(tags or {}),
            }
            atomic_write_text(path / "config.toml", to_toml(config))
            with open(path / "history.csv", "w", encoding="utf-8", newline="") as handle:
                handle.write(history_csv([]))  # the header alone
            writer = RunWriter(path, status)
            writer.update_status()
        except OSError as exc:
            raise RunStoreError(f"{self.root}: cannot write runs folder ({exc.strerror or exc})") from None
        return writer

    def open_writer(self, run: RunInfo) -> RunWriter:
        """A writer for an existing run (to resume it): marks it running in this process."""
        problem = history_problem(run.path)
        if problem:  # resume would rewrite it without the lines it cannot read
            raise RunStoreError(f"run {run.run_id} cannot be resumed: {problem}; fix or remove that line")
        status = run.status
        remove_stale_temps(run.path)  # half-written files of the process that died
        writer = RunWriter(run.path, status)
        writer.update_status(state="running", finished=None, error=None, pid=os.getpid(), host=socket.gethostname())
        return writer

    def list(self) -> list[RunInfo]:
        """Every run folder, oldest first. Foreign folders (no status.json) are skipped;
        a folder whose status.json is unreadable is listed as ``damaged``."""
        if not self.root.is_dir():
            return []
        runs = []
        for path in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            run = self._read(path)
            if run is not None:
                runs.append(run)
        runs.sort(key=lambda r: (r.created or "", r.run_id))
        return runs

    @staticmethod
    def _read(path: Path) -> RunInfo | None:
        file = path / "status.json"
        if not file.exists():
            return None
        try:
            status = json.loads(file.read_text(encoding="utf-8"))
            if not isinstance(status, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            return RunInfo(path, None, damage=f"{file}: unreadable status ({exc})")
        problem = status_problem(status)
        if problem:
            return RunInfo(path, None, damage=f"{file}: {problem}")
        return RunInfo(path, status)

    def get(self, ref: str) -> RunInfo:
        """Find a run by folder name, path, short id, unique substring, or ``latest``."""
        ref = str(ref)
        if not ref.strip():
            raise RunStoreError(
                "empty run name: give a run folder name, short id, unique part of it, a path or 'latest'"
            )
        if _is_run_folder(Path(ref)):
            run = self._read(Path(ref))
            if run is not None:
                return run
        runs = self.list()
        if not runs:
            raise RunStoreError(f"{self.root}: no runs yet (train one with `cnn-tui run digits-quick`)")
        if ref == "latest":
            return runs[-1]
        exact = [r for r in runs if r.run_id == ref or r.short_id == ref]
        if len(exact) == 1:
            return exact[0]
        partial = [r for r in runs if ref in r.run_id]
        if len(partial) == 1:
            return partial[0]
        if len(partial) > 1:
            names = ", ".join(r.run_id for r in partial[:5])
            raise RunStoreError(f"run {ref!r} is ambiguous in {self.root}: matches {names}")
        raise RunStoreError(f"run {ref!r} not found in {self.root} (see `cnn-tui runs list`)")
