"""Executors: where a study's trials train when not one after another in this process.

:class:`ProcessExecutor` (``--workers N``) keeps up to N worker processes
(:mod:`cnn_tui.core.engine.trial_worker`, started fresh with ``python -m``, never forked
after TensorFlow is imported), each training one trial at a time with TensorFlow's thread
pools sized to its share of the cores and, where GPUs exist, pinned to one GPU
(round-robin by worker slot, memory growth on). :class:`~cnn_tui.core.engine.ray_executor.
RayExecutor` (``--executor ray``) runs each trial as a Ray task on a cluster.

The study loop (:func:`~cnn_tui.core.engine.experiments.run_experiment`) stays the owner of
the experiment folder: an executor calls ``start(index)`` when it launches a trial (the
loop records it ``running`` and returns the :class:`TrialSpec`) and ``finish(index,
outcome, seconds, skipped)`` when it ends, both from the thread that called ``run``.

Worker protocol (one JSON object a line): the parent writes ``{"job": {...}}``, ``{"cmd":
"stop", "trial": id}``, ``{"cmd": "pause"}`` / ``{"cmd": "resume"}`` to the worker's stdin;
the worker answers ``{"event": name, "trial": id, "data": {...}}`` and one ``{"result":
{...}, "trial": id}`` per job on stdout. End of stdin (the parent is gone) stops the trial
in progress after its batch, stored ``stopped``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Protocol, get_args

WORKER_MODULE = "cnn_tui.core.engine.trial_worker"


@dataclass(frozen=True)
class TrialSpec:
    """What one trial trains: the arguments of :func:`trainer.train`."""

    trial_id: str
    config: Any  # ExperimentConfig
    runs_dir: Path
    name: str
    tags: dict[str, Any]


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended (``run_id``/``run_dir`` None when no run folder was made)."""

    status: str  # completed | stopped | failed
    error: str | None = None
    metrics: dict[str, Any] | None = None
    run_id: str | None = None
    run_dir: Path | None = None


@dataclass(frozen=True)
class WorkerEvent:
    """An engine event of the trial ``trial_id`` (index: 1-based position in the plan),
    as the parallel executors hand them to ``on_event``."""

    index: int
    trial_id: str
    event: Any


StartFn = Callable[[int], TrialSpec]
FinishFn = Callable[[int, TrialOutcome, float, bool], None]


class Executor(Protocol):
    """Runs trials; see the module docstring."""

    workers: int

    def run(self, indices: list[int], start: StartFn, finish: FinishFn, *, stop: threading.Event,
            pause: threading.Event | None = None, on_event: Callable[[Any], None] | None = None) -> None: ...

    def skip(self, trial_id: str) -> bool: ...


# ---------------------------------------------------------------------------------------
# Resources


