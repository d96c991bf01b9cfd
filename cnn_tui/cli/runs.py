"""``cnn-tui runs list`` and ``cnn-tui runs show RUN``: what is stored in the runs folder."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cnn_tui.cli.common import OK, add_runs_dir, columns, fmt_created, fmt_float, fmt_lr, out, runs_dir


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("runs", help="list stored runs or show one", description="Stored runs.")
    sub = p.add_subparsers(dest="runs_command", metavar="ACTION")
    # Bare `cnn-tui runs` lists.
    add_runs_dir(p)
    p.set_defaults(func=cmd_list, format="table")

    ls = sub.add_parser("list", help="one line per run, oldest first")
    add_runs_dir(ls)
    ls.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    ls.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="config, status, history and metrics of one run")
    show.add_argument("run", metavar="RUN", help="run folder name, short id, unique part of it, a path, or 'latest'")
    add_runs_dir(show)
    show.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    show.set_defaults(func=cmd_show)


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
        "created": run.created,
        "path": str(run.path),
        "error": error,
    }


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    runs = store.list()
    rows = [_summary(r) for r in runs]
    if getattr(args, "format", "table") == "json":
        out(json.dumps(rows, indent=2))
        return OK
    if not rows:
        from cnn_tui.cli.common import info

        info(f"no runs in {store.root} (train one with `cnn-tui run digits-quick`)")
        return OK
    table = [
        [
            r["id"],
            r["name"],
            r["state"],
            r["dataset"] or "?",
            f"{r['epochs'] if r['epochs'] is not None else '?'}/{r['epochs_planned'] or '?'}",
            fmt_float(r["test_accuracy"]),
            fmt_created(r["created"]),
        ]
        for r in rows
    ]
    out(
        columns(
            ["ID", "NAME", "STATE", "DATASET", "EPOCHS", "TEST ACC", "CREATED"],
            table,
            right=[False, False, False, False, True, True, False],
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
                    value = "x".join(str(v) for v in value)
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
