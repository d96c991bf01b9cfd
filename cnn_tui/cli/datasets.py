"""``cnn-tui datasets [SPEC]``: the built-in datasets (or one spec) and whether they load offline."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, is_dataclass
from typing import Any

from cnn_tui.cli.common import OK, columns, out
from cnn_tui.core.formatting import format_shape


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "datasets",
        help="list datasets and whether they are available offline",
        description="The built-in datasets, or the facts of one dataset spec (e.g. folder:PATH).",
    )
    p.add_argument("spec", metavar="SPEC", nargs="?", default=None, help="a dataset spec to describe")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_datasets)


def _shape(info: Any) -> str:
    shape = info.image_shape
    return format_shape(shape) if shape else "?"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _as_dict(info: Any) -> dict[str, Any]:
    return asdict(info) if is_dataclass(info) else dict(vars(info))


def cmd_datasets(args: argparse.Namespace) -> int:
    from cnn_tui.core import data

    infos = [data.dataset_info(args.spec)] if args.spec else list(data.list_datasets())
    if args.format == "json":
        out(json.dumps([_as_dict(i) for i in infos], indent=2, default=str))
        return OK
    rows = []
    for info in infos:
        where = info.location if info.available_offline else (info.hint or info.location)
        rows.append(
            [
                info.name,
                _shape(info),
                info.num_classes if info.num_classes is not None else "?",
                _count(info.train_count),
                _count(info.test_count),
                "yes" if info.available_offline else "no",
                " ".join(str(where or "").split()),
            ]
        )
    out(
        columns(
            ["NAME", "SHAPE", "CLASSES", "TRAIN", "TEST", "OFFLINE", "LOCATION / HINT"],
            rows,
            right=[False, False, True, True, True, False, False],
        )
    )
    return OK
