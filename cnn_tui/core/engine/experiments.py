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

Plans and their expansion live in :mod:`cnn_tui.core.engine.plan`; the experiment folder
(its files, listing, the lock) in :mod:`cnn_tui.core.results.experiment_store`; the results
table in :mod:`cnn_tui.core.results.aggregate`; ensembles in :mod:`cnn_tui.core.engine.ensemble`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cnn_tui.core.config import ExperimentConfig, save_config
from cnn_tui.core.engine import trainer
from cnn_tui.core.engine.executors import Executor, TrialOutcome, TrialSpec
from cnn_tui.core.engine.plan import Plan, Trial, expand, parse_plan, plan_to_dict
from cnn_tui.core.errors import CnnTuiError, ConfigError, RunStoreError
from cnn_tui.core.results.experiment_store import (
    PLAN_FILE,
    create_experiment_dir,
    exclusive,
    experiment_runs_dir,
    find_experiment,
    load_experiment,
    metrics_summary,
    now,
    read_progress,
    trial_run,
    write_progress,
)
from cnn_tui.core.results.store import pid_alive, resolve_runs_dir

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

__all__ = [
    "TrialEvent", "TrialFinished", "TrialSkip", "TrialStarted", "preflight", "resume_experiment", "run_experiment",
]  # fmt: skip

# ---------------------------------------------------------------------------------------
# Running


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
        with exclusive(Path(experiment_dir)):
            return _run_experiment(base_config, plan, **args)
    return _run_experiment(base_config, plan, **args)


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
        exp_dir = Path(experiment_dir) if experiment_dir is not None else create_experiment_dir(runs, name or base_config.name)
        exp_dir.mkdir(parents=True, exist_ok=True)
        save_config(base_config.model_copy(update={"experiment": plan_to_dict(plan)}), exp_dir / PLAN_FILE)
        progress = {"id": exp_dir.name, "name": name or base_config.name, "kind": plan.kind,
                    "metric": plan.metric, "created": now(), "runs_dir": str(runs.resolve()), "trials": []}
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
                entry.update(state="completed", metrics=metrics_summary(run.metrics))
            else:
                entry["state"] = "failed"
        entries.append(entry)
    progress.update(trials=entries, state="running", pid=os.getpid(), host=socket.gethostname(), finished=None)

    def save() -> None:
        write_progress(exp_dir, progress)

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
        entry.update(state="running", started=now(), error=None)
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
        entry.update(state=status, finished=now(), seconds=seconds, error=outcome.error,
                     metrics=metrics_summary(outcome.metrics))
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
        progress.update(state=final, finished=now())
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

