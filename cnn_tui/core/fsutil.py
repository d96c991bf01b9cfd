"""Small file-system helpers shared by the core: atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def atomic_write_with(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Have ``write(tmp)`` make the file, then rename it over ``path``, so that readers see
    the old or the new file, never half of one (``os.replace`` is atomic on POSIX and Windows).

    The temporary file is unique, in the same folder, and keeps ``path``'s suffix, which
    numpy and Keras check when they write it. On any failure (a full disk) it is removed, so
    it takes no more space. Returns ``path``.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def remove_stale_temps(folder: str | os.PathLike) -> list[str]:
    """Delete the temporary files :func:`atomic_write_with` leaves when its process is killed
    mid-write (``.<stem>.<random>.tmp<suffix>``); only call it on a folder no live process is
    writing. Returns the names removed."""
    removed = []
    for tmp in Path(folder).glob(".*.*.tmp*"):
        if tmp.is_file():
            try:
                tmp.unlink()
                removed.append(tmp.name)
            except OSError:
                pass
    return removed


def write_text_synced(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, flushed and fsynced."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically, flushed and fsynced before the rename."""
    atomic_write_with(path, lambda tmp: write_text_synced(tmp, text))


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (see :func:`atomic_write_text`)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays, Paths: the only non-JSON types the core writes.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_output(path: str | os.PathLike, write: Callable[[Path], None], *, force: bool = False) -> Path:
    """Write a file the user named (an export, a figure) with ``write(tmp)``, atomically.

    Refuses, with one :class:`~cnn_tui.core.errors.RunStoreError` line, a folder, an
    existing file unless ``force``, and a place that cannot be written. Returns the path.
    """
    from cnn_tui.core.errors import RunStoreError

    target = Path(path).expanduser()
    if target.is_dir():
        raise RunStoreError(f"{target}: is a folder, expected a file name")
    if target.exists() and not force:
        raise RunStoreError(f"{target}: file exists (use --force to overwrite)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_with(target, write)
    except OSError as exc:
        raise RunStoreError(f"{target}: cannot write ({exc.strerror or exc})") from None
    return target


def type_problem(data: dict[str, Any], types: dict[str, tuple[type, ...]]) -> str | None:
    """The first key of ``data`` whose value is not None and not of its ``types`` (bools are
    not ints here), as ``key = value should be type``; None when all are right."""
    for key, allowed in types.items():
        value = data.get(key)
        if value is not None and (not isinstance(value, allowed) or isinstance(value, bool)):
            return f"{key} = {value!r} should be {allowed[0].__name__}"
    return None
