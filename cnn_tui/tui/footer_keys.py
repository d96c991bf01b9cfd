"""Which of the App's keys the footer shows, and their labels ("Train digits-quick", "Resume").

The App asks these from its ``check_action`` and ``refresh_train_label``; they read the
session's state (:mod:`cnn_tui.tui.session`) and the screen stacks, and relabel a binding
through :mod:`cnn_tui.tui.compat.app` (Textual keeps an app's bindings privately).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnn_tui.tui.compat.app import relabel_binding, screen_stacks

if TYPE_CHECKING:
    from cnn_tui.tui.app import CnnTuiApp


def action_state(app: CnnTuiApp, action: str) -> bool | None:
    """``App.check_action``: True shown, None shown disabled, False hidden."""
    session = app.session
    if action == "experiment":
        return session.study is not None
    if action in ("stop", "pause"):
        return session.active
    if action == "train":
        return None if session.active else True
    if action in ("setup", "training", "runs") and on_base_screen(app, action):
        return False  # already there: keep the key off the footer (it overflowed at 120 columns)
    return True


def on_base_screen(app: CnnTuiApp, mode: str) -> bool:
    """Whether ``mode``'s own screen is the one shown (nothing pushed over it)."""
    return app.current_mode == mode and len(app.screen_stack) == 1


def train_target(app: CnnTuiApp) -> str:
    """What F5 trains: the Setup screen's preset (or its config's name)."""
    try:
        screen = app.setup_screen
    except (KeyError, IndexError):
        return "the preset"
    return screen.preset_name or (screen.config.name if screen.config else "the preset")


def refresh_labels(app: CnnTuiApp) -> None:
    """Footer labels are the Bindings' descriptions: F5 names the preset, p says Resume while paused."""
    if not screen_stacks(app).get(app.current_mode):
        return  # the app is shutting down (a run that ended during the exit): no footer
    relabel_binding(app, "f5", f"Train {train_target(app)}")
    relabel_binding(app, "p", "Resume" if app.session.paused else "Pause")
    app.refresh_bindings()
