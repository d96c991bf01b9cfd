"""Fixtures of the TUI tests: an app wired to a FakeEngine, temp runs and presets folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from fake_engine import FakeEngine

from cnn_tui.tui.app import CnnTuiApp


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def presets_dir(tmp_path: Path) -> Path:
    return tmp_path / "presets"


@pytest.fixture
def make_app(runs_dir: Path, presets_dir: Path) -> Callable[..., CnnTuiApp]:
    """``make_app(engine=None, preset=None, keras_summary=False, auto_results=False)``.

    TensorFlow preloading and the Keras summary are off unless asked for: they cost seconds
    of CPU and most tests are about the app, not about Keras.
    """

    def make(
        engine: Any = None,
        *,
        preset: str | None = None,
        keras_summary: bool = False,
        preload_tf: bool = False,
        auto_results: bool = False,
    ) -> CnnTuiApp:
        app = CnnTuiApp(
            runs_dir=runs_dir, preset=preset, engine=engine or FakeEngine(), user_presets_dir=presets_dir
        )
        app.KERAS_SUMMARY = keras_summary
        app.PRELOAD_TF = preload_tf
        app.AUTO_OPEN_RESULTS = auto_results
        return app

    return make
