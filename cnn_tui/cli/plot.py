"""``cnn-tui plot RUN... | --experiment EXP [--kind K] -o FILE``: figures for reports as PNG,
SVG or PDF (the suffix of FILE decides), drawn by :mod:`cnn_tui.core.results.figures`."""

from __future__ import annotations

import argparse
import re

from cnn_tui.cli.common import OK, CliError, add_runs_dir, info, out, runs_dir

_KINDS = ("curves", "confusion", "misclassified", "bars", "all")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "plot",
        help="draw figures of runs or an experiment (png, svg, pdf)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Figures for a report, written to FILE as PNG, SVG or PDF (from its suffix).\n\n"
        "kinds of one run:        curves (loss, accuracy, train and validation, learning rate),\n"
        "                         confusion (heatmap with counts; --normalize: fractions of each true class),\n"
        "                         misclassified (grid of images titled true → predicted (confidence))\n"
        "kinds of several runs:   curves (overlaid, labelled by the config keys that differ)\n"
        "kinds of an experiment:  curves (each group's mean validation curve with a ± std band),\n"
        "                         bars (final metric per group, ± std error bars, n and Welch's p)\n"
        "--kind all writes every kind that applies, FILE's name + '-KIND' (report.png -> report-curves.png ...).",
        epilog="examples:\n"
        "  cnn-tui plot latest -o curves.png\n"
        "  cnn-tui plot latest --kind confusion --normalize -o confusion.pdf\n"
        "  cnn-tui plot RUN_A RUN_B -o compare.svg\n"
        "  cnn-tui plot --experiment latest --kind all -o study.png",
    )
    p.add_argument("runs", metavar="RUN", nargs="*", help="runs to draw (folder name, short id, 'latest'...)")
    p.add_argument("--experiment", metavar="EXP", default=None,
                   help="draw this experiment's figures (folder, id or 'latest')")
    p.add_argument("--kind", choices=_KINDS, default="curves", help="which figure (default: curves)")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="file to write: .png, .svg or .pdf")
    p.add_argument("--size", metavar="WxH", default=None,
                   help="size in pixels at --dpi (default 1000x600; SVG/PDF: inches = pixels / dpi)")
    p.add_argument("--dpi", type=int, default=100, metavar="N", help="dots per inch (default 100)")
    p.add_argument("--normalize", action="store_true", help="confusion: fractions of each true class instead of counts")
    p.add_argument("--limit", type=int, default=25, metavar="N", help="misclassified: how many images (default 25)")
    p.add_argument("--metric", default=None, metavar="M",
                   help="bars: the metric (default: the experiment's primary metric)")
    add_runs_dir(p)
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=cmd_plot)


def _size(text: str | None) -> tuple[int, int] | None:
    from cnn_tui.core.results.figures import MAX_PIXELS

    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or not all(100 <= int(v) <= MAX_PIXELS for v in match.groups()):
        raise CliError(f"--size {text}: expected WIDTHxHEIGHT in pixels, each 100 to {MAX_PIXELS} (e.g. 1000x600)")
    return int(match.group(1)), int(match.group(2))


def cmd_plot(args: argparse.Namespace) -> int:
    from cnn_tui.cli.export import _experiment_ref
    from cnn_tui.core.results import figures
    from cnn_tui.core.results.store import RunStore

    figures.figure_format(args.output)  # a bad suffix fails before anything is read
    size = _size(args.size)
    if not 20 <= args.dpi <= 600:
        raise CliError(f"--dpi {args.dpi}: expected 20 to 600")
    if not 1 <= args.limit <= 400:
        raise CliError(f"--limit {args.limit}: expected 1 to 400 images")
    store = RunStore(runs_dir(args))
    experiment = None
    runs = []
    if args.experiment is not None:
        if args.runs:
            raise CliError("give either RUN... or --experiment EXP, not both")
        experiment = args.experiment
    elif not args.runs:
        raise CliError("name the runs to draw (RUN..., e.g. 'latest') or an experiment (--experiment EXP)")
    else:
        experiment = _experiment_ref(store, args.runs)
    if experiment is not None:
        from cnn_tui.core.results.experiment_store import find_experiment

        experiment = find_experiment(experiment, store.root)
        allowed = figures.EXPERIMENT_KINDS
    else:
        for ref in args.runs:
            run = store.get(ref)
            if all(r.path != run.path for r in runs):
                runs.append(run)
        allowed = figures.kinds_for(runs)
    if args.kind != "all" and args.kind not in allowed:
        target = "an experiment" if experiment is not None else ("one run" if len(runs) == 1 else "several runs")
        raise CliError(f"--kind {args.kind}: not a figure of {target} (allowed: {', '.join(allowed)}, all)")
    options = dict(size=size, dpi=args.dpi, normalize=args.normalize, limit=args.limit, metric=args.metric)
    if args.kind == "all":
        written, skipped = figures.write_all(args.output, runs=runs, experiment=experiment, force=args.force,
                                             **options)
        for reason in skipped:
            info(f"skipped {reason}")
    else:
        fig = figures.draw(args.kind, runs=runs, experiment=experiment, **options)
        written = [figures.save(fig, args.output, force=args.force)]
    for path in written:
        out(str(path))
    return OK
