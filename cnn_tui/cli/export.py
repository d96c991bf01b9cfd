"""``cnn-tui export [RUN...]``: the runs table as Markdown, CSV, LaTeX or JSON."""

from __future__ import annotations

import argparse

from cnn_tui.cli.common import OK, CliError, add_runs_dir, info, out, runs_dir

_FORMATS = ("md", "csv", "latex", "json")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="write a table of runs (md, csv, latex, json)",
        description="A table of runs: one row per run, the config keys that differ between them, and "
        "the test metrics. Without RUN, all runs in the runs folder.",
    )
    p.add_argument("runs", metavar="RUN", nargs="*", help="runs to include (folder name, short id, 'latest'...)")
    add_runs_dir(p)
    p.add_argument(
        "--format",
        choices=_FORMATS,
        default=None,
        help="table format (default: from the --output suffix, else md)",
    )
    p.add_argument("--transpose", action="store_true", help="fields as rows, runs as columns")
    p.add_argument("--precision", type=int, default=4, metavar="N", help="decimals of metric values (default 4)")
    p.add_argument("-o", "--output", metavar="F", default=None, help="write to file F instead of stdout")
    p.add_argument("--force", action="store_true", help="overwrite F if it exists")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from cnn_tui.core.errors import RunStoreError
    from cnn_tui.core.results import table as tables
    from cnn_tui.core.results.store import RunStore

    if not 0 <= args.precision <= 12:
        raise CliError(f"--precision {args.precision}: expected 0 to 12 decimals")
    fmt = args.format
    if fmt is None:
        fmt = (tables.format_for_path(args.output) if args.output else None) or "md"
    store = RunStore(runs_dir(args))
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
    if args.output:
        path = tables.export(table, fmt, args.output, transpose=args.transpose, force=args.force, precision=args.precision)
        info(f"wrote {len(runs)} run{'s' if len(runs) != 1 else ''} as {fmt}")
        out(str(path))
    else:
        text = tables.render(table, fmt, transpose=args.transpose, precision=args.precision)
        out(text.rstrip("\n"))
    return OK
