"""Full garbage collections at moments when nobody is waiting for the screen.

A full (generation 2) collection walks every container object the program keeps: in this
app, with TensorFlow frozen out of its sight (``gc.freeze`` after the import), that is
still ~150k Textual objects (widgets, styles, render caches) and 0.15-0.25 s with the GIL
held on a small machine. Python starts one whenever enough objects have survived the
young collections, which in a TUI repainting several times a second is every second or
two -- so it often landed between a key press and the frame that answers it.

:class:`QuietCollector` switches the automatic full collections off (the young ones stay
as they are) and runs them from a timer instead: when there was no input for
:data:`QUIET_SECONDS` (at most every :data:`MIN_INTERVAL`), and in any case every
:data:`MAX_INTERVAL`, so cyclic garbage stays bounded.

Start-up is the other moment: importing Textual and building the Setup
screen allocates ~90k long-lived objects, and the young collections that allocation
triggers walked them again and again (~0.08 s of the imports alone here).
:func:`pause_for_startup` switches collection off before those imports (the ``cnn-tui``
launcher calls it) and :func:`end_startup_pause` switches it back on once the first frame
is painted; the cyclic garbage of start-up (~18k objects) is collected by the first
collection after that. No Textual import here.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET_SECONDS = 1.0
"""No key or mouse input for this long: the user is not waiting for a frame."""
MIN_INTERVAL = 10.0
"""Seconds between two full collections made while the user is quiet."""
MAX_INTERVAL = 60.0
"""A full collection at least this often, quiet or not -- and no more often while a run
trains (see :attr:`QuietCollector.busy`)."""
NEVER = 1_000_000_000
"""A generation-2 threshold the young collections never reach."""


_startup_paused = False


def pause_for_startup() -> bool:
    """Switch garbage collection off until :func:`end_startup_pause` (returns whether it
    did: not when collection was already off)."""
    global _startup_paused
    if _startup_paused or not gc.isenabled():
        return False
    gc.disable()
    _startup_paused = True
    return True


def end_startup_pause() -> bool:
    """Switch collection back on if :func:`pause_for_startup` switched it off (returns
    whether it did); harmless to call more than once or without a pause."""
    global _startup_paused
    if not _startup_paused:
        return False
    _startup_paused = False
    gc.enable()
    return True


class QuietCollector:
    """Runs full garbage collections between the user's keys, not during them.

    Call :meth:`start` once, :meth:`input` on every input event, :meth:`tick` from a
    timer (about once a second) and :meth:`stop` at the end (restores the thresholds).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], object] = gc.collect,
    ) -> None:
        self._clock = clock
        self._collect = collect
        self._saved: tuple[int, ...] | None = None
        now = clock()
        self.last_input = now
        self.last_full = now
        self.collections = 0
        """Full collections made by this collector."""
        self.busy: Callable[[], bool] = lambda: False
        """True while training runs: a full collection holds the GIL for 0.1-0.2 s here,
        time the training thread waits; then only :data:`MAX_INTERVAL` applies."""

    def start(self) -> None:
        if self._saved is None:
            self._saved = gc.get_threshold()
            young, middle = self._saved[0], self._saved[1]
            gc.set_threshold(young, middle, NEVER)

    def stop(self) -> None:
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None

    def input(self) -> None:
        """The user did something: hold the next collection until they are quiet."""
        self.last_input = self._clock()

    def tick(self) -> bool:
        """Collect if it is time (quiet and due, or overdue); returns whether it did."""
        now = self._clock()
        since = now - self.last_full
        quiet = now - self.last_input >= QUIET_SECONDS
        if since >= MAX_INTERVAL or (quiet and since >= MIN_INTERVAL and not self.busy()):
            self._collect()
            self.collections += 1
            self.last_full = self._clock()
            return True
        return False
