"""``cnn-tui presets list|show|save``: built-in and user presets."""

from __future__ import annotations

import argparse
import shutil
import sys

from cnn_tui.cli.common import OK, CliError, add_overrides, columns, info, out, resolve_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("presets", help="list, show or save presets", description="Experiment presets.")
    sub = p.add_subparsers(dest="presets_command", metavar="ACTION")
    p.set_defaults(func=cmd_list)  # bare `cnn-tui presets` lists

    ls = sub.add_parser("list", help="name, origin and description of every preset")
    ls.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="print a preset's TOML")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--resolved", action="store_true", help="print the full config with every default filled in")
    show.set_defaults(func=cmd_show)

    save = sub.add_parser("save", help="save a config as a user preset")
    save.add_argument("name", metavar="NAME")
    save.add_argument("--from", dest="spec", metavar="SPEC", required=True, help="preset name or TOML file to start from")
    add_overrides(save)
    save.add_argument("--force", action="store_true", help="replace an existing user preset")
    save.set_defaults(func=cmd_save)


def cmd_list(args: argparse.Namespace) -> int:
    from cnn_tui.core import presets

    rows = [
        [p.name, "builtin" if p.builtin else "user", " ".join((p.description or "").split())]
        for p in presets.list_presets()
    ]
    if not rows:
        info("no presets found")
        return OK
    if sys.stdout.isatty():  # one line per preset on a terminal; full text when piped
        width = shutil.get_terminal_size((100, 24)).columns
        used = max(len(r[0]) for r in rows) + max(len("ORIGIN"), *(len(r[1]) for r in rows)) + 4
        room = max(20, width - used - 1)
        for r in rows:
            if len(r[2]) > room:
                r[2] = r[2][: room - 3].rstrip() + "..."
    out(columns(["NAME", "ORIGIN", "DESCRIPTION"], rows))
    return OK


def cmd_show(args: argparse.Namespace) -> int:
    from cnn_tui.core import presets
    from cnn_tui.core.config import to_toml

    config = presets.load_preset(args.name)  # validates the name and the file
    if not args.resolved:
        for p in presets.list_presets():
            if p.name == args.name:
                try:
                    text = p.path.read_text(encoding="utf-8")
                except OSError:
                    break
                out(text.rstrip("\n"))
                return OK
    out(to_toml(config).rstrip("\n"))
    return OK


def cmd_save(args: argparse.Namespace) -> int:
    from cnn_tui.core import presets

    presets.validate_name(args.name)  # before reading SPEC: a bad name is the first thing to report
    config = resolve_config(args.spec, args.overrides)
    existing = presets.user_presets_dir() / f"{args.name}.toml"
    if existing.exists() and not args.force:
        raise CliError(f"user preset {args.name!r} already exists ({existing}); use --force to replace it")
    path = presets.save_preset(args.name, config, overwrite=args.force)
    out(str(path))
    return OK
