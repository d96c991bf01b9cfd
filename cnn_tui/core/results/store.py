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
import io
import json
import os
import re
import secrets
import socket
import tempfile
import tomllib
import zipfile
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from cnn_tui.core.config import ExperimentConfig, config_from_dict, to_toml
from cnn_tui.core.errors import CnnTuiError, RunStoreError
from cnn_tui.core.fsutil import (
    atomic_write_json,
    atomic_write_text,
    atomic_write_with,
    remove_stale_temps,
    type_problem,
)

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds")
STATES = ("running", "completed", "stopped", "failed", "crashed", "damaged")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def resolve_runs_dir(arg: str | os.PathLike | None = None) -> Path:
    """The runs folder: ``arg``, else ``$CNN_TUI_RUNS_DIR``, else ``./runs``."""
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get("CNN_TUI_RUNS_DIR")
    return Path(env).expanduser() if env else Path("runs")


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


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
        self.update_status(state=state, finished=_now(), error=error)

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
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _fmt(r.get(k)) for k in HISTORY_COLUMNS})
        atomic_write_text(self.path / "history.csv", buf.getvalue())

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        atomic_write_json(self.path / "metrics.json", metrics)

    def save_predictions(self, **arrays: Any) -> None:
        """Save numpy arrays to predictions.npz (temp file + rename)."""
        import numpy as np

        atomic_write_with(self.path / "predictions.npz", lambda tmp: np.savez_compressed(tmp, **arrays))


def _fmt(value: Any) -> Any:
    return "" if value is None else value


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
# type (a tampered file) is left out of RunInfo.metrics rather than failing every reader.
_NUMBER = (int, float)
_METRIC_TYPES: dict[str, tuple[type, ...]] = {
    "test_loss": _NUMBER, "test_accuracy": _NUMBER, "f1_weighted": _NUMBER, "f1_macro": _NUMBER,
    "train_seconds": _NUMBER, "epochs_completed": (int,), "params": (int,), "test_size": (int,),
    "misclassified_count": (int,), "dataset": (str,), "device": (str,),
    "per_class": (list,), "class_names": (list,), "confusion_matrix": (list,), "misclassified": (list,),
    "image_shape": (list,),
}  # fmt: skip


