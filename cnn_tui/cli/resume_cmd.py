"""``cnn-tui resume RUN``: continue a crashed, stopped or failed run from its last checkpoint.

The run keeps its folder and config; training restarts after the last completed epoch
(the one checkpoint.keras holds) and appends to the same history.csv. A run without a
usable checkpoint is trained again from epoch 0 (its history reset; one line says so).
Progress, Ctrl+C and the final report behave as in ``cnn-tui run``.
"""

from __future__ import annotations

import argparse
import sys
import threading

from cnn_tui.cli.common import Progress, add_runs_dir, runs_dir
from cnn_tui.cli.common import sigint_stops
from cnn_tui.cli.run import report


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "resume",
        help="continue a crashed or stopped run from its last completed epoch",
        description="Continue a crashed, stopped or failed run in place: training restarts after "
        "the last checkpointed epoch and appends to the same history (from epoch 0, history reset, "
        "when the run has no checkpoint). RUN is a run folder name, "
        "short id, unique part of it, a path, or 'latest'.",
    )
    p.add_argument("run", metavar="RUN", help="run folder name, short id, unique part of it, a path, or 'latest'")
    add_runs_dir(p)
    p.set_defaults(func=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    from cnn_tui.core.results.store import RunStore

    store = RunStore(runs_dir(args))
    run = store.get(args.run)
    run.config  # noqa: B018 - a damaged config.toml is bad input: fail before importing TF
    from cnn_tui.core.engine.trainer import check_resumable
    from cnn_tui.core.errors import RunStoreError

    check_resumable(run)  # completed, running, no checkpoint...: one line before TF
    from cnn_tui.core.results.history import history_problem

    problem = run.checkpoint_problem() or history_problem(run.path)
    if problem:
        raise RunStoreError(f"run {run.run_id} cannot be resumed: {problem}")
    from cnn_tui.core import engine

    progress = Progress(sys.stderr)
    stop = threading.Event()
    with sigint_stops(stop):
        try:
            result = engine.resume(run, progress, stop)
        finally:
            progress.close()
    return report(result, interrupted=stop.is_set())
