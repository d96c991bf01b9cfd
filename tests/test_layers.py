"""The layer contracts of pyproject.toml's [tool.importlinter] hold (lint-imports), and they
bite: a copy of the package where core imports the app, or where results import the engine,
breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("importlinter", reason="import-linter is in the test extra")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_layer_contracts_hold() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


def test_a_core_module_importing_the_app_breaks_them(tmp_path: Path) -> None:
    shutil.copytree(REPO / "cnn_tui", tmp_path / "cnn_tui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    fsutil = tmp_path / "cnn_tui" / "core" / "fsutil.py"
    fsutil.write_text(fsutil.read_text() + "\nimport textual  # noqa\nfrom cnn_tui.tui import app  # noqa\n")
    stats = tmp_path / "cnn_tui" / "core" / "results" / "stats.py"
    stats.write_text(stats.read_text() + "\nfrom cnn_tui.core.engine import trainer  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "cnn_tui.core.fsutil -> textual" in result.stdout
    assert "cnn_tui.core.fsutil -> cnn_tui.tui.app" in result.stdout
    assert "cnn_tui.core.results.stats -> cnn_tui.core.engine.trainer" in result.stdout  # results sit below the engine
