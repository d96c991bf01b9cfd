"""Stored runs (:mod:`.store`, :mod:`.run_info`, :mod:`.history`) and report tables (:mod:`.table`).

Names are re-exported lazily so that importing one submodule does not pull in the other.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunStore": "store",
    "RunInfo": "store",
    "RunWriter": "store",
    "resolve_runs_dir": "store",
    "read_history": "history",
    "HISTORY_COLUMNS": "history",
    "Table": "table",
    "FORMATS": "table",
    "METRIC_COLUMNS": "table",
    "runs_table": "table",
    "render": "table",
    "export": "table",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
