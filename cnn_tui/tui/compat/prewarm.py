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

:func:`prewarm_screen` does the same for a screen that is pushed rather than switched to
(the Results screen of the latest run: its first r was 0.3-0.5 s of stylesheet re-parse,
compose, mount and layout), and also lays it out at the app's size, so that showing it
is a repaint. Besides the two above it uses ``App._get_screen``, ``App._load_screen_css``
and ``Screen._refresh_layout``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cnn_tui.tui.compat.app import on_a_stack

PAUSE_SECONDS = 0.05
"""Event loop time left free between two screens (keys, timers, a frame)."""
LAYOUT_PASSES = 4
SETTLE_SECONDS = 5.0
"""How long :func:`prewarm_screen` waits for the screen's own workers before its layout."""


def loop_time() -> float:
    return asyncio.get_running_loop().time()


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


async def prewarm_screen(app: Any, screen: Any) -> bool:
    """Compose, mount, style and lay out ``screen`` (installed or not, on no stack)
    without showing it; False when Textual's internals are not the expected ones or the
    screen already runs."""
    get_screen = getattr(app, "_get_screen", None)
    load_css = getattr(app, "_load_screen_css", None)
    if get_screen is None or load_css is None or screen.is_running or not app.is_running:
        return False
    # A screen class's own CSS file is added to the stylesheet (and everything restyled)
    # when the screen is first pushed: do it now.
    load_css(screen)
    await asyncio.sleep(PAUSE_SECONDS)
    if not app.is_running:
        return False
    _, await_mount = get_screen(screen)
    await await_mount
    mark_styled(app, screen)
    # Let it load what it loads in its workers (their results change the layout).
    end = loop_time() + SETTLE_SECONDS
    while loop_time() < end and app.is_running:
        await asyncio.sleep(PAUSE_SECONDS)
        if not any(worker.node is screen and not worker.is_finished for worker in app.workers):
            break
    await asyncio.sleep(PAUSE_SECONDS)
    # Lay it out at the terminal's size unless it was shown meanwhile (it then was): a
    # first pass sends Resize events, to which widgets answer with more layout requests,
    # so repeat while there are some. Then draw it once, so that its widgets keep their
    # rendered lines for when it is shown.
    for _ in range(LAYOUT_PASSES):
        if not (screen.is_mounted and app.is_running) or on_a_stack(app, screen) or not hasattr(screen, "_layout_widgets"):
            break
        screen._refresh_layout(app.size)
        screen._layout_required = False
        await asyncio.sleep(PAUSE_SECONDS)
        if not screen._layout_widgets:
            break
    if screen.is_mounted and app.is_running and not on_a_stack(app, screen) and hasattr(screen, "_compositor"):
        screen._compositor.render_update(full=True, screen_stack=[])
    return True
