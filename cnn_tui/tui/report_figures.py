"""The ``F`` key of the Results, Runs and Experiment screens: report figures as PNG files
next to the exported tables (``<runs>/export-<yyyymmdd-hhmmss>-<kind>.png``).

The drawing is :func:`cnn_tui.core.results.figures.write_all` (the CLI's ``plot --kind
all``), run in a thread worker on the App, so the screen stays responsive and leaving it
does not cancel the writing; matplotlib is imported there, never at the app's start. The
worker tells where the files went with a notification (``App.notify`` only posts a
message, so it is safe from a thread).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from textual.binding import Binding

from cnn_tui.tui.dialogs.export import default_export_path

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App
    from textual.worker import Worker

    from cnn_tui.core.results.store import RunInfo

FIGURES_KEY = "F"
FIGURES_BINDING = Binding(FIGURES_KEY, "figures", "Figures")
GROUP = "report-figures"


def figures_path(runs_dir: str | os.PathLike, now: datetime | None = None) -> Path:
    """``<runs>/export-<stamp>.png``: the name an exported table would get, as a PNG; each
    figure adds its kind (``-curves``, ``-confusion`` ...). A second press within the same
    second gets ``export-<stamp>-2.png`` (the stamp alone would collide: "file exists")."""
    base = default_export_path(Path(runs_dir), "md", now).with_suffix(".png")
    path, n = base, 1
    while any(path.parent.glob(f"{path.stem}-*{path.suffix}")) if path.parent.is_dir() else False:
        n += 1
        path = base.with_name(f"{base.stem}-{n}{base.suffix}")
    return path


def write_figures(app: App, runs_dir: str | os.PathLike, *, runs: Sequence[RunInfo] = (),
                  experiment: str | os.PathLike | None = None, what: str = "") -> Worker:
    """Start writing every figure of ``runs`` or ``experiment`` in a thread worker on ``app``;
    a notification says which files were written (or why none)."""
    target = figures_path(runs_dir)
    runs = list(runs)

    def work() -> list[Path]:
        from cnn_tui.core.results.figures import write_all
        from cnn_tui.tui.results import error_text

        try:
            written, skipped = write_all(target, runs=runs, experiment=experiment)
        except Exception as exc:  # noqa: BLE001 - a notification, never a crash
            app.notify(error_text(exc), severity="error", title="Figures")
            return []
        lines = [f"Wrote {len(written)} figure(s){f' of {what}' if what else ''} to {target.parent}:",
                 *(p.name for p in written), *(f"skipped {reason}" for reason in skipped)]
        app.notify("\n".join(lines), title="Figures", markup=False, timeout=10)
        return written

    app.notify(f"Drawing figures{f' of {what}' if what else ''}…", title="Figures", timeout=3)
    return app.run_worker(work, thread=True, group=GROUP, exit_on_error=False, name="figures")
