"""``cnn-tui runs list`` and ``cnn-tui runs show RUN``: what is stored in the runs folder."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cnn_tui.cli.common import OK, add_runs_dir, columns, fmt_created, fmt_float, fmt_lr, out, runs_dir
from cnn_tui.core.formatting import format_shape


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("runs", help="list stored runs or show one", description="Stored runs.")
    sub = p.add_subparsers(dest="runs_command", metavar="ACTION")
    # Bare `cnn-tui runs` lists.
    add_runs_dir(p)
    p.set_defaults(func=cmd_list, format="table")

    ls = sub.add_parser("list", help="one line per run, oldest first",
                        description="One line per run: id, name, state, the metrics, epochs, dataset, created "
                                    "(the order of the app's Runs screen).")
    add_runs_dir(ls)
    ls.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    ls.add_argument("--sort", metavar="COLUMN", default=None,
                    help=f"sort by a column: {', '.join(SORTABLE)}, or a key given with --columns "
                         "(runs without a value last)")
    ls.add_argument("--reverse", action="store_true", help="reverse the order (descending with --sort)")
    ls.add_argument("--filter", metavar="WORDS", default="",
                    help="only runs whose id, name, state or dataset contain every word, e.g. 'crashed fashion'")
    ls.add_argument("--columns", metavar="KEYS", default="",
                    help="config keys to add as columns, comma-separated, e.g. model.dropout,train.learning_rate")
    ls.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="config, status, history and metrics of one run")
    show.add_argument("run", metavar="RUN", help="run folder name, short id, unique part of it, a path, or 'latest'")
    add_runs_dir(show)
    show.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    show.set_defaults(func=cmd_show)


SORTABLE = ("id", "name", "state", "test_accuracy", "f1_weighted", "epochs", "dataset", "created")
"""Columns of ``runs list`` that --sort takes (plus the --columns keys)."""


def _store(args: argparse.Namespace):
    from cnn_tui.core.results.store import RunStore

    return RunStore(runs_dir(args))


def _config_or_none(run: Any):
    from cnn_tui.core.errors import CnnTuiError

    try:
        return run.config
    except CnnTuiError:
        return None


def _config_problem(run: Any) -> str | None:
    """Why the run's config.toml cannot be read (one line), or None."""
    from cnn_tui.core.errors import CnnTuiError

    try:
        run.config  # noqa: B018 - reading it is the check
    except CnnTuiError as exc:
        return str(exc)
    return None


def _summary(run: Any) -> dict[str, Any]:
    config = _config_or_none(run)
    metrics = run.metrics or {}
    state, error = run.state, run.error
    if config is None and state != "damaged":  # a run without a readable config cannot be rerun or resumed
        state, error = "damaged", _config_problem(run)
    epochs_done = metrics.get("epochs_completed")
    if epochs_done is None and run.state != "damaged":
        epochs_done = len(run.history())
    return {
        "id": run.short_id,
        "run_id": run.run_id,
        "name": run.name,
        "state": state,
        "dataset": config.data.dataset if config is not None else None,
        "epochs": epochs_done,
        "epochs_planned": config.train.epochs if config is not None else None,
        "test_accuracy": metrics.get("test_accuracy"),
        "f1_weighted": metrics.get("f1_weighted"),
        "created": run.created,
        "path": str(run.path),
        "error": error,
    }


def _config_columns(args: argparse.Namespace) -> list[str]:
    from cnn_tui.cli.common import CliError
    from cnn_tui.core.config import ExperimentConfig, flatten

    keys = [k.strip() for k in (getattr(args, "columns", "") or "").split(",") if k.strip()]
    known = flatten(ExperimentConfig())
    for key in keys:
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else " (see `cnn-tui presets show digits-quick`)"
            raise CliError(f"--columns: {key!r} is not a config key{hint}")
    return keys


def _select(rows: list[dict[str, Any]], args: argparse.Namespace, extra: list[str]) -> list[dict[str, Any]]:
    """--filter, then --sort/--reverse (rows without a value stay last)."""
    from cnn_tui.cli.common import CliError
    from cnn_tui.core.results.table import matches_words, sort_rows

    text = getattr(args, "filter", "") or ""
    if text.strip():
        rows = [r for r in rows if matches_words(text, (r.get(k) for k in ("run_id", "name", "state", "dataset")))]
    column = getattr(args, "sort", None)
    if column:
        if column not in (*SORTABLE, *extra):
            raise CliError(f"--sort: {column!r} is not a column (allowed: {', '.join((*SORTABLE, *extra))})")
        rows = sort_rows(rows, column, reverse=args.reverse)
    elif getattr(args, "reverse", False):
        rows = rows[::-1]
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    extra = _config_columns(args)
    runs = store.list()
    rows = []
    for run in runs:
        row = _summary(run)
        if extra:
            from cnn_tui.core.config import flatten

            config = _config_or_none(run)
            flat = flatten(config) if config is not None else {}
            row.update({k: flat.get(k) for k in extra})
        rows.append(row)
    rows = _select(rows, args, extra)
    if getattr(args, "format", "table") == "json":
        out(json.dumps(rows, indent=2))
        return OK
    if not runs:
        from cnn_tui.cli.common import info

        info(f"no runs in {store.root} (train one with `cnn-tui run digits-quick`)")
        return OK
    if not rows:
        from cnn_tui.cli.common import info

        info(f"no run in {store.root} matches --filter {args.filter!r}")
        return OK
    # Metrics right after the run's identity, as on the app's Runs screen.
    table = [
        [
            r["id"],
            r["name"],
            r["state"],
            fmt_float(r["test_accuracy"]),
            fmt_float(r["f1_weighted"]),
            f"{r['epochs'] if r['epochs'] is not None else '?'}/{r['epochs_planned'] or '?'}",
            r["dataset"] or "?",
            fmt_created(r["created"]),
            *("" if r.get(k) is None else str(r[k]) for k in extra),
        ]
        for r in rows
    ]
    out(
        columns(
            ["ID", "NAME", "STATE", "TEST ACC", "F1 W", "EPOCHS", "DATASET", "CREATED", *extra],
            table,
            right=[False, False, False, True, True, True, False, False, *(False for _ in extra)],
        )
    )
    return OK


