"""Textual's Select, made cheap to create: one widget for the closed line, the list later.

A closed ``Select`` is three widgets deep and its option list is built before it is ever
opened: ~34 ms each to mount, style and paint, seven of them on the Setup screen before
its first paint. :class:`LeanSelect` keeps Textual's ``Select`` -- keys, messages, value
handling and the overlay -- but draws its closed line itself and mounts the overlay the
first time it opens. It overrides private parts of Textual's ``Select``, so it lives in
:mod:`cnn_tui.tui.compat.select` (with its canaries); this is the name the app uses.
"""

from cnn_tui.tui.compat.select import LeanSelect, LeanSelectCurrent

__all__ = ["LeanSelect", "LeanSelectCurrent"]
