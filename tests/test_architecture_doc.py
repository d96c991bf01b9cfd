"""ARCHITECTURE.md matches the code: every path it names exists, and the README links it."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_path_named_in_architecture_md_exists() -> None:
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:cnn_tui|tests|bench|presets)/[^`\s]*)`", text))
    named |= {f"cnn_tui/tui/widgets/{m}" for m in re.findall(r"`(\w+\.py)`", text)
              if (REPO / "cnn_tui/tui/widgets" / m).exists()}
    assert len(named) > 30, named
    missing = sorted(p for p in named if not (REPO / p.rstrip("/")).exists() and "*" not in p)
    assert missing == []
    assert "ARCHITECTURE.md" in (REPO / "README.md").read_text(encoding="utf-8")


def test_every_core_module_is_mentioned() -> None:
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    unnamed = []
    for path in sorted((REPO / "cnn_tui" / "core").rglob("*.py")):
        if path.name == "__init__.py":
            continue
        if path.name not in text:  # the file name itself: a stem can hide in a prose word (types)
            unnamed.append(str(path.relative_to(REPO)))
    assert unnamed == []
