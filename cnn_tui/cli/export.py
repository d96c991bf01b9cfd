"""``cnn-tui export [RUN...] | --experiment EXP``: the runs table, or an experiment's
aggregated table, as Markdown, CSV, LaTeX or JSON."""

from __future__ import annotations

import argparse

from cnn_tui.cli.common import OK, TABLE_FORMATS, CliError, add_runs_dir, info, out, runs_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a table of runs (md, csv, latex, json)",
        description="A table of runs: one row per run, the config keys that differ between them, and "
        "the test metrics. Without RUN, all runs in the runs folder. With --experiment (or an "
        "experiment's id as the only RUN), the experiment's aggregated table (mean ± std per group).",
    )
    p.add_argument("runs", metavar="RUN", nargs="*", help="runs to include (folder name, short id, 'latest'...)")
    p.add_argument("--experiment", metavar="EXP", default=None,
                   help="export this experiment's aggregated table (folder, id or 'latest')")
    p.add_argument("--trials", action="store_true", help="with an experiment: one row per trial")
    add_runs_dir(p)
    p.add_argument(
        "--format",
        choices=TABLE_FORMATS,
        default=None,
        help="table format (default: from the --output suffix, else md)",
    )
    p.add_argument("--transpose", action="store_true", help="fields as rows, runs as columns")
    p.add_argument("--precision", type=int, default=None, metavar="N",
                   help="decimals of metric values (default 4; 3 for an experiment's mean ± std)")
    p.add_argument("-o", "--output", metavar="F", default=None, help="write to file F instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite F if it exists")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from cnn_tui.core.errors import RunStoreError
    from cnn_tui.core.results import table as tables
    from cnn_tui.core.results.store import RunStore

    if args.precision is not None and not 0 <= args.precision <= 12:
        raise CliError(f"--precision {args.precision}: expected 0 to 12 decimals")
    fmt = args.format
    if fmt is None:
        fmt = (tables.format_for_path(args.output) if args.output else None) or "md"
    store = RunStore(runs_dir(args))
    if args.experiment is not None and not args.experiment.strip():
        raise CliError("--experiment: give an experiment folder, name, short id or 'latest'")
    experiment = args.experiment or _experiment_ref(store, args.runs)
    if experiment is not None:
        if args.experiment and args.runs:
            raise CliError("give either RUN... or --experiment EXP, not both")
        return _export_experiment(args, experiment, fmt)
    if args.trials:
        raise CliError("--trials needs an experiment (--experiment EXP)")
    precision = 4 if args.precision is None else args.precision
    if args.runs:
        runs = []
        for ref in args.runs:
            run = store.get(ref)
            if all(r.path != run.path for r in runs):
                runs.append(run)
    else:
        runs = [r for r in store.list() if r.state != "damaged"]
        if not runs:
            raise RunStoreError(f"{store.root}: no runs to export (train one with `cnn-tui run digits-quick`)")
    table = tables.runs_table(runs, title=f"cnn-tui runs ({store.root})")
    _write(args, table, fmt, precision, f"{len(runs)} run{'s' if len(runs) != 1 else ''}")
    return OK


def _experiment_ref(store, refs: list[str]) -> str | None:
    """The one RUN given, when it names no run but an experiment; else None."""
    from cnn_tui.core.errors import RunStoreError
    from cnn_tui.core.results.experiment_store import find_experiment

    if len(refs) != 1:
        return None
    try:
        store.get(refs[0])
        return None
    except RunStoreError as run_error:
        try:
            find_experiment(refs[0], store.root)
        except RunStoreError:
            raise run_error from None
        return refs[0]


def _export_experiment(args: argparse.Namespace, ref: str, fmt: str) -> int:
    from cnn_tui.core.results.aggregate import experiment_table, for_format

    precision = 3 if args.precision is None else args.precision
    table = experiment_table(ref, runs_dir(args), per_trial=args.trials, precision=precision)
    _write(args, for_format(table, fmt), fmt, precision, "the experiment table")
    return OK


def _write(args: argparse.Namespace, table, fmt: str, precision: int, what: str) -> None:
    from cnn_tui.core.results import table as tables

    if args.output:
        path = tables.export(table, fmt, args.output, transpose=args.transpose, force=args.force, precision=precision)
        info(f"wrote {what} as {fmt}")
        out(str(path))
    else:
        out(tables.render(table, fmt, transpose=args.transpose, precision=precision).rstrip("\n"))
