"""Layering: the core never imports Textual, and nothing imports TensorFlow at import time.

Each check runs in a fresh interpreter, so modules imported by other tests don't count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "cnn_tui" / "core"
HEAVY = ("tensorflow", "keras", "textual", "matplotlib", "scipy", "ray")


def _core_modules() -> list[str]:
    """Every module under cnn_tui/core, packages with or without __init__.py."""
    names = []
    for path in sorted(CORE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def _loaded_after(imports: list[str]) -> dict[str, list[str]]:
    """For each module name: the heavy modules present in sys.modules after importing it
    (cumulatively, in order), run in one fresh interpreter."""
    script = (
        "import importlib, json, sys\n"
        f"heavy = {HEAVY!r}\n"
        "out = {}\n"
        f"for name in {imports!r}:\n"
        "    importlib.import_module(name)\n"
        "    out[name] = [h for h in heavy if h in sys.modules]\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_front_door_imports_stay_light() -> None:
    names = ["cnn_tui", "cnn_tui.cli", "cnn_tui.core.config", "cnn_tui.core.results.store", "cnn_tui.core.engine.events"]
    loaded = _loaded_after(names)
    assert loaded[names[-1]] == [], loaded


def test_cli_import_does_not_load_the_core_stack() -> None:
    script = "import sys, cnn_tui.cli; print(sorted(m for m in ('pydantic', 'numpy', 'sklearn', 'tensorflow', 'textual', 'matplotlib', 'scipy', 'ray') if m in sys.modules))"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_core_modules_found() -> None:
    modules = _core_modules()
    assert "cnn_tui.core.config" in modules and "cnn_tui.core.results.table" in modules


def test_no_core_module_imports_textual_or_tensorflow() -> None:
    # All modules in one interpreter, in order: the first module after which a heavy
    # module is present is the one whose import pulled it in.
    modules = _core_modules()
    loaded = _loaded_after(modules)
    for heavy in ("textual", "tensorflow", "keras", "matplotlib", "scipy", "ray"):
        offenders = [name for name in modules if heavy in loaded[name]]
        assert not offenders, f"importing {offenders[0]} loads {heavy}"