def _non_default(config: Any) -> list[tuple[str, Any]]:
    from cnn_tui.core.config import ExperimentConfig, flatten

    defaults = flatten(ExperimentConfig())
    return [(k, v) for k, v in flatten(config).items() if k != "description" and defaults.get(k, object()) != v]


def _show_json(run: Any) -> str:
    from cnn_tui.core.config import config_to_dict

    config = _config_or_none(run)
    data = {
        "run_id": run.run_id,
        "path": str(run.path),
        "status": {**run.status, "state": run.state},
        "config": config_to_dict(config) if config is not None else None,
        "history": run.history(),
        "metrics": run.metrics,
    }
    return json.dumps(data, indent=2, default=str)


def cmd_show(args: argparse.Namespace) -> int:
    run = _store(args).get(args.run)
    if args.format == "json":
        out(_show_json(run))
        return OK
    config = _config_or_none(run)
    metrics = run.metrics or {}
    lines = [
        f"run       {run.run_id}",
        f"path      {run.path}",
        f"name      {run.name}",
        f"state     {run.state}",
        f"created   {fmt_created(run.created)}" + (f"   finished {fmt_created(run.finished)}" if run.finished else ""),
    ]
    if run.error:
        lines.append(f"error     {' '.join(str(run.error).split())}")
    for problem in [_config_problem(run), *run.metrics_problems]:
        if problem:
            lines.append(f"damaged   {' '.join(problem.split())}")
    if run.tags:
        lines.append("tags      " + ", ".join(f"{k}={v}" for k, v in run.tags.items()))
    if config is not None:
        if config.description:
            lines.append(f"about     {' '.join(config.description.split())}")
        lines.append("")
        lines.append("config (differences from the defaults)")
        changed = _non_default(config)
        for key, value in changed:
            lines.append(f"  {key} = {json.dumps(value)}")
        if not changed:
            lines.append("  (all defaults)")
    history = run.history()
    if history:
        lines.append("")
        lines.append("history")
        lines.append(
            columns(
                ["epoch", "loss", "acc", "val_loss", "val_acc", "lr", "seconds"],
                [
                    [
                        h["epoch"],
                        fmt_float(h.get("loss")),
                        fmt_float(h.get("accuracy")),
                        fmt_float(h.get("val_loss")),
                        fmt_float(h.get("val_accuracy")),
                        fmt_lr(h.get("lr")) if h.get("lr") is not None else "",
                        fmt_float(h.get("seconds"), 1),
                    ]
                    for h in history
                ],
                right=[True] * 7,
            )
        )
    if metrics:
        lines.append("")
        lines.append("metrics")
        for key, label, digits in (
            ("test_accuracy", "test accuracy", 4),
            ("test_loss", "test loss", 4),
            ("f1_weighted", "F1 weighted", 4),
            ("f1_macro", "F1 macro", 4),
        ):
            if metrics.get(key) is not None:
                lines.append(f"  {label:<14}{fmt_float(metrics[key], digits)}")
        for key, label in (
            ("epochs_completed", "epochs"),
            ("params", "params"),
            ("device", "device"),
            ("dataset", "dataset"),
            ("image_shape", "image shape"),
        ):
            if metrics.get(key) is not None:
                value = metrics[key]
                if key == "params" and isinstance(value, int):
                    value = f"{value:,}"
                if key == "image_shape" and isinstance(value, list):
                    value = format_shape(value, empty="")
                lines.append(f"  {label:<14}{value}")
        if metrics.get("train_seconds") is not None:
            lines.append(f"  {'train time':<14}{fmt_float(metrics['train_seconds'], 1)} s")
        per_class = metrics.get("per_class") or []
        if per_class:
            lines.append("")
            lines.append("per class")
            lines.append(
                columns(
                    ["class", "precision", "recall", "f1", "support"],
                    [
                        [
                            c.get("class", ""),
                            fmt_float(c.get("precision")),
                            fmt_float(c.get("recall")),
                            fmt_float(c.get("f1")),
                            c.get("support", ""),
                        ]
                        for c in per_class
                    ],
                    right=[False, True, True, True, True],
                )
            )
    out("\n".join(lines))
    return OK
