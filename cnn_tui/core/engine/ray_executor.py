"""``--executor ray``: a study's trials as Ray tasks, on one machine or a cluster.

Each trial is a ``ray.remote`` task with its share of CPUs (and one GPU where the cluster
has them) that trains into a temporary runs folder on whatever node runs it and returns
that run folder as tar bytes; the driver unpacks it into its own runs folder, so no
shared filesystem is needed. A small control actor carries the trials' events to the
driver and the driver's stop/skip/pause to the trials (polled twice a second). Ray runs the
next trial in a worker process it already started, which has TensorFlow imported and keeps
the study's dataset loaded (:func:`~cnn_tui.core.data.keep_last_dataset`).

Ray is an optional extra (``pip install -e ".[ray]"``) and is imported only here, only
when a Ray study starts. Without ``address`` a local Ray instance is started (and shut
down after the study); an already initialised Ray (``ray.init`` by the caller) is used as
it is.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import tarfile
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

from cnn_tui.core.engine.executors import (
    FinishFn,
    StartFn,
    TrialOutcome,
    WorkerEvent,
    event_from_dict,
    outcome_from_dict,
)
from cnn_tui.core.errors import ConfigError, RunStoreError

POLL_SECONDS = 0.5


def ray_available() -> bool:
    """Whether Ray can be imported (without importing it)."""
    if "ray" in sys.modules:  # None there marks it unimportable
        return sys.modules["ray"] is not None
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):
        return False


class _Control:
    """Ray actor between the driver and its trials: events up, stop/skip/pause down."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.stopped: set[str] = set()
        self.paused = False

    def poll(self, trial_id: str, events: list[dict[str, Any]]) -> tuple[bool, bool]:
        self.events.extend((trial_id, e) for e in events)
        return trial_id in self.stopped, self.paused

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        events, self.events = self.events, []
        return events

    def stop(self, trial_id: str) -> None:
        self.stopped.add(trial_id)

    def pause(self, paused: bool) -> None:
        self.paused = paused


