"""Textual's Footer without its leak of footer keys.

Each time the bindings change (every screen switch, focus change or relabelled key),
Textual's ``Footer`` recomposes: it removes its ``FooterKey`` widgets and makes new ones,
each ``data_bind``-ing its ``compact`` to the footer. The binding registers a watcher on
the footer that Textual prunes only when ``compact`` changes, which it never does in this
app; so every recompose left ~15 dead widgets (with their styles, caches and strips)
reachable for the life of the app: ~130 per cycle of screen switches, each making every
full garbage collection slower. This footer drops the watchers of closed widgets before
it composes again (:func:`cnn_tui.tui.compat.widgets.prune_closed_watchers`), and starts
the new keys in the footer's style (see compose).

It also fits its width: nothing of the last keys (q Quit, ? Help) is cut off at the right
edge as Textual's footer does. Below :data:`COMPACT_BELOW` columns it takes Textual's compact
style; when the keys still do not fit, labels are cut to their first word, then the least
important keys are left out (:func:`plan_footer`); a resize across such a step composes it
again, any other resize does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.dom import DOMNode
from textual.widgets import Footer as TextualFooter

from cnn_tui.tui.compat.widgets import FooterKey, prune_closed_watchers

__all__ = ["COMPACT_BELOW", "Footer", "FooterKey", "FooterPlan", "plan_footer"]


COMPACT_BELOW = 120
"""Below this many columns the footer uses Textual's compact style (less padding)."""

ACTION_TIERS = {
    "quit": 0, "help": 0,
    "train": 1, "stop": 1, "pause": 1, "back": 1, "open_run": 1, "skip_trial": 1, "cancel_study": 1,
    "results": 2, "runs": 2, "experiment": 2,
    "setup": 4, "training": 4, "reload": 4, "refresh": 4,
}
"""Which keys a footer too narrow for all of them keeps first (lower first); the screen's
other keys are tier 3, in the order they are declared, then the command palette's. Keys
left out still work, and help (?) and the palette (ctrl+p) list them."""
SCREEN_TIER = 3
PALETTE_TIER = (SCREEN_TIER, 10_000)


def key_width(key_display: str, description: str, compact: bool) -> int:
    """Columns a FooterKey takes, with its margin (Textual's FooterKey and Footer CSS)."""
    if compact:  # key without padding, " description", margin-right 1
        return cell_len(key_display) + (1 + cell_len(description) if description else 0) + 1
    return 1 + cell_len(key_display) + 1 + (cell_len(description) + 1 if description else 0)


def palette_width(key_display: str, description: str, compact: bool) -> int:
    """Columns of the command palette's key: always compact, docked right after a border
    (and a padding of 1 unless the footer is compact)."""
    return 1 + key_width(key_display, description, True) - 1 + (0 if compact else 1)


def short_label(description: str) -> str:
    """A footer label cut to its first word ("Train digits-quick" -> "Train")."""
    return description.split(" ", 1)[0]


def tier(action: str, position: int) -> tuple[int, int]:
    """Sort key of a footer key: lower keeps its place in a narrow footer first."""
    name = action.rsplit(".", 1)[-1].split("(", 1)[0]
    return (ACTION_TIERS.get(name, SCREEN_TIER), position)


@dataclass(frozen=True)
class FooterPlan:
    """What a footer of some width shows: its style, labels and keys."""

    compact: bool
    short: bool
    shown: frozenset[int]
    """Indexes of the keys shown (the command palette's is -1)."""


def plan_footer(
    keys: list[tuple[str, str, str]], palette: tuple[str, str] | None, width: int
) -> FooterPlan:
    """Fit ``keys`` ((key_display, description, action), in footer order) and the command
    palette's key into ``width`` columns: compact style below :data:`COMPACT_BELOW`; first
    labels then cut to their first word when they do not all fit; then the keys of the
    lowest tiers left out until they do (a lower one that fits in what is left stays)."""
    compact = width < COMPACT_BELOW
    for short in (False, True):
        widths = {i: key_width(k, short_label(d) if short else d, compact) for i, (k, d, _) in enumerate(keys)}
        if palette is not None:
            widths[-1] = palette_width(*palette, compact)
        if sum(widths.values()) <= width:
            return FooterPlan(compact, short, frozenset(widths))
    # Still too wide with short labels (``widths`` are theirs): keep the best ranked that fit.
    ranks = {i: tier(a, i) for i, (_, _, a) in enumerate(keys)}
    if palette is not None:
        ranks[-1] = PALETTE_TIER
    shown, used = set(), 0
    for i in sorted(widths, key=ranks.__getitem__):
        if used + widths[i] <= width:
            shown.add(i)
            used += widths[i]
    return FooterPlan(compact, True, frozenset(shown))


class Footer(TextualFooter):
    """The key bar at the bottom of every screen (Textual's, minus the leak)."""

    _fit: tuple[list[tuple[str, str, str]], tuple[str, str] | None, FooterPlan] | None = None
    """The keys of the last compose, and the plan they were shown with."""

    def compose(self) -> ComposeResult:
        prune_closed_watchers(self)  # the keys of the previous compose are gone by now
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey) and not w.has_class("-command-palette")]
        palettes = [w for w in widgets if isinstance(w, FooterKey) and w.has_class("-command-palette")]
        if len(keys) + len(palettes) != len(widgets):  # binding groups: not fitted
            self._fit = None
            yield from (self._styled(w) for w in widgets)
            return
        info = [(w.key_display, w.description, w.action) for w in keys]
        palette = (palettes[0].key_display, palettes[0].description) if palettes else None
        plan = plan_footer(info, palette, self.size.width or self.app.size.width)
        self._fit = (info, palette, plan)
        if plan.compact != self.compact:
            self.set_reactive(TextualFooter.compact, plan.compact)
            self.set_class(plan.compact, "-compact")
        for i, widget in enumerate(keys):
            if i not in plan.shown:
                continue  # never mounted: no data binding, nothing to prune
            short = short_label(widget.description)
            if plan.short and short != widget.description:
                if not widget.tooltip:
                    widget.tooltip = widget.description
                widget.description = short
            yield self._styled(widget)
        if palettes and -1 in plan.shown:
            yield palettes[0]

    def _styled(self, widget: DOMNode) -> DOMNode:
        if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
            # A key starts compact (its own default) and is data-bound to the footer's
            # non-compact style only once mounted: a class change that restyled every
            # key again on every screen switch. Start it as the footer is. (The
            # command palette's key is not bound: it stays compact.)
            widget.set_reactive(FooterKey.compact, self.compact)
            widget.set_class(self.compact, "-compact", update=False)
        return widget

    def on_resize(self, event: events.Resize) -> None:
        if self._fit is None:
            return
        info, palette, plan = self._fit
        if plan_footer(info, palette, event.size.width) != plan:
            self.call_after_refresh(self.recompose)
