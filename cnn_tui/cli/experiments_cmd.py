"""``cnn-tui sweep | ablate | experiment | ensemble``: studies of several runs, headless.

Trials run one after another, or with ``--workers N`` up to N at once in worker processes
(``--executor ray``: as tasks on a Ray cluster); progress (trial i/n, group, ETA, epoch
lines) goes to stderr, the aggregated table to stdout, then the experiment folder as the
last line. Ctrl+C stops the trials in progress (stored ``stopped``), starts no more, prints
the table of what finished and exits 130; a second Ctrl+C quits at once.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from cnn_tui.cli.common import (
    sigint_stops,
    INTERRUPTED,
    OK,
    RUN_FAILED,
    TABLE_FORMATS,
    CliError,
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
from cnn_tui.core.formatting import METRICS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="grid sweep: train every combination of the given values",
        description="Train SPEC (preset or TOML) for every combination of the --grid values, "
        "e.g. --grid model.batch_norm=true,false --grid model.dropout=0.2,0.3 (6 cells).",
    )
    p.add_argument("spec", metavar="SPEC", help="preset name or TOML file (the base config)")
    p.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2",
                   help="a dotted key and its values (TOML values, comma separated; repeatable)")
    _study_options(p)
    p.set_defaults(func=cmd_sweep)

    p = subparsers.add_parser(
        "ablate",
        help="cumulative ablation: each step adds its overrides to all earlier ones",
        description='Train SPEC once per --step; each step keeps the overrides of the steps before it. '
        'The first step is the baseline, e.g. --step "baseline:" --step "+ bn: model.batch_norm=true".',
    )
    p.add_argument("spec", metavar="SPEC", help="preset name or TOML file (the baseline config)")
    p.add_argument("--step", action="append", required=True, metavar='"NAME: K=V K=V"',
                   help="a named step and its overrides, separated by spaces (repeatable, in order)")
    _study_options(p)
    p.set_defaults(func=cmd_ablate)

    p = subparsers.add_parser(
        "experiment",
        help="run a study from a preset/TOML with an [experiment] section, or resume one",
        description="Run the [experiment] plan of FILE_OR_PRESET (grid, ablation, variants or repeat), "
        "or continue an interrupted experiment with --resume (completed trials are kept).",
    )
    p.add_argument("spec", metavar="FILE_OR_PRESET", nargs="?", default=None, help="preset name or TOML file")
    p.add_argument("--resume", metavar="EXP", default=None,
                   help="experiment folder, name, short id or 'latest' to continue")
    _study_options(p, metric=False)
    p.set_defaults(func=cmd_experiment)

    p = subparsers.add_parser(
        "ensemble",
        help="ensemble finished runs: average softmax of the first 1..k members",
        description="Average the test-set softmax of the first 1..k RUNs (same dataset and test set) "
        "and report accuracy and weighted F1 for each k.",
    )
    p.add_argument("runs", metavar="RUN", nargs="*", help="run folder, name, short id or 'latest'")
    p.add_argument("--experiment", metavar="EXP", default=None,
                   help="add the completed runs of this experiment (e.g. a repeat study)")
    add_runs_dir(p)
    _format_options(p)
    p.set_defaults(func=cmd_ensemble)


def _format_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=TABLE_FORMATS, default="md", help="table format on stdout (default md)")
    p.add_argument("--transpose", action="store_true", help="metrics as rows, groups as columns")


def _study_options(p: argparse.ArgumentParser, *, metric: bool = True) -> None:
    add_overrides(p)
    p.add_argument("--repeat", type=int, metavar="N", default=None,
                   help="train every group N times with seeds train.seed .. train.seed+N-1")
    if metric:
        p.add_argument("--metric", choices=METRICS, default=None, help="primary metric of the table")
    add_runs_dir(p)
    p.add_argument("--name", metavar="N", default=None, help="experiment name (default: the config's name)")
    p.add_argument("--trials", action="store_true", help="also print one row per trial")
    p.add_argument("--workers", type=int, metavar="N", default=None,
                   help="train up to N trials at once, each in its own process (default 1: one after another)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where trials run: local processes, or tasks on a Ray cluster (pip install -e \".[ray]\")")
    p.add_argument("--ray-address", metavar="ADDR", default=None,
                   help="Ray cluster to join with --executor ray (default: start a local Ray instance)")
    _format_options(p)


# ---------------------------------------------------------------------------------------
# Commands


def cmd_sweep(args: argparse.Namespace) -> int:
    from cnn_tui.core.engine.plan import parse_grid  # KEY=V1,V2, shared with the TUI's dialog

    grid = dict(parse_grid(g) for g in args.grid)
    plan = {"kind": "grid", "grid": grid, "repeat": args.repeat or 1}
    if args.metric:
        plan["metric"] = args.metric
    return _run(args, resolve_config(args.spec, args.overrides), plan)


def cmd_ablate(args: argparse.Namespace) -> int:
    from cnn_tui.core.engine.plan import parse_step  # "name: k=v k=v", shared with the TUI's dialog

    plan = {"kind": "ablation", "steps": [parse_step(s) for s in args.step], "repeat": args.repeat or 1}
    if args.metric:
        plan["metric"] = args.metric
    return _run(args, resolve_config(args.spec, args.overrides), plan)


def cmd_experiment(args: argparse.Namespace) -> int:
    from cnn_tui.core.engine.plan import parse_plan
    from cnn_tui.core.results.experiment_store import find_experiment

    if args.resume:
        if args.spec or args.overrides or args.repeat or args.name:
            raise CliError("--resume continues the stored plan: drop FILE_OR_PRESET, --set, --repeat and --name")
        return _run(args, None, None, resume=find_experiment(args.resume, runs_dir(args)))
    if not args.spec:
        raise CliError("give FILE_OR_PRESET (a config with an [experiment] section) or --resume EXP")
    config = resolve_config(args.spec, args.overrides)
    plan = parse_plan(config.experiment, args.spec)
    if args.repeat:
        plan = plan.model_copy(update={"repeat": args.repeat})
    return _run(args, config, plan)


def cmd_ensemble(args: argparse.Namespace) -> int:
    from cnn_tui.core.engine.ensemble import ensemble
    from cnn_tui.core.results.store import RunStore
    from cnn_tui.core.results.table import render

    root = runs_dir(args)
    store = RunStore(root)
    runs = [store.get(ref) for ref in args.runs]
    if args.experiment:
        from cnn_tui.core.results.experiment_store import find_experiment, read_progress, trial_run

        exp = find_experiment(args.experiment, root)
        for entry in read_progress(exp)["trials"]:
            run = trial_run(entry, root) if entry.get("state") == "completed" else None
            if run is not None and run.run_id not in {r.run_id for r in runs}:
                runs.append(run)
    if not runs:
        raise CliError("give RUNs to ensemble (or --experiment EXP)")
    result = ensemble(runs)
    sys.stdout.write(render(result.table, args.format, transpose=args.transpose))
    sys.stdout.flush()
    return OK


# ---------------------------------------------------------------------------------------
# Running with progress


class TrialProgress:
    """Prints trial starts/ends and each trial's epochs on stderr."""

    def __init__(self, stream=None, *, parallel: bool = False):
        self.stream = stream or sys.stderr
        self.epochs: Progress | None = None
        self.parallel = parallel
        self.trials: dict[str, Progress] = {}  # parallel trials: plain lines prefixed with the trial id

    def on_event(self, event: Any) -> None:
        if self.parallel:
            progress = self.trials.get(getattr(event, "trial_id", ""))
            if progress is not None:
                progress(event.event)
        elif self.epochs is not None:
            self.epochs(event)

    def on_trial(self, ev: Any) -> None:
        from cnn_tui.core.engine.experiments import TrialStarted

        if isinstance(ev, TrialStarted):
            eta = f", ETA {fmt_duration(ev.eta_seconds)}" if ev.eta_seconds is not None else ""
            self._line(f"trial {ev.index}/{ev.total} [{ev.trial.trial_id}] {ev.trial.group}, seed {ev.trial.seed}{eta}")
            if self.parallel:
                self.trials[ev.trial.trial_id] = Progress(_Prefixed(self.stream, f"[{ev.trial.trial_id}] "), tty=False)
            else:
                self.epochs = Progress(self.stream)
            return
        self.trials.pop(ev.trial.trial_id, None)
        if self.epochs is not None:
            self.epochs.close()
            self.epochs = None
        metrics = ev.metrics or {}
        scores = "  ".join(f"{k} {fmt_float(metrics[k])}" for k in ("test_accuracy", "f1_weighted") if k in metrics)
        tail = f": {' '.join(str(ev.error).split())}" if ev.error else (f": {scores}" if scores else "")
        self._line(f"trial {ev.index}/{ev.total} {ev.status} in {fmt_duration(ev.seconds)}{tail}")

    def _line(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


class _Prefixed:
    """A text stream that starts every line with ``prefix`` (parallel trials' epoch lines)."""

    def __init__(self, stream: Any, prefix: str) -> None:
        self.stream, self.prefix = stream, prefix

    def write(self, text: str) -> None:
        lines = text.split("\n")
        self.stream.write("\n".join(self.prefix + line if line else line for line in lines))

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def make_executor(args: argparse.Namespace) -> Any:
    """The executor ``--workers``/``--executor``/``--ray-address`` ask for (None: one trial
    after another in this process); CliError for bad values."""
    workers = getattr(args, "workers", None)
    kind = getattr(args, "executor", "local") or "local"
    address = getattr(args, "ray_address", None)
    if workers is not None and workers < 1:
        raise CliError(f"--workers: {workers} is not allowed (give 1 or more trials at once)")
    if address and kind != "ray":
        raise CliError("--ray-address needs --executor ray")
    if kind == "ray":
        from cnn_tui.core.engine.ray_executor import RayExecutor, ray_available

        if not ray_available():
            raise CliError('--executor ray needs Ray: pip install -e ".[ray]"')
        executor = RayExecutor(address=address, workers=workers)
        executor.connect()  # an unreachable cluster is bad input: exit 2 before anything is written
        return executor
    if workers is None or workers == 1:
        return None
    from cnn_tui.core.engine.executors import ProcessExecutor

    return ProcessExecutor(workers)


def _run(args: argparse.Namespace, config: Any, plan: Any, *, resume: Any = None) -> int:
    from cnn_tui.core.engine.experiments import run_experiment
    from cnn_tui.core.results.aggregate import aggregate_table, render_table
    from cnn_tui.core.results.experiment_store import read_progress

    executor = make_executor(args)
    progress = TrialProgress(parallel=executor is not None)
    stop = threading.Event()
    what = "the trials in progress" if executor is not None else "the current trial"
    with sigint_stops(stop, f"stopping {what}; no more trials will start (Ctrl+C again to quit at once)"):
        try:
            exp_dir = run_experiment(
                config, plan, runs_dir=runs_dir(args), on_event=progress.on_event, on_trial=progress.on_trial,
                stop=stop, experiment_dir=resume, name=getattr(args, "name", None), executor=executor,
            )
        finally:
            if progress.epochs is not None:
                progress.epochs.close()
    if args.trials:
        out(render_table(aggregate_table(exp_dir, per_trial=True), args.format, transpose=args.transpose).rstrip("\n"))
        out()
    table = aggregate_table(exp_dir)
    info(table.title)
    out(render_table(table, args.format, transpose=args.transpose).rstrip("\n"))
    out(str(exp_dir))
    states = [t.get("state") for t in read_progress(exp_dir)["trials"]]
    if stop.is_set():
        return INTERRUPTED
    return RUN_FAILED if any(s != "completed" for s in states) else OK