def _run_trial(job: dict[str, Any], threads: int, control: Any) -> dict[str, Any]:
    """The Ray task: train ``job`` into a temporary runs folder; return its outcome and the
    run folder as tar bytes (None when no folder was made)."""
    import ray

    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(threads))
    os.environ["CNN_TUI_TF_THREADS"] = str(threads)
    from cnn_tui.core.config import config_from_dict
    from cnn_tui.core.data import keep_last_dataset
    from cnn_tui.core.engine import trainer
    from cnn_tui.core.engine.executors import event_to_dict
    from cnn_tui.core.engine.trial_worker import configure_threads
    from cnn_tui.core.errors import CnnTuiError

    configure_threads()
    keep_last_dataset()  # Ray runs a study's next trial in the same worker process: one load per process
    trial = str(job["trial"])
    stop, pause, done = threading.Event(), threading.Event(), threading.Event()
    buffer: list[dict[str, Any]] = []
    lock = threading.Lock()

    def on_event(event: Any) -> None:
        with lock:
            buffer.append(event_to_dict(event))

    def flush() -> None:
        with lock:
            events = buffer[:]
            buffer.clear()
        try:
            stopped, paused = ray.get(control.poll.remote(trial, events))
        except Exception:  # noqa: BLE001 - the driver is gone: stop after this batch
            stopped, paused = True, False
        if stopped:
            stop.set()
        (pause.set if paused and not stopped else pause.clear)()

    def poll() -> None:
        while not done.wait(POLL_SECONDS):
            flush()

    poller = threading.Thread(target=poll, name="cnn-tui-ray-poll", daemon=True)
    poller.start()
    with tempfile.TemporaryDirectory(prefix="cnn-tui-ray-") as tmp:
        try:
            config = config_from_dict(job["config"], f"trial {trial}")
            result = trainer.train(config, on_event, stop, runs_dir=tmp, name=job.get("name"), pause=pause,
                                   tags=job.get("tags"))
            outcome = {"status": result.status, "error": result.error, "metrics": result.metrics,
                       "run_id": result.run_id}
        except CnnTuiError as exc:
            outcome = {"status": "failed", "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - reported as the trial's failure
            outcome = {"status": "failed", "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}
        done.set()
        poller.join()
        flush()
        data = None
        run_id = outcome.get("run_id")
        if run_id and (Path(tmp) / run_id).is_dir():
            stream = io.BytesIO()
            with tarfile.open(fileobj=stream, mode="w:gz") as tar:
                tar.add(Path(tmp) / run_id, arcname=run_id)
            data = stream.getvalue()
    outcome = {k: (v.item() if hasattr(v, "item") else v) for k, v in outcome.items()}
    if outcome.get("metrics"):
        outcome["metrics"] = {k: (v.item() if hasattr(v, "item") else v) for k, v in outcome["metrics"].items()}
    return {"result": outcome, "tar": data}


def _unreachable(address: str, timeout: float = 5.0) -> str | None:
    """Why nothing answers at ``host:port`` (None: something listens, or not a host:port)."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return None
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return f"{exc.strerror or type(exc).__name__} at {host}:{port}"


def unpack_run(data: bytes, runs_dir: Path, run_id: str) -> Path:
    """Store a run folder that came back as tar bytes under ``runs_dir``; its path.
    Only members inside ``run_id/`` are accepted."""
    runs_dir = Path(runs_dir)
    target = runs_dir / run_id
    if target.exists():
        raise RunStoreError(f"{target}: a run folder of that name already exists")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        members = tar.getmembers()
        for m in members:
            parts = Path(m.name).parts
            if not parts or parts[0] != run_id or ".." in parts or m.name.startswith("/") or not (m.isfile() or m.isdir()):
                raise RunStoreError(f"run {run_id}: unexpected entry {m.name!r} in the returned run folder")
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=runs_dir))
        try:
            tar.extractall(staging, members=members, filter="data")
            os.replace(staging / run_id, target)  # the run appears whole or not at all
        finally:
            import shutil

            shutil.rmtree(staging, ignore_errors=True)
    return target


class RayExecutor:
    """Trials as Ray tasks (see the module docstring).

    Args:
        address: the cluster (``ray start --head`` prints it); None: a local instance,
            or the Ray this process already initialised.
        workers: trials in flight at once (default: the cluster's CPUs / ``cpus_per_trial``).
        cpus_per_trial: CPUs each trial asks for (and its TensorFlow threads); default 1.
        gpus_per_trial: GPUs each trial asks for; default 1 where the cluster has GPUs, else 0.
        num_cpus: CPUs of a local instance started here (default: all).
    """

    def __init__(self, address: str | None = None, workers: int | None = None, *, cpus_per_trial: int = 1,
                 gpus_per_trial: float | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.workers = workers or 1  # refined from the cluster's CPUs when the study starts
        self._workers_given = workers
        self.cpus_per_trial = max(1, cpus_per_trial)
        self.gpus_per_trial = gpus_per_trial
        self.num_cpus = num_cpus
        self._control: Any = None
        self._started_here = False
        self._running: dict[str, int] = {}
        self._skips: set[str] = set()
        self._lock = threading.Lock()

    def skip(self, trial_id: str) -> bool:
        """End trial ``trial_id`` after its batch (stored ``skipped``); False if it is not running."""
        with self._lock:
            if trial_id not in self._running or self._control is None:
                return False
            self._skips.add(trial_id)
            self._control.stop.remote(trial_id)
            return True

    def connect(self) -> None:
        """Join the cluster at ``address`` (or start a local instance) unless this process
        already uses Ray; ConfigError (one line) when that fails. Front ends call it before
        the study writes anything."""
        import ray

        if ray.is_initialized():
            return
        if self.address and (refused := _unreachable(self.address)):
            # Ray itself retries an address where nothing listens for minutes.
            raise ConfigError(f"--ray-address {self.address}: cannot join the Ray cluster ({refused})")
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address:
            kwargs["address"] = self.address
        elif self.num_cpus:
            kwargs["num_cpus"] = self.num_cpus
        try:
            ray.init(**kwargs)
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError... from Ray
            text = " ".join(str(exc).split())[:200]
            where = f"--ray-address {self.address}: cannot join the Ray cluster" if self.address else \
                "cannot start a local Ray instance"
            hint = ("; a cluster started with `ray start` uses token authentication: set RAY_AUTH_MODE=token "
                    "(and RAY_AUTH_TOKEN to the head's `ray get-auth-token`)") if self.address else ""
            raise ConfigError(f"{where} ({type(exc).__name__}: {text}){hint}") from None
        self._started_here = True

    def run(self, indices: list[int], start: StartFn, finish: FinishFn, *, stop: threading.Event,
            pause: threading.Event | None = None, on_event: Callable[[Any], None] | None = None) -> None:
        import ray

        from cnn_tui.core.config import config_to_dict

        self.connect()
        try:
            resources = ray.cluster_resources()
            gpus = self.gpus_per_trial if self.gpus_per_trial is not None else (1 if resources.get("GPU") else 0)
            capacity = max(1, int(resources.get("CPU", 1) // self.cpus_per_trial))
            self.workers = self._workers_given or capacity
            task = ray.remote(_run_trial).options(num_cpus=self.cpus_per_trial, num_gpus=gpus, max_retries=0)
            control = ray.remote(num_cpus=0)(_Control).remote()
            with self._lock:
                self._control = control
            pending = deque(indices)
            inflight: dict[Any, tuple[int, Any, float]] = {}
            paused = stopping = False
            try:
                while pending or inflight:
                    if stop.is_set() and not stopping:
                        stopping = True
                        pending.clear()
                        for _, spec, _ in inflight.values():
                            control.stop.remote(spec.trial_id)
                    while pending and len(inflight) < self.workers and not stop.is_set():
                        index = pending.popleft()
                        spec = start(index)
                        job = {"trial": spec.trial_id, "config": config_to_dict(spec.config), "name": spec.name,
                               "tags": spec.tags}
                        inflight[task.remote(job, self.cpus_per_trial, control)] = (index, spec, time.monotonic())
                        with self._lock:
                            self._running[spec.trial_id] = index
                    want = bool(pause is not None and pause.is_set())
                    if want != paused:
                        paused = want
                        control.pause.remote(paused)
                    # Trials hand their events to the control actor every POLL_SECONDS: drain no more often.
                    ready, _ = ray.wait(list(inflight), num_returns=1, timeout=POLL_SECONDS)
                    self._dispatch(ray.get(control.drain.remote()), inflight, on_event)
                    for ref in ready:
                        index, spec, began = inflight.pop(ref)
                        outcome = self._collect(ray, ref, spec)
                        with self._lock:
                            self._running.pop(spec.trial_id, None)
                            skipped = spec.trial_id in self._skips
                            self._skips.discard(spec.trial_id)
                        finish(index, outcome, round(time.monotonic() - began, 3), skipped and not stop.is_set())
            finally:
                for ref in inflight:  # an exception in the driver: end the trials still out there
                    ray.cancel(ref, force=True)
                with self._lock:
                    self._control = None
                    self._running.clear()
        finally:
            if self._started_here:  # a Ray this executor started ends with its study
                self._started_here = False
                ray.shutdown()

    def _dispatch(self, events: list, inflight: dict, on_event: Callable[[Any], None] | None) -> None:
        if on_event is None:
            return
        by_trial = {spec.trial_id: (index, spec) for index, spec, _ in inflight.values()}
        for trial_id, data in events:
            if trial_id not in by_trial:
                continue
            index, spec = by_trial[trial_id]
            payload = dict(data.get("data") or {})
            if payload.get("run_dir") and payload.get("run_id"):
                payload["run_dir"] = str(Path(spec.runs_dir) / payload["run_id"])  # where it will be stored
            event = event_from_dict(str(data.get("event")), payload)
            if event is not None:
                try:
                    on_event(WorkerEvent(index, trial_id, event))
                except Exception:  # noqa: BLE001 - a broken front end must not end the study
                    pass

    @staticmethod
    def _collect(ray: Any, ref: Any, spec: Any) -> TrialOutcome:
        try:
            value = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a task that died (worker crash, node lost)
            text = " ".join(str(exc).split())
            return TrialOutcome("failed", f"Ray task failed: {type(exc).__name__}: {text[:300]}")
        result = dict(value.get("result") or {})
        run_id = result.get("run_id")
        if run_id and value.get("tar"):
            try:
                result["run_dir"] = str(unpack_run(value["tar"], Path(spec.runs_dir), run_id))
            except (OSError, tarfile.TarError, RunStoreError) as exc:
                return TrialOutcome("failed", f"run {run_id} came back but could not be stored: {exc}")
        else:
            result["run_id"] = None
        return outcome_from_dict(result)
