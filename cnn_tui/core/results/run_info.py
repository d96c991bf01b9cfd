"""A stored run as its readers see it (:class:`RunInfo`, read lazily from its folder), and
the checks that keep a tampered status.json or metrics.json from failing every reader."""

from __future__ import annotations

import json
import os
import socket
import tomllib
import zipfile
from functools import cached_property
from pathlib import Path
from typing import Any

from cnn_tui.core.config import ExperimentConfig, config_from_dict
from cnn_tui.core.errors import CnnTuiError, RunStoreError
from cnn_tui.core.fsutil import type_problem
from cnn_tui.core.results.history import read_history

STATES = ("running", "completed", "stopped", "failed", "crashed", "damaged")


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


def status_problem(status: dict[str, Any]) -> str | None:
    """Why a parsed status.json cannot be trusted (a key of the wrong type), or None."""
    state = status.get("state")
    if state not in STATES or state in ("crashed", "damaged"):
        allowed = "running, completed, stopped, failed"
        return f"state = {state!r} is not a run state (allowed: {allowed})"
    return type_problem(status, _STATUS_TYPES)
