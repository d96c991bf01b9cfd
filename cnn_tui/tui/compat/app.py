"""The App's and screens' Textual internals: two overrides and a few reads of private state.

:class:`CompatApp` is the App base with the two overrides (styles of widgets not yet in
the DOM, the screens painted under an opaque one); :class:`FrameHookScreen` tells a
screen when a refresh of its compositor is a frame the terminal really gets. The
functions read or edit the App's private state for the rest of the app: its screen
stacks, its installed screens, its bindings, its update batch.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.screen import Screen

if TYPE_CHECKING:
    from textual.dom import DOMNode


def in_dom(node: DOMNode) -> bool:
    """Whether ``node`` has a parent (is mounted or being mounted somewhere)."""
    return node._parent is not None


class CompatApp(App):
    """Textual's App with two start-up and repaint savings (see each method)."""

    def update_styles(self, node: DOMNode, animate: bool = True) -> None:
        """Restyle ``node`` and its subtree -- unless it is not in the DOM yet.

        Textual restyles a widget whenever a reactive with a toggle class is set, and
        widgets set such reactives in their ``__init__`` (``compact``, a Checkbox's
        ``value``): inside a ``compose`` the app is known, so each control built there was
        styled once before it was mounted and once more when it was. Styles are applied
        to every widget when it is registered (``App._register``), so the early pass is
        wasted: 31 of them on the Setup form, ~40 ms of the first paint here.
        """
        if node is not self and not in_dom(node):
            return
        super().update_styles(node, animate)

    @property
    def _background_screens(self) -> list[Screen]:
        # Textual counts the screen right under the top one as visible even when the top
        # screen is opaque: that screen keeps laying out and painting, and each of its
        # repaints repaints the whole top screen (App.screen.refresh with its dirty
        # regions). Under the Results screen that is the Training screen, whose plots
        # redraw 4 times a second while a run trains: 4 full repaints a second of the
        # Results screen, in the way of its keys. Nothing under an opaque screen shows.
        stack = self._screen_stack
        if stack and stack[-1].styles.background.a >= 1:
            return []
        return super()._background_screens


class FrameHookScreen(Screen):
    """A Screen whose :meth:`frame_refreshed` runs after each refresh of its compositor
    that the terminal gets (none while the app's update batch is open: ``App._display``
    draws nothing then, e.g. inside the app's start-up batch)."""

    def frame_refreshed(self) -> None:
        """Called after a refresh that reached the terminal; nothing by default."""

    def _compositor_refresh(self) -> None:
        super()._compositor_refresh()
        if not in_update_batch(self.app):
            self.frame_refreshed()


def in_update_batch(app: App) -> bool:
    """Whether ``app`` is inside ``batch_update`` (frames are held back)."""
    return bool(app._batch_count)


def screen_stacks(app: App) -> dict[str, list[Screen]]:
    """The app's screen stack of each mode made so far (a mode's is made on its first visit)."""
    return app._screen_stacks


def on_a_stack(app: App, screen: Screen) -> bool:
    """Whether ``screen`` is on a mode's screen stack (shown, or under what is shown)."""
    return any(screen in stack for stack in app._screen_stacks.values())


def drop_installed(app: App, name: str) -> None:
    """Forget the screen installed as ``name`` without uninstalling it (``uninstall_screen``
    refuses a screen that is still on a stack; Textual removes it when it is popped)."""
    app._installed_screens.pop(name, None)


def relabel_binding(app: App, key: str, description: str) -> bool:
    """Give the app's own binding(s) of ``key`` the footer label ``description``; True when
    a label changed (Textual has no public way to change a binding's description)."""
    current: list[Any] | None = app._bindings.key_to_bindings.get(key)
    if not current:
        return False
    new = [dataclasses.replace(b, description=description) for b in current]
    if new == current:
        return False
    app._bindings.key_to_bindings[key] = new
    return True
