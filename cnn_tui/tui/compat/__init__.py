"""Every use of Textual's (and plotext's) private parts, in one package.

The app leans on a few internals of Textual for speed (pre-built screens, a lean
``Select``, a footer that does not leak, a log that does not lay the screen out per line)
and for the terminal (the driver's output file). Each of them is here, each override and
patch with a canary in ``tests/tui/test_compat.py`` that fails when the library changes
the thing it patches, and ``pyproject.toml`` pins Textual to the versions those canaries
were run on (:data:`TESTED_TEXTUAL`). Outside this package nothing names a private
Textual attribute (``tests/tui/test_private_names.py`` greps the tree for one).

Modules: :mod:`.app` (the App's overrides and its screen stacks, bindings, update
batch), :mod:`.prewarm` (building screens out of sight), :mod:`.select` (the lean
Select), :mod:`.widgets` (footer keys, watchers, scroll range, driver output),
:mod:`.plotext` (plotext's cell matrix).
"""

TESTED_TEXTUAL = ">=8.2,<8.3"
"""The Textual versions the canaries cover (``pyproject.toml`` pins the same range)."""
TESTED_TEXTUAL_PLOTEXT = ">=1.0,<1.1"
"""The textual-plotext versions whose theme lookup :mod:`.plotext` calls."""
TESTED_PLOTEXT = ">=5.3,<5.4"
"""The plotext versions whose cell matrix :mod:`.plotext` reads."""
