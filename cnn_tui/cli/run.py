"""``cnn-tui run SPEC``: train one experiment headless.

Progress and diagnostics go to stderr; the result (one summary line) and the run folder,
last, go to stdout.
Ctrl+C once stops after the current batch (the run is stored as ``stopped``, exit 130);
twice quits at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from cnn_tui.cli.common import (
    sigint_stops,
    INTERRUPTED,
    OK,
    RUN_FAILED,
    Progress,
    add_overrides,
    add_runs_dir,
    fmt_duration,
    fmt_float,
    info,
    out,
    resolve_config,
    runs_dir,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="train one experiment (a preset name or a TOML file)",
        description="Train one experiment. SPEC is a preset name (see `cnn-tui presets list`) "
        "or the path of a TOML experiment file.",
    )
    p.add_argument("spec", metavar="SPEC", help="preset name or TOML file")
    add_overrides(p)
    add_runs_dir(p)
    p.add_argument("--name", metavar="N", default=None, help="name of the run folder (default: the config's name)")
    p.set_defaults(func=cmd_run)


def check_dataset(config: Any, source: str | None = None) -> None:
    """Fail fast on an unknown dataset, an architecture that does not fit its images or a
    run too big for the memory, before the engine imports TensorFlow or reads the images."""
    from cnn_tui.core.data import dataset_info
    from cnn_tui.core.errors import CnnTuiError
    from cnn_tui.core.models.memory import check_memory

    try:
        info = dataset_info(config.data.dataset, config.data)
        if info.image_shape and (info.num_classes or 0) >= 2:  # the data layer words the other cases
            images = (info.train_count or 0) + (info.test_count or 0)
            check_memory(config, info.image_shape, info.num_classes, images=images)
    except CnnTuiError as exc:
        if source and not str(exc).startswith(source):
            raise type(exc)(f"{source}: {exc}") from None
        raise


def _is_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or spec.endswith(".toml")


def cmd_run(args: argparse.Namespace) -> int:
    config = resolve_config(args.spec, args.overrides)
    from_file = _is_path(args.spec) and not any(o.strip().startswith("data.") for o in args.overrides)
    check_dataset(config, args.spec if from_file else None)
    if config.experiment:
        info("note: this config has an [experiment] plan; `run` trains the base config once "
             "(`cnn-tui experiment` runs the plan)")
    from cnn_tui.core import engine

    progress = Progress(sys.stderr)
    stop = threading.Event()
    with sigint_stops(stop):
        try:
            result = engine.train(config, progress, stop, runs_dir=runs_dir(args), name=args.name)
        finally:
            progress.close()
    return report(result, interrupted=stop.is_set())


def report(result: Any, *, interrupted: bool = False) -> int:
    """The summary line, then the run folder (the last line), on stdout; the exit code.

    A failed run's error is a diagnostic (stderr); stdout then holds only the folder.
    """
    metrics = result.metrics or {}
    run_dir = Path(result.run_dir) if result.run_dir is not None else None
    if result.status == "failed":
        info(f"run failed: {' '.join(str(result.error or 'unknown error').split())}")
        if run_dir is not None:
            out(str(run_dir))
        return RUN_FAILED
    parts = []
    if metrics.get("test_accuracy") is not None:
        parts.append(f"test accuracy {fmt_float(metrics['test_accuracy'])}")
    if metrics.get("test_loss") is not None:
        parts.append(f"test loss {fmt_float(metrics['test_loss'])}")
    if metrics.get("f1_weighted") is not None:
        parts.append(f"F1 weighted {fmt_float(metrics['f1_weighted'])}")
    if metrics.get("f1_macro") is not None:
        parts.append(f"F1 macro {fmt_float(metrics['f1_macro'])}")
    if metrics.get("train_seconds") is not None:
        parts.append(f"trained in {fmt_duration(metrics['train_seconds'])}")
    label = "stopped" if result.status == "stopped" else "done"
    epochs = metrics.get("epochs_completed")
    if result.status == "stopped" and epochs is not None:
        label = f"stopped after {epochs} epoch{'s' if epochs != 1 else ''}"
    out(f"{label}: " + ("  ".join(parts) if parts else "no test metrics"))
    if run_dir is not None:
        out(str(run_dir))
    if result.status == "stopped":
        return INTERRUPTED
    return OK
