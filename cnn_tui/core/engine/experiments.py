"""Experiments: a base config plus a plan (grid, repeat, cumulative ablation, variants),
expanded into trials that run one after another through :func:`trainer.train`.

The plan is the config's ``[experiment]`` table::

    [experiment]
    kind = "grid"                     # grid | ablation | variants | repeat
    repeat = 3                        # seeds train.seed .. train.seed+2 for every cell
    metric = "f1_weighted"            # primary metric of the table
    [experiment.grid]
    "model.batch_norm" = [true, false]

An experiment is recorded in ``<runs>/experiments/<yyyymmdd-hhmmss>-<name>-<id>/``:
``experiment.toml`` (base config with its plan) and ``progress.json`` (one entry per
trial: state and run id); the runs themselves are ordinary runs in ``<runs>/`` tagged
with the experiment id, group, seed and trial id. Re-running an experiment folder skips
the trials whose run completed (resume).

Plans and their expansion live in :mod:`cnn_tui.core.engine.plan`; the results table in
:mod:`cnn_tui.core.engine.aggregate`; ensembles in :mod:`cnn_tui.core.engine.ensemble`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from cnn_tui.core.config import ExperimentConfig, load_config, save_config
from cnn_tui.core.engine import trainer
from cnn_tui.core.engine.executors import Executor, TrialOutcome, TrialSpec
from cnn_tui.core.engine.plan import METRICS, Plan, Step, Trial, expand, own_overrides, parse_plan, plan_to_dict
from cnn_tui.core.errors import CnnTuiError, ConfigError, RunStoreError
from cnn_tui.core.fsutil import atomic_write_json, type_problem
from cnn_tui.core.results.store import RunInfo, RunStore, pid_alive, resolve_runs_dir

EXPERIMENTS_DIR = "experiments"
PLAN_FILE = "experiment.toml"
PROGRESS_FILE = "progress.json"

# ---------------------------------------------------------------------------------------
# Trial events (for front ends)


@dataclass(frozen=True)
class TrialStarted:
    experiment_dir: Path
    index: int  # 1-based position in the plan
    total: int
    trial: Trial
    eta_seconds: float | None  # for this and the remaining trials, from finished trials' durations


@dataclass(frozen=True)
class TrialFinished:
    experiment_dir: Path
    index: int
    total: int
    trial: Trial
    status: str  # completed | stopped | failed | skipped
    run_id: str | None
    seconds: float
    metrics: dict[str, Any] | None
    error: str | None


TrialEvent = TrialStarted | TrialFinished

# ---------------------------------------------------------------------------------------
# The experiment folder


__all__ = [
    "METRICS", "Plan", "Step", "Trial", "TrialEvent", "TrialFinished", "TrialStarted", "expand", "experiment_table",
    "find_experiment", "list_experiments", "load_experiment", "own_overrides", "parse_plan", "read_progress",
    "resume_experiment", "run_experiment",
]


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def _create_dir(runs_dir: Path, name: str) -> Path:
    root = runs_dir / EXPERIMENTS_DIR
    root.mkdir(parents=True, exist_ok=True)
    label = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:48] or "experiment"
    for _ in range(20):
        path = root / f"{datetime.now():%Y%m%d-%H%M%S}-{label}-{secrets.token_hex(3)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunStoreError(f"{root}: could not create a unique experiment folder")  # pragma: no cover


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


def load_experiment(exp_dir: Path) -> tuple[ExperimentConfig, Plan]:
    """Base config and plan of an experiment folder."""
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


# ---------------------------------------------------------------------------------------
# Running


def _summary(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    if not metrics:
        return None
    return {k: metrics.get(k) for k in METRICS if k in metrics}


class TrialSkip(threading.Event):
    """A skip aimed at one trial: :meth:`request` (trial id) ends that trial and no other.

    A front end asks to skip the trial it shows as running; by the time the request lands,
    that trial may have ended and the next one begun (the app's k "skipped the next trial,
    not the running one"). A plain ``set()`` (no target) still means "the current trial".
    """

    def __init__(self) -> None:
        super().__init__()
        self.target: str | None = None

    def request(self, trial_id: str | None) -> None:
        self.target = trial_id
        self.set()

    def clear(self) -> None:
        self.target = None
        super().clear()


def skip_hits(skip: threading.Event, trial_id: str) -> bool:
    """``skip`` is set for ``trial_id`` (a :class:`TrialSkip` aimed elsewhere is not)."""
    if not skip.is_set():
        return False
    target = getattr(skip, "target", None)
    return target is None or target == trial_id


class _TrialStop(threading.Event):
    """The ``stop`` a trial's train_fn gets: set while the study's ``stop`` is, or a skip
    of this trial (``trial_id``).

    Setting it (a train_fn that stops itself) sets the study's ``stop``, as before.
    """

    def __init__(self, stop: threading.Event, skip: threading.Event) -> None:
        super().__init__()
        self._stop, self._skip = stop, skip
        self.trial_id = ""

    def is_set(self) -> bool:
        return self._stop.is_set() or skip_hits(self._skip, self.trial_id)

    def set(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True


def run_experiment(
    base_config: ExperimentConfig | None,
    plan: Plan | dict[str, Any] | None = None,
    *,
    runs_dir: str | os.PathLike | None = None,
    on_event: Callable[[Any], None] | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
    stop: threading.Event | None = None,
    experiment_dir: str | os.PathLike | None = None,
    name: str | None = None,
    pause: threading.Event | None = None,
    train_fn: Callable[..., Any] | None = None,
    skip: threading.Event | None = None,
    executor: Executor | None = None,
) -> Path:
    """Run (or resume) an experiment; returns its folder.

    With ``experiment_dir`` naming an existing experiment, its stored config and plan are
    used (``base_config``/``plan`` may be None) and only trials without a completed run
    train. ``stop`` ends the current trial (stored ``stopped``) and starts no more.
    ``skip`` ends only the current trial (stored ``skipped``, trained again on resume) and
    the study goes on; it is cleared as each trial starts.
    ``train_fn`` replaces :func:`trainer.train` (same signature; the TUI's engine).

    Resuming holds an exclusive lock on the experiment folder: a second process (or
    thread) resuming the same experiment at the same time is refused with RunStoreError
    instead of training the same trials again.

    ``executor`` (:mod:`~cnn_tui.core.engine.executors`) runs the trials elsewhere, several at
    once (``train_fn`` and ``skip`` are then unused: skip a trial with ``executor.skip(id)``;
    ``on_event`` gets :class:`~cnn_tui.core.engine.executors.WorkerEvent`).
    """
    args = dict(runs_dir=runs_dir, on_event=on_event, on_trial=on_trial, stop=stop, experiment_dir=experiment_dir,
                name=name, pause=pause, train_fn=train_fn, skip=skip, executor=executor)
    if experiment_dir is not None and (Path(experiment_dir) / PLAN_FILE).is_file():
        with _exclusive(Path(experiment_dir)):
            return _run_experiment(base_config, plan, **args)
    return _run_experiment(base_config, plan, **args)


@contextlib.contextmanager
def _exclusive(exp_dir: Path) -> Iterator[None]:
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


def _run_experiment(
    base_config: ExperimentConfig | None,
    plan: Plan | dict[str, Any] | None,
    *,
    runs_dir: str | os.PathLike | None,
    on_event: Callable[[Any], None] | None,
    on_trial: Callable[[TrialEvent], None] | None,
    stop: threading.Event | None,
    experiment_dir: str | os.PathLike | None,
    name: str | None,
    pause: threading.Event | None,
    train_fn: Callable[..., Any] | None,
    skip: threading.Event | None,
    executor: Executor | None = None,
) -> Path:
    stop = stop or threading.Event()
    skip = skip or threading.Event()
    trial_stop = _TrialStop(stop, skip)
    train_fn = train_fn or trainer.train
    if experiment_dir is not None and (Path(experiment_dir) / PLAN_FILE).is_file():
        exp_dir = Path(experiment_dir)
        base_config, plan = load_experiment(exp_dir)
        progress = read_progress(exp_dir)
        runs = experiment_runs_dir(exp_dir)
        pid = progress.get("pid")
        if (progress.get("state") == "running" and isinstance(pid, int) and pid != os.getpid()
                and progress.get("host") == socket.gethostname() and pid_alive(pid)):
            raise RunStoreError(f"experiment {exp_dir.name} is still running (process {pid})")
    else:
        if base_config is None:
            raise ConfigError("run_experiment: no base config and no experiment folder to resume")
        plan = parse_plan(plan if plan is not None else base_config.experiment, base_config.name)
        preflight(expand(plan, base_config), base_config)  # bad input fails before any folder exists
        runs = resolve_runs_dir(runs_dir)
        exp_dir = Path(experiment_dir) if experiment_dir is not None else _create_dir(runs, name or base_config.name)
        exp_dir.mkdir(parents=True, exist_ok=True)
        save_config(base_config.model_copy(update={"experiment": plan_to_dict(plan)}), exp_dir / PLAN_FILE)
        progress = {"id": exp_dir.name, "name": name or base_config.name, "kind": plan.kind,
                    "metric": plan.metric, "created": _now(), "runs_dir": str(runs.resolve()), "trials": []}
    trials = expand(plan, base_config)
    run_name = str(progress.get("name") or base_config.name)
    old = {e.get("trial_id"): e for e in progress.get("trials", [])}
    entries = []
    for t in trials:
        entry = {"trial_id": t.trial_id, "group": t.group, "group_index": t.group_index, "seed": t.seed,
                 "overrides": t.overrides, "state": "pending", "run_id": None, "run_dir": None}
        entry.update({k: v for k, v in old.get(t.trial_id, {}).items() if k not in ("group", "group_index", "overrides")})
        if entry["state"] == "completed" and (run := trial_run(entry, runs)) is not None and run.state != "completed":
            entry["state"] = run.state if run.state in ("stopped", "failed") else "failed"
        elif entry["state"] == "completed" and trial_run(entry, runs) is None:
            entry["state"] = "pending"  # the run folder is gone: train it again
        elif entry["state"] == "running":  # a previous process died mid-trial
            run = trial_run(entry, runs)
            if run is not None and run.state == "running":  # its worker process lives on
                raise RunStoreError(f"experiment {exp_dir.name}: trial {t.trial_id} is still running "
                                    f"(process {run.status.get('pid')}); resume when it has ended")
            if run is not None and run.state == "completed":  # it finished after the study died: keep it
                entry.update(state="completed", metrics=_summary(run.metrics))
            else:
                entry["state"] = "failed"
        entries.append(entry)
    progress.update(trials=entries, state="running", pid=os.getpid(), host=socket.gethostname(), finished=None)

    def save() -> None:
        atomic_write_json(exp_dir / PROGRESS_FILE, progress)

    save()
    durations = [e["seconds"] for e in entries if e["state"] == "completed" and e.get("seconds")]
    total = len(trials)
    emit_trial = on_trial or (lambda ev: None)

    def start(index: int) -> TrialSpec:  # trial ``index`` (1-based) begins
        trial, entry = trials[index - 1], entries[index - 1]
        remaining = sum(1 for e in entries[index - 1 :] if e["state"] != "completed")
        eta = sum(durations) / len(durations) * remaining if durations else None
        if eta is not None and executor is not None:
            eta /= max(1, min(executor.workers, remaining))
        _safe(emit_trial, TrialStarted(exp_dir, index, total, trial, eta))
        entry.update(state="running", started=_now(), error=None)
        save()
        tags = {"experiment": exp_dir.name, "group": trial.group, "seed": trial.seed, "trial": trial.trial_id}
        return TrialSpec(trial.trial_id, trial.config, runs, f"{run_name}-{trial.trial_id}", tags)

    def record_run(entry: dict[str, Any], run_id: str, run_dir: Any) -> None:
        if entry.get("run_id") and entry["run_id"] != run_id:
            entry.setdefault("previous_runs", []).append(entry["run_id"])
        entry.update(run_id=run_id, run_dir=str(run_dir))

    def worker_event(event: Any) -> None:  # an executor's trial: its run folder is known from RunStarted
        from cnn_tui.core.engine.events import RunStarted

        if isinstance(event.event, RunStarted):
            record_run(entries[event.index - 1], event.event.run_id, event.event.run_dir)
            save()  # a study killed now still knows the run (resume adopts it if it completes)
        if on_event is not None:
            on_event(event)

    def finish(index: int, outcome: TrialOutcome, seconds: float, skipped: bool) -> None:  # trial ``index`` ended
        trial, entry = trials[index - 1], entries[index - 1]
        status = outcome.status
        if outcome.run_id:
            record_run(entry, outcome.run_id, outcome.run_dir)
        if status == "stopped" and skipped and not stop.is_set():
            status = "skipped"
        entry.update(state=status, finished=_now(), seconds=seconds, error=outcome.error,
                     metrics=_summary(outcome.metrics))
        save()
        if status == "completed":
            durations.append(seconds)
        _safe(emit_trial, TrialFinished(exp_dir, index, total, trial, status, entry.get("run_id"),
                                        seconds, outcome.metrics, outcome.error))

    try:
        if executor is not None:  # trials in worker processes or on a cluster (executors.py)
            todo = [i for i, e in enumerate(entries, start=1) if e["state"] != "completed"]
            executor.run(todo, start, finish, stop=stop, pause=pause, on_event=worker_event)
        for index, entry in enumerate(entries if executor is None else [], start=1):
            if entry["state"] == "completed":
                continue
            if stop.is_set():
                break
            skip.clear()  # a skip asked for between trials is not this trial's
            trial_stop.trial_id = trials[index - 1].trial_id
            spec = start(index)
            started = time.monotonic()
            try:
                result = train_fn(spec.config, on_event, trial_stop, runs_dir=runs, name=spec.name, pause=pause,
                                  tags=spec.tags)
                outcome = TrialOutcome(result.status, result.error, result.metrics, result.run_id, result.run_dir)
            except CnnTuiError as exc:  # bad input for this cell (e.g. too deep): record, go on
                outcome = TrialOutcome("failed", str(exc))
            finish(index, outcome, round(time.monotonic() - started, 3), skip_hits(skip, spec.trial_id))
    finally:
        for e in entries:
            if e["state"] == "running":  # interrupted by an exception (KeyboardInterrupt...)
                e["state"] = "stopped"
        states = {e["state"] for e in entries}
        if states == {"completed"}:
            final = "completed"
        elif stop.is_set() or "stopped" in states or "failed" not in states:
            final = "stopped"
        else:
            final = "failed"
        progress.update(state=final, finished=_now())
        save()
    return exp_dir


def preflight(trials: list[Trial], base: ExperimentConfig | None = None) -> None:
    """Refuse bad input before anything is written, cheaply and without TensorFlow: every
    distinct data config is described once (:func:`~cnn_tui.core.data.check_dataset`: no
    image decoded; a folder without class folders, an empty or missing folder, unreadable
    arrays, an unknown dataset fail here), every distinct (data, model) pair is planned
    (:func:`~cnn_tui.core.models.memory.check_memory`: an architecture the image size cannot take, or
    a run that cannot fit in memory).

    The CnnTuiError names the group, unless the problem is in ``base`` itself (the
    trial's data -- and, for a shape, model -- are the base config's).
    """
    from cnn_tui.core.data import check_dataset
    from cnn_tui.core.models.memory import check_memory

    infos: dict[str, Any] = {}
    checked: set[str] = set()
    for t in trials:
        data_key = t.config.data.model_dump_json()
        key = data_key + t.config.model.model_dump_json() + t.config.train.model_dump_json()
        if key in checked:
            continue
        checked.add(key)
        own_data = base is not None and t.config.data == base.data
        try:
            if data_key not in infos:
                infos[data_key] = check_dataset(t.config.data)
        except CnnTuiError as exc:
            raise _in_group(exc, t, own_data) from None
        info = infos[data_key]
        try:
            if info.image_shape and info.num_classes:
                images = (info.train_count or 0) + (info.test_count or 0)
                check_memory(t.config, info.image_shape, info.num_classes, images=images)
        except CnnTuiError as exc:
            raise _in_group(exc, t, own_data and t.config.model == base.model) from None


def _in_group(exc: CnnTuiError, trial: Trial, from_base: bool) -> CnnTuiError:
    return exc if from_base else type(exc)(f"experiment group {trial.group!r}: {exc}")


def _safe(callback: Callable[[Any], None], event: Any) -> None:
    try:
        callback(event)
    except Exception:  # noqa: BLE001 - a broken front end must not end the experiment
        pass


def resume_experiment(ref: str | os.PathLike, runs_dir: str | os.PathLike | None = None, **kwargs: Any) -> Path:
    """Resume the experiment ``ref`` (path, folder name, id or ``latest``)."""
    return run_experiment(None, None, experiment_dir=find_experiment(ref, runs_dir), **kwargs)


def experiment_table(path_or_id: str | os.PathLike, runs_dir: str | os.PathLike | None = None, *,
                     per_trial: bool = False, precision: int = 3):
    """The aggregated results :class:`~cnn_tui.core.results.table.Table` of an experiment
    (folder path, folder name, short id or ``latest``); see :mod:`cnn_tui.core.engine.aggregate`."""
    from cnn_tui.core.engine.aggregate import aggregate_table

    return aggregate_table(find_experiment(path_or_id, runs_dir), per_trial=per_trial, precision=precision)
