"""One folder per experiment (a study of several runs), beside the runs it trained.

``<runs>/experiments/<yyyymmdd-hhmmss>-<name>-<id>/`` holds ``experiment.toml`` (the base
config with its plan) and ``progress.json`` (one entry per trial: state, run id, seconds,
a summary of its metrics); the runs themselves are ordinary runs in ``<runs>/`` (see
:mod:`cnn_tui.core.results.store`). This module reads and writes those files, lists and
finds experiment folders and holds the lock that keeps two processes from resuming one
experiment; running a study is :mod:`cnn_tui.core.engine.experiments`, its tables
:mod:`cnn_tui.core.results.aggregate`.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from cnn_tui.core.config import ExperimentConfig, load_config
from cnn_tui.core.errors import CnnTuiError, RunStoreError
from cnn_tui.core.fsutil import atomic_write_json, type_problem
from cnn_tui.core.formatting import METRICS
from cnn_tui.core.results.store import RunInfo, RunStore, new_folder, now, resolve_runs_dir

if TYPE_CHECKING:  # pragma: no cover
    from cnn_tui.core.engine.plan import Plan

EXPERIMENTS_DIR = "experiments"
PLAN_FILE = "experiment.toml"
PROGRESS_FILE = "progress.json"

__all__ = [
    "EXPERIMENTS_DIR", "PLAN_FILE", "PROGRESS_FILE", "create_experiment_dir", "experiment_runs_dir", "exclusive",
    "find_experiment", "list_experiments", "load_experiment", "metrics_summary", "now", "read_progress",
    "trial_run", "write_progress",
]  # fmt: skip


def create_experiment_dir(runs_dir: Path, name: str) -> Path:
    """A new, unique ``<runs>/experiments/<yyyymmdd-hhmmss>-<name>-<id>`` folder."""
    root = runs_dir / EXPERIMENTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    label = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:48] or "experiment"
    return new_folder(root, label, "experiment")


# The keys of a progress.json trial entry that readers rely on, with their types (None allowed).
_TRIAL_TYPES: dict[str, tuple[type, ...]] = {
    "trial_id": (str,), "state": (str,), "run_id": (str,), "run_dir": (str,), "group": (str,),
    "group_index": (int,), "seed": (int,), "seconds": (int, float), "metrics": (dict,), "error": (str,),
}  # fmt: skip


def _trial_problem(entry: Any) -> str | None:
    """Why a progress.json trial entry cannot be trusted (a tampered file), or None."""
    if not isinstance(entry, dict):
        return f"{entry!r} is not an object"
    return type_problem(entry, _TRIAL_TYPES)


def read_progress(exp_dir: Path) -> dict[str, Any]:
    """progress.json of an experiment folder; RunStoreError (one line) if it is unreadable or
    a trial entry has a key of the wrong type."""
    file = Path(exp_dir) / PROGRESS_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("trials"), list):
            raise ValueError("not an experiment progress object")
    except (OSError, ValueError) as exc:
        raise RunStoreError(f"{file}: cannot read experiment progress ({exc})") from None
    for i, entry in enumerate(data["trials"], start=1):
        problem = _trial_problem(entry)
        if problem:
            raise RunStoreError(f"{file}: damaged trial entry {i}: {problem}")
    return data


def write_progress(exp_dir: Path, progress: dict[str, Any]) -> None:
    """Replace progress.json atomically (a reader never sees half of it)."""
    atomic_write_json(Path(exp_dir) / PROGRESS_FILE, progress)


def metrics_summary(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """The study metrics (:data:`~cnn_tui.core.formatting.METRICS`) of a run's metrics,
    as progress.json keeps them; None for none."""
    if not metrics:
        return None
    return {k: metrics.get(k) for k in METRICS if k in metrics}


def load_experiment(exp_dir: Path) -> tuple[ExperimentConfig, Plan]:
    """Base config and plan of an experiment folder."""
    from cnn_tui.core.engine.plan import parse_plan  # the plan models: imported when a study folder is read

    config = load_config(Path(exp_dir) / PLAN_FILE)
    return config, parse_plan(config.experiment, str(Path(exp_dir) / PLAN_FILE))


def list_experiments(runs_dir: str | os.PathLike | None = None) -> list[Path]:
    """Experiment folders under ``<runs>/experiments``, oldest first."""
    root = resolve_runs_dir(runs_dir) / EXPERIMENTS_DIR
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / PROGRESS_FILE).is_file())


def find_experiment(ref: str | os.PathLike, runs_dir: str | os.PathLike | None = None) -> Path:
    """An experiment folder by path, folder name, short id, unique substring or ``latest``."""
    path = Path(ref)
    if not str(ref).strip():
        raise RunStoreError("empty experiment name: give an experiment folder, name, short id or 'latest'")
    try:
        if path.is_dir() and (path / PROGRESS_FILE).is_file():
            return path
    except (OSError, ValueError):  # a name the OS refuses (too long...) is just not a folder
        pass
    found = list_experiments(runs_dir)
    root = resolve_runs_dir(runs_dir) / EXPERIMENTS_DIR
    if not found:
        raise RunStoreError(f"{root}: no experiments yet (start one with `cnn-tui sweep` or `cnn-tui experiment`)")
    ref = str(ref)
    if ref == "latest":
        return found[-1]
    for match in ([p for p in found if p.name == ref or p.name.endswith(f"-{ref}")], [p for p in found if ref in p.name]):
        if len(match) == 1:
            return match[0]
        if len(match) > 1:
            raise RunStoreError(f"experiment {ref!r} is ambiguous in {root}: matches {', '.join(p.name for p in match[:5])}")
    raise RunStoreError(f"experiment {ref!r} not found in {root}")


def trial_run(entry: dict[str, Any], runs_dir: Path) -> RunInfo | None:
    """The run recorded for a progress entry, or None if it has none / it is gone."""
    run_id = entry.get("run_id")
    if not run_id:
        return None
    for path in (runs_dir / run_id, Path(entry.get("run_dir") or "")):
        if run_id and path.name == run_id and (path / "status.json").is_file():
            try:
                return RunStore(path.parent).get(str(path))
            except CnnTuiError:
                return None
    return None


def experiment_runs_dir(exp_dir: Path) -> Path:
    """The runs folder of an experiment: ``<runs>`` for ``<runs>/experiments/<exp>``, else
    the one recorded in progress.json (an experiment folder given explicitly elsewhere)."""
    exp_dir = Path(exp_dir).resolve()
    if exp_dir.parent.name != EXPERIMENTS_DIR:
        try:
            recorded = read_progress(exp_dir).get("runs_dir")
        except RunStoreError:
            recorded = None
        if recorded:
            return Path(recorded)
    return exp_dir.parent.parent


@contextlib.contextmanager
def exclusive(exp_dir: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock on the experiment folder itself (no lock file
    is written; the lock goes with the process, so a crash never leaves it locked);
    RunStoreError if another process or thread holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the pid check in progress.json remains
        yield
        return
    try:
        fd = os.open(exp_dir, os.O_RDONLY)
    except OSError as exc:
        raise RunStoreError(f"{exp_dir}: cannot open the experiment folder ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunStoreError(
                f"experiment {exp_dir.name} is still running (another process is resuming it)"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
