"""A worker process of :class:`~cnn_tui.core.engine.executors.ProcessExecutor`:
``python -m cnn_tui.core.engine.trial_worker``.

Reads jobs and commands from stdin and trains one trial at a time with
:func:`trainer.train`; writes the trial's events and its result to stdout (the protocol in
:mod:`cnn_tui.core.engine.executors`). Anything else printed goes to stderr, so stray
output cannot corrupt the protocol. TensorFlow's thread pools take ``CNN_TUI_TF_THREADS``
(set by the parent) before the first op. End of stdin stops the trial in progress after its
batch (stored ``stopped``) and ends the process (at once, without the interpreter's teardown).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from typing import Any, TextIO


class _Channel:
    """The protocol's output: one JSON line at a time, from any thread."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def send(self, obj: dict[str, Any]) -> None:
        from cnn_tui.core.engine.executors import dumps

        line = dumps(obj) + "\n"
        with self.lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):
                pass


def configure_threads() -> None:
    """Size TensorFlow's thread pools from ``CNN_TUI_TF_THREADS`` (before any op runs)."""
    threads = os.environ.get("CNN_TUI_TF_THREADS")
    if not threads or not threads.isdigit():
        return
    from cnn_tui.core.tfimport import import_tf

    tf = import_tf()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
    except RuntimeError:  # already initialised: the environment variables did it
        pass


def run_job(job: dict[str, Any], channel: _Channel, stop: threading.Event, pause: threading.Event) -> None:
    """Train one job and send its events and result."""
    from cnn_tui.core.config import config_from_dict
    from cnn_tui.core.engine import trainer
    from cnn_tui.core.engine.executors import event_to_dict
    from cnn_tui.core.errors import CnnTuiError

    trial = job.get("trial")

    def on_event(event: Any) -> None:
        channel.send({"trial": trial, **event_to_dict(event)})

    try:
        config = config_from_dict(job["config"], f"trial {trial}")
        result = trainer.train(config, on_event, stop, runs_dir=job["runs_dir"], name=job.get("name"), pause=pause,
                               tags=job.get("tags"))
        outcome = {"status": result.status, "error": result.error, "metrics": result.metrics,
                   "run_id": result.run_id, "run_dir": str(result.run_dir)}
    except CnnTuiError as exc:  # bad input for this cell: recorded, the study goes on
        outcome = {"status": "failed", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - reported as the trial's failure
        outcome = {"status": "failed", "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}
    channel.send({"trial": trial, "result": outcome})


def main() -> int:
    # fd 1 becomes the protocol's private channel; fd 1 itself then points at stderr.
    channel = _Channel(os.fdopen(os.dup(1), "w", encoding="utf-8"))
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    code = serve(sys.stdin, channel)
    # Every trial is stored and answered: end without the interpreter's teardown, which
    # takes TensorFlow 1-4 s here, while the study waits for its workers to end.
    for stream in (channel.stream, sys.stderr, sys.__stderr__):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(code)


def serve(commands: TextIO, channel: _Channel) -> int:
    """Train the jobs read from ``commands`` one after another until it ends. The trials
    of a study share their data config: the dataset is loaded once per worker
    (:func:`~cnn_tui.core.data.keep_last_dataset`)."""
    import json

    from cnn_tui.core.data import keep_last_dataset

    keep_last_dataset()
    jobs: queue.Queue = queue.Queue()
    pause = threading.Event()
    current: dict[str, Any] = {"trial": None, "stop": threading.Event(), "closed": False}
    early: set[str] = set()  # stops that came before their job started
    lock = threading.Lock()

    def read_commands() -> None:
        for line in commands:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            if "job" in msg:
                jobs.put(msg["job"])
            elif msg.get("cmd") == "stop":
                with lock:
                    if msg.get("trial") == current["trial"]:
                        current["stop"].set()
                    else:
                        early.add(str(msg.get("trial")))
            elif msg.get("cmd") == "pause":
                pause.set()
            elif msg.get("cmd") == "resume":
                pause.clear()
        with lock:  # the parent is gone or done: stop what runs, take no more jobs
            current["stop"].set()
            current["closed"] = True
        pause.clear()
        jobs.put(None)

    threading.Thread(target=read_commands, name="cnn-tui-commands", daemon=True).start()
    configure_threads()
    try:
        while True:
            job = jobs.get()
            if job is None:
                return 0
            stop = threading.Event()
            with lock:
                if current["closed"]:
                    return 0
                current.update(trial=job.get("trial"), stop=stop)
                if str(job.get("trial")) in early:
                    stop.set()
            run_job(job, channel, stop, pause)
            with lock:
                current["trial"] = None
    finally:
        keep_last_dataset(False)


if __name__ == "__main__":
    raise SystemExit(main())