def cpu_count() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def detect_gpus(env: dict[str, str] | None = None, nvidia_smi: str | None = "nvidia-smi") -> list[str]:
    """GPU ids for ``CUDA_VISIBLE_DEVICES``, without importing TensorFlow: the ones already
    in ``CUDA_VISIBLE_DEVICES`` when it is set, else those ``nvidia-smi`` lists, else none."""
    env = os.environ if env is None else env
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        return [] if not ids or ids[0].startswith("-") else ids
    exe = shutil.which(nvidia_smi) if nvidia_smi else None
    if not exe:
        return []
    try:
        listed = subprocess.run([exe, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True,
                                timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listed.splitlines() if line.strip().isdigit()]


def threads_per_trial(workers: int, cpus: int | None = None) -> int:
    """TensorFlow threads (intra- and inter-op) of each of ``workers`` concurrent trials."""
    return max(1, (cpus or cpu_count()) // max(1, workers))


def worker_env(slot: int, workers: int, *, cpus: int | None = None, gpus: list[str] | None = None,
               base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of worker ``slot`` (0-based) of ``workers``: its TensorFlow thread
    pools, its GPU (``gpus[slot % len(gpus)]``, memory growth on) and this cnn_tui first on
    the module path."""
    env = dict(os.environ if base is None else base)
    threads = str(threads_per_trial(workers, cpus))
    env.update(TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=threads, OMP_NUM_THREADS=threads,
               CNN_TUI_TF_THREADS=threads)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    root = str(Path(__file__).resolve().parents[3])  # the folder holding this cnn_tui package
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env


# ---------------------------------------------------------------------------------------
# Wire format of events and results (JSON lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_jsonable)


def event_to_dict(event: Any) -> dict[str, Any]:
    return {"event": type(event).__name__, "data": {f.name: getattr(event, f.name) for f in fields(event)}}


def event_from_dict(name: str, data: dict[str, Any]) -> Any:
    """An engine event back from :func:`event_to_dict` (None for an unknown name)."""
    from cnn_tui.core.engine import events

    cls = {c.__name__: c for c in get_args(events.Event)}.get(name)
    if cls is None:
        return None
    data = dict(data)
    if data.get("run_dir") is not None:
        data["run_dir"] = Path(data["run_dir"])
    for key in ("class_names", "history"):  # tuples travel as JSON lists
        if isinstance(data.get(key), list):
            data[key] = tuple(data[key])
    try:
        return cls(**data)
    except TypeError:
        return None


def outcome_from_dict(data: dict[str, Any]) -> TrialOutcome:
    return TrialOutcome(status=str(data.get("status") or "failed"), error=data.get("error"),
                        metrics=data.get("metrics"), run_id=data.get("run_id"),
                        run_dir=Path(data["run_dir"]) if data.get("run_dir") else None)


# ---------------------------------------------------------------------------------------
# Worker processes


@dataclass
class _Worker:
    slot: int
    proc: subprocess.Popen
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=40))
    index: int | None = None  # the trial it trains (1-based plan position)
    trial_id: str | None = None
    run_id: str | None = None
    run_dir: Path | None = None
    started: float = 0.0
    stop_sent: bool = False
    alive: bool = True
    write_lock: threading.Lock = field(default_factory=threading.Lock)  # skip() comes from other threads

    def send(self, obj: dict[str, Any]) -> bool:
        line = dumps(obj) + "\n"
        with self.write_lock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
                return True
            except (OSError, ValueError):
                return False

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass


class ProcessExecutor:
    """Up to ``workers`` trials at once, each in a worker process of its own.

    Args:
        workers: concurrent trials (worker processes).
        cpus: cores to share (default: those this process may use).
        gpus: GPU ids to pin workers to round-robin (default: :func:`detect_gpus`).
        python: the interpreter of the workers (default: this one).
    """

    def __init__(self, workers: int, *, cpus: int | None = None, gpus: list[str] | None = None,
                 python: str | None = None) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.workers = workers
        self.cpus = cpus or cpu_count()
        self.gpus = detect_gpus() if gpus is None else list(gpus)
        self.python = python or sys.executable
        self._workers: dict[int, _Worker] = {}
        self._lock = threading.Lock()
        self._skips: set[str] = set()
        self._messages: queue.Queue = queue.Queue()

    # -- control from other threads
    def skip(self, trial_id: str) -> bool:
        """End trial ``trial_id`` after its batch (stored ``skipped``); False if it is not running."""
        with self._lock:
            for w in self._workers.values():
                if w.trial_id == trial_id and w.alive:
                    self._skips.add(trial_id)
                    return w.send({"cmd": "stop", "trial": trial_id})
        return False

    def running(self) -> dict[str, int]:
        """Trial id -> worker process id of the trials in progress."""
        with self._lock:
            return {w.trial_id: w.proc.pid for w in self._workers.values() if w.trial_id and w.alive}

    # -- the loop
    def run(self, indices: list[int], start: StartFn, finish: FinishFn, *, stop: threading.Event,
            pause: threading.Event | None = None, on_event: Callable[[Any], None] | None = None) -> None:
        pending = deque(indices)
        paused = False
        try:
            while True:
                if stop.is_set():
                    pending.clear()
                    self._stop_all()
                busy = [w for w in self._workers.values() if w.index is not None]
                if not pending and not busy:
                    break
                while pending and len(busy) < self.workers and not stop.is_set():
                    worker = self._launch(pending.popleft(), start, paused)
                    busy.append(worker)
                want = bool(pause is not None and pause.is_set())
                if want != paused:
                    paused = want
                    for w in self._workers.values():
                        w.send({"cmd": "pause" if paused else "resume"})
                try:
                    slot, msg = self._messages.get(timeout=0.1)
                except queue.Empty:
                    continue
                self._handle(slot, msg, finish, stop, on_event)
        finally:
            self._shutdown()

    def _launch(self, index: int, start: StartFn, paused: bool) -> _Worker:
        slot = next(s for s in range(self.workers)
                    if s not in self._workers or self._workers[s].index is None)
        worker = self._workers.get(slot)
        if worker is None or not worker.alive:
            worker = self._spawn(slot)
            if paused:
                worker.send({"cmd": "pause"})
        spec = start(index)
        with self._lock:
            worker.index, worker.trial_id, worker.started = index, spec.trial_id, time.monotonic()
            worker.run_id = worker.run_dir = None
            worker.stop_sent = False
        from cnn_tui.core.config import config_to_dict

        job = {"trial": spec.trial_id, "config": config_to_dict(spec.config), "runs_dir": str(spec.runs_dir),
               "name": spec.name, "tags": spec.tags}
        worker.send({"job": job})  # a worker that died is noticed by its reader's end of file
        return worker

    def _spawn(self, slot: int) -> _Worker:
        env = worker_env(slot, self.workers, cpus=self.cpus, gpus=self.gpus)
        proc = subprocess.Popen(
            [self.python, "-m", WORKER_MODULE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", env=env, bufsize=1,
            start_new_session=True,  # Ctrl+C reaches the study, which stops its workers itself
        )
        worker = _Worker(slot, proc)
        with self._lock:
            self._workers[slot] = worker

        def read_stdout() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg, dict):
                    self._messages.put((worker, msg))
            self._messages.put((worker, {"eof": True}))

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.strip():
                    worker.stderr_tail.append(line.rstrip())

        for target in (read_stdout, read_stderr):
            threading.Thread(target=target, name=f"cnn-tui-worker-{slot}", daemon=True).start()
        return worker

    def _handle(self, worker: _Worker, msg: dict[str, Any], finish: FinishFn, stop: threading.Event,
                on_event: Callable[[Any], None] | None) -> None:
        if msg.get("eof"):
            try:
                code = worker.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.proc.kill()
                code = worker.proc.wait()
            with self._lock:
                worker.alive = False
            if worker.index is not None:
                self._end(worker, TrialOutcome("failed", _death_reason(code, worker.stderr_tail),
                                               run_id=worker.run_id, run_dir=worker.run_dir), finish, stop)
            return
        if msg.get("trial") != worker.trial_id or worker.index is None:
            return  # a late line of a trial already ended
        if "event" in msg:
            event = event_from_dict(str(msg["event"]), msg.get("data") or {})
            if event is None:
                return
            if getattr(event, "run_id", None) and getattr(event, "run_dir", None):
                worker.run_id, worker.run_dir = event.run_id, event.run_dir
            if on_event is not None:
                try:
                    on_event(WorkerEvent(worker.index, worker.trial_id or "", event))
                except Exception:  # noqa: BLE001 - a broken front end must not end the study
                    pass
        elif "result" in msg:
            self._end(worker, outcome_from_dict(msg["result"] or {}), finish, stop)

    def _end(self, worker: _Worker, outcome: TrialOutcome, finish: FinishFn, stop: threading.Event) -> None:
        index, trial_id = worker.index, worker.trial_id
        seconds = round(time.monotonic() - worker.started, 3)
        with self._lock:
            worker.index = worker.trial_id = None
            skipped = trial_id in self._skips
            self._skips.discard(trial_id or "")
        assert index is not None
        finish(index, outcome, seconds, skipped and not stop.is_set())

    def _stop_all(self) -> None:
        for w in self._workers.values():
            if w.index is not None and not w.stop_sent:
                w.stop_sent = w.send({"cmd": "stop", "trial": w.trial_id})

    def _shutdown(self) -> None:
        """Workers end at the end of their stdin (after the batch in progress, if any)."""
        for w in self._workers.values():
            w.close()
        deadline = time.monotonic() + 60
        for w in self._workers.values():
            try:
                w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
        self._workers.clear()


def _death_reason(code: int, tail: deque) -> str:
    """Why a worker ended without a result: its signal or exit code and its last stderr line."""
    import signal

    if code < 0:
        try:
            what = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"killed by signal {-code}"
    else:
        what = f"exited with code {code}"
    last = next((line for line in reversed(tail) if line.strip()), "")
    return f"trial process {what}" + (f": {' '.join(last.split())[:300]}" if last else "")
