"""The public entry points: resolve a ``data.dataset`` spec to its source."""

from __future__ import annotations

import os
from typing import Any

from cnn_tui.core.errors import DataError

from .arrays import arrays_info, load_arrays
from .builtin import BUILTINS, builtin_info, load_builtin
from .folder import folder_info, load_folder
from .split import check_image_size
from .types import Dataset, DatasetInfo

ALLOWED = [*BUILTINS, "folder:PATH", "arrays:PATH"]


def parse_spec(spec: str) -> tuple[str, str]:
    """``("builtin", name)``, ``("folder", path)`` or ``("arrays", path)``; DataError otherwise."""
    s = str(spec).strip()
    if s in BUILTINS:
        return "builtin", s
    for kind in ("folder", "arrays"):
        if s.startswith(kind + ":"):
            return kind, s[len(kind) + 1 :].strip()
    raise DataError(f"data.dataset = {spec!r}: unknown dataset (allowed: {', '.join(ALLOWED)})")


def _data_cfg(cfg: Any) -> Any:
    # Accept an ExperimentConfig too (its .data section).
    if cfg is not None and not hasattr(cfg, "dataset") and hasattr(cfg, "data"):
        return cfg.data
    return cfg


# The last dataset loaded and what it was loaded from, while keep_last_dataset() is on.
_kept: dict[str, Any] = {"on": False, "key": None, "dataset": None}


def keep_last_dataset(on: bool = True) -> None:
    """Let :func:`load_dataset` keep the dataset it loaded last in this process and hand
    the same object back when asked again for an equal data config whose source looks
    unchanged: the same modification time, size and inode of the ``arrays:`` file or the
    ``folder:`` folder itself (not of the files below it), the same ``CNN_TUI_DATA`` and
    ``KERAS_HOME`` for a built-in. For the worker processes of a study, which train one
    trial after another on the same data and end with it; the datasets are never modified
    after loading. ``on=False`` drops what was kept; turning it on again while it is on
    keeps it (a Ray task turns it on at the start of each trial of its worker process)."""
    if not on or not _kept["on"]:
        _kept.update(key=None, dataset=None)
    _kept["on"] = bool(on)


def _source_key(cfg: Any, kind: str, arg: str) -> str | None:
    """What a loaded dataset depends on (None: do not keep it)."""
    dump = getattr(cfg, "model_dump_json", None)
    if dump is None:
        return None
    if kind == "builtin":
        stamp: Any = [os.environ.get("CNN_TUI_DATA"), os.environ.get("KERAS_HOME")]
    else:
        try:
            st = os.stat(os.path.expanduser(arg))
        except OSError:
            return None
        stamp = [st.st_mtime_ns, st.st_size, st.st_ino]
    return f"{dump()}|{stamp}"


def load_dataset(cfg: Any) -> Dataset:
    """Load and split the dataset that ``cfg`` (a DataConfig) names. Raises DataError.
    See :func:`keep_last_dataset` for the reuse of the last one in a study's workers."""
    cfg = _data_cfg(cfg)
    kind, arg = parse_spec(cfg.dataset)
    key = _source_key(cfg, kind, arg) if _kept["on"] else None
    if key is not None and key == _kept["key"]:
        return _kept["dataset"]
    dataset = _load(cfg, kind, arg)
    if key is not None:
        _kept.update(key=key, dataset=dataset)
    return dataset


def _load(cfg: Any, kind: str, arg: str) -> Dataset:
    check_image_size(cfg.image_size)
    spec = str(cfg.dataset).strip()
    if kind == "builtin":
        return load_builtin(arg, cfg)
    if kind == "folder":
        return load_folder(spec, arg, cfg)
    return load_arrays(spec, arg, cfg)


def dataset_info(spec: str, cfg: Any = None) -> DatasetInfo:
    """Cheap facts about a dataset (no full load); ``cfg`` refines split counts and shapes."""
    cfg = _data_cfg(cfg)
    kind, arg = parse_spec(spec)
    if kind == "builtin":
        return builtin_info(arg, cfg)
    if kind == "folder":
        return folder_info(str(spec).strip(), arg, cfg)
    return arrays_info(str(spec).strip(), arg, cfg)


def check_dataset(cfg: Any) -> DatasetInfo:
    """:func:`dataset_info` of ``cfg`` (a DataConfig), strict: what it reports as a problem
    -- no such folder or file, no class folders, no images, no readable image, one class,
    unreadable arrays -- raises DataError with its one-line reason. As cheap (no image is
    decoded, no array but the labels read). A built-in that is not on disk yet is no
    error: training downloads it."""
    cfg = _data_cfg(cfg)
    kind, _ = parse_spec(cfg.dataset)
    info = dataset_info(cfg.dataset, cfg)
    if kind != "builtin" and not info.available_offline:
        spec = str(cfg.dataset).strip()
        hint = info.hint or "cannot be read"
        raise DataError(hint if hint.startswith(spec) else f"{spec}: {hint}")
    return info


def list_datasets() -> list[DatasetInfo]:
    """Facts about the five built-in datasets."""
    return [builtin_info(name) for name in BUILTINS]