def _clean_metrics(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``data`` without the values of the wrong type; and the keys left out."""
    clean: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in data.items():
        types = _METRIC_TYPES.get(key)
        ok = types is None or (isinstance(value, types) and not isinstance(value, bool))
        if ok and key == "per_class":
            value = [row for row in value if isinstance(row, dict)]
        elif ok and key == "class_names":
            ok = all(isinstance(n, str) for n in value)
        elif ok and key == "image_shape":
            ok = all(isinstance(n, int) and not isinstance(n, bool) for n in value)
        if ok:
            clean[key] = value
        else:
            dropped.append(key)
    return clean, dropped


class RunInfo:
    """A stored run, read lazily from its folder."""

    def __init__(self, path: Path, status: dict[str, Any] | None, damage: str | None = None):
        self.path = path
        self._status = status or {}
        self.damage = damage
        self.metrics_problems: list[str] = []
        """What :attr:`metrics` left out of a damaged metrics.json (one line each)."""

    def __repr__(self) -> str:
        return f"RunInfo({self.run_id!r}, state={self.state!r})"

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def short_id(self) -> str:
        return self._status.get("short_id") or self.run_id.rsplit("-", 1)[-1]

    @property
    def name(self) -> str:
        return self._status.get("name") or self.run_id

    @property
    def state(self) -> str:
        if self.damage:
            return "damaged"
        state = self._status.get("state", "damaged")
        if state == "running":
            pid = self._status.get("pid")
            host = self._status.get("host")
            if isinstance(pid, int) and host == socket.gethostname() and not pid_alive(pid):
                return "crashed"
        return state

    @property
    def created(self) -> str:
        return self._status.get("created", "")

    @property
    def finished(self) -> str | None:
        return self._status.get("finished")

    @property
    def error(self) -> str | None:
        return self.damage or self._status.get("error")

    @property
    def tags(self) -> dict[str, Any]:
        return dict(self._status.get("tags") or {})

    @property
    def status(self) -> dict[str, Any]:
        return dict(self._status)

    @cached_property
    def config(self) -> ExperimentConfig:
        """The run's resolved config; RunStoreError if config.toml is missing or damaged."""
        file = self.path / "config.toml"
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
            return config_from_dict(data, source=str(file))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise RunStoreError(f"{file}: cannot read the run's config ({exc})") from None
        except CnnTuiError as exc:
            raise RunStoreError(str(exc)) from None

    @cached_property
    def metrics(self) -> dict[str, Any] | None:
        """metrics.json, or None if absent or unreadable; values of the wrong type are left
        out (listed in :attr:`metrics_problems`)."""
        file = self.path / "metrics.json"
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        clean, dropped = _clean_metrics(data)
        if dropped:
            self.metrics_problems = [f"{file}: ignored {', '.join(dropped)} (wrong type)"]
        return clean

    def history(self) -> list[dict[str, Any]]:
        return read_history(self.path)

    def checkpoint_problem(self, name: str = "checkpoint.keras") -> str | None:
        """Why the run's checkpoint cannot be loaded (one line), or None. Cheap: checks that it
        is a .keras zip archive with a model config and weights, without reading the weights."""
        file = self.path / name
        try:
            if not zipfile.is_zipfile(file):
                return f"{file}: not a .keras archive (truncated or damaged)"
            with zipfile.ZipFile(file) as archive:
                names = set(archive.namelist())
        except (OSError, zipfile.BadZipFile) as exc:
            return f"{file}: cannot read the checkpoint ({' '.join(str(exc).split())})"
        missing = [n for n in ("config.json", "model.weights.h5") if n not in names]
        if missing:
            return f"{file}: not a Keras model archive (no {', '.join(missing)})"
        return None

    def predictions(self) -> dict[str, Any] | None:
        """Arrays from predictions.npz (no pickles), or None if absent/damaged."""
        import numpy as np

        file = self.path / "predictions.npz"
        if not file.exists():
            return None
        if not file.is_file() or not zipfile.is_zipfile(file):
            raise RunStoreError(f"{file}: cannot read predictions (not a NumPy .npz archive)")
        try:
            with np.load(file, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, NotImplementedError) as exc:
            raise RunStoreError(f"{file}: cannot read predictions ({' '.join(str(exc).split())})") from None


# The status.json keys every reader relies on, with the types they must have (None allowed).
_STATUS_TYPES: dict[str, tuple[type, ...]] = {
    "state": (str,),
    "name": (str,),
    "short_id": (str,),
    "created": (str,),
    "finished": (str,),
    "error": (str,),
    "host": (str,),
    "pid": (int,),
    "checkpoint_epoch": (int,),
    "tags": (dict,),
}


def _status_problem(status: dict[str, Any]) -> str | None:
    """Why a parsed status.json cannot be trusted (a key of the wrong type), or None."""
    state = status.get("state")
    if state not in STATES or state in ("crashed", "damaged"):
        allowed = "running, completed, stopped, failed"
        return f"state = {state!r} is not a run state (allowed: {allowed})"
    return type_problem(status, _STATUS_TYPES)


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
            for _ in range(20):
                short = secrets.token_hex(3)
                stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
                path = self.root / f"{stamp}-{label}-{short}"
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    continue
            else:  # pragma: no cover - 20 collisions of 24 random bits
                raise RunStoreError(f"{self.root}: could not create a unique run folder")
            status = {
                "run_id": path.name,
                "short_id": short,
                "name": label,
                "state": "running",
                "created": _now(),
                "finished": None,
                "error": None,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "tags": dict(tags or {}),
            }
            atomic_write_text(path / "config.toml", to_toml(config))
            with open(path / "history.csv", "w", encoding="utf-8", newline="") as handle:
                handle.write(",".join(HISTORY_COLUMNS) + "\n")
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
        problem = _status_problem(status)
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
