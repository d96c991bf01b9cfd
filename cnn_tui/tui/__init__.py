"""The Textual front end of cnn-tui (imported only when the TUI starts)."""

from __future__ import annotations

from typing import Any

__all__ = ["CnnTuiApp", "run"]


def __getattr__(name: str) -> Any:
    if name == "CnnTuiApp":
        from cnn_tui.tui.app import CnnTuiApp

        return CnnTuiApp
    raise AttributeError(name)


def run(**kwargs: Any) -> None:
    """Run the app (keyword arguments as :class:`CnnTuiApp`)."""
    from cnn_tui.tui.app import CnnTuiApp

    CnnTuiApp(**kwargs).run()
