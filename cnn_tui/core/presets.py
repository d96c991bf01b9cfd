"""Presets: named experiment configs, built in (the repo's presets/ folder, shipped in the
wheel as cnn_tui/_presets) or saved by the user (one TOML file per preset).

Names are restricted to ``[a-z0-9][a-z0-9_-]{0,63}`` so a name can never be a path. User
presets cannot take a built-in's name, so a name always means the same thing.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import cnn_tui
from cnn_tui.core.config import ExperimentConfig, load_config, save_config
from cnn_tui.core.errors import ConfigError, PresetError

DEFAULT_PRESET = "digits-quick"

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NAME_RULE = "1-64 characters: lowercase letters, digits, '-' or '_', starting with a letter or digit"


@dataclass(frozen=True)
class PresetInfo:
    name: str
    description: str
    builtin: bool
    path: Path


def builtin_presets_dir() -> Path:
    """cnn_tui/_presets in an installed wheel, else the repo's presets/ next to the package."""
    package = Path(cnn_tui.__file__).resolve().parent
    shipped = package / "_presets"
    return shipped if shipped.is_dir() else package.parent / "presets"


def user_presets_dir() -> Path:
    """$CNN_TUI_PRESETS_DIR, else $XDG_CONFIG_HOME/cnn-tui/presets, else ~/.config/cnn-tui/presets."""
    env = os.environ.get("CNN_TUI_PRESETS_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "cnn-tui" / "presets"


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid preset name, else raise :class:`PresetError`."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise PresetError(f"preset name {name!r} is invalid: use {NAME_RULE}")
    return name


def _names_in(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.toml")) if _NAME_RE.match(p.stem) and p.is_file()}


def _description(path: Path) -> str:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return f"(unreadable: {exc})"
    desc = data.get("description", "")
    return desc if isinstance(desc, str) else ""


def _user_dir(user_dir) -> Path:
    return Path(user_dir) if user_dir is not None else user_presets_dir()


def list_presets(user_dir=None) -> list[PresetInfo]:
    """Built-in presets (sorted by name), then the user's (built-in names win)."""
    builtins = _names_in(builtin_presets_dir())
    out = [PresetInfo(n, _description(p), True, p) for n, p in sorted(builtins.items())]
    for n, p in sorted(_names_in(_user_dir(user_dir)).items()):
        if n not in builtins:
            out.append(PresetInfo(n, _description(p), False, p))
    return out


def _find(name: str, user_dir) -> Path:
    validate_name(name)
    builtins = _names_in(builtin_presets_dir())
    if name in builtins:
        return builtins[name]
    users = _names_in(_user_dir(user_dir))
    if name in users:
        return users[name]
    known = sorted(set(builtins) | set(users))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise PresetError(f"unknown preset {name!r}{hint}; see `cnn-tui presets list`")


def load_preset(name: str, user_dir=None) -> ExperimentConfig:
    """The config of a built-in or user preset; PresetError for unknown or invalid names."""
    path = _find(name, user_dir)
    try:
        return load_config(path)
    except ConfigError as exc:
        raise PresetError(f"preset {name!r} is invalid: {exc}") from None


def resolve_spec(spec: str, user_dir=None) -> ExperimentConfig:
    """A TOML path (contains a path separator or ends in .toml) or a preset name."""
    if "/" in spec or os.sep in spec or (os.altsep and os.altsep in spec) or spec.endswith(".toml"):
        return load_config(spec)
    return load_preset(spec, user_dir)


def check_save(name: str, user_dir=None, *, overwrite: bool = False) -> Path:
    """The file user preset ``name`` would be saved to; PresetError (one line) when it may
    not: an invalid name, a built-in's name, an existing user preset without ``overwrite``."""
    validate_name(name)
    if name in _names_in(builtin_presets_dir()):
        raise PresetError(f"preset name {name!r} is taken by a built-in preset; choose another name")
    path = _user_dir(user_dir) / f"{name}.toml"
    if path.exists() and not overwrite:
        raise PresetError(f"user preset {name!r} already exists ({path}); pass overwrite to replace it")
    return path


def save_preset(name: str, config: ExperimentConfig, user_dir=None, *, overwrite: bool = False) -> Path:
    """Save ``config`` as user preset ``name`` (its ``name`` field set to the preset name).

    Refuses a built-in's name, and an existing user preset unless ``overwrite``.
    """
    path = check_save(name, user_dir, overwrite=overwrite)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_config(config.model_copy(update={"name": name}), path)
    except OSError as exc:
        raise PresetError(f"cannot save preset {name!r} to {path}: {exc.strerror or exc}") from None
    return path
