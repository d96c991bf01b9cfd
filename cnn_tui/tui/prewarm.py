"""Build the Training and Runs screens in the background, so their first visit is a switch.

Textual builds a mode's screen on its first ``switch_mode``: it composes and mounts the
widgets, and re-parses the app's whole stylesheet and restyles every node
(``App.refresh_css``) because the new screen has not been styled yet. On a 2-core machine
that made the first press of t take 0.7-1.0 s and of u 0.3-0.4 s. Worse, in Textual 8.2
that refresh runs before the new screen is mounted, so the screen never records it was
styled and the *second* visit pays the full re-parse again (0.15-0.35 s).

:func:`prewarm_modes` does the same work once, after start-up, one screen at a time with
the event loop free in between (so a key pressed meanwhile is handled at once), and
records the screens as styled. It uses two private parts of Textual (``App._init_mode``
and ``Screen._css_update_count``); if they change, it does nothing and the screens are
built on first visit as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

PAUSE_SECONDS = 0.05
"""Event loop time left free between two screens (keys, timers, a frame)."""


def mark_styled(app: Any, screen: Any) -> None:
    """Record that ``screen`` (mounted) was styled with the app's current stylesheet, so
    switching to it does not re-parse and restyle everything again."""
    if screen.is_mounted and hasattr(screen, "_css_update_count"):
        screen._css_update_count = app._css_update_count


async def prewarm_mode(app: Any, mode: str) -> bool:
    """Compose and mount ``mode``'s base screen without showing it; False when the mode
    already has its screen (visited) or Textual's internals are not the expected ones."""
    stacks = getattr(app, "_screen_stacks", None)
    init_mode = getattr(app, "_init_mode", None)
    if stacks is None or init_mode is None or mode in stacks or mode == app.current_mode:
        return False
    await init_mode(mode)
    stack = stacks.get(mode)
    if stack:
        mark_styled(app, stack[0])
    return True


async def prewarm_modes(app: Any, modes: list[str]) -> list[str]:
    """Pre-build each of ``modes`` in turn; returns those built."""
    built = []
    for mode in modes:
        await asyncio.sleep(PAUSE_SECONDS)
        if not app.is_running:
            break
        if await prewarm_mode(app, mode):
            built.append(mode)
    return built
