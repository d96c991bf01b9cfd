"""The environment of a real `python -m cnn_tui ...` process in the tests: this checkout on
the path, and the runs, presets and Keras folders inside the test's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cli_env(tmp_path: Path, *, pythonpath: tuple[Path, ...] = (), **extra: str) -> dict[str, str]:
    """``os.environ`` plus PYTHONPATH (the checkout, then ``pythonpath``), CNN_TUI_RUNS_DIR,
    CNN_TUI_PRESETS_DIR and KERAS_HOME under ``tmp_path``, plus ``extra``."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(str(p) for p in (REPO, *pythonpath)),
        CNN_TUI_RUNS_DIR=str(tmp_path / "runs"),
        CNN_TUI_PRESETS_DIR=str(tmp_path / "presets"),
        KERAS_HOME=str(tmp_path / "keras"),
        **extra,
    )
    return env
