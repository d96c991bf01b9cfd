"""Figures for reports: PNG, SVG or PDF (chosen by the file's suffix), drawn with matplotlib.

Only matplotlib's object API is used (``matplotlib.figure.Figure`` and ``savefig``, which
picks the Agg, SVG or PDF backend by format): no pyplot and its global state, so figures
can be drawn from a worker thread while the app runs. matplotlib is imported inside the
functions, never when this module is imported.

Kinds (:data:`RUN_KINDS`, :data:`EXPERIMENT_KINDS`):

- ``curves`` of one run: loss and accuracy, train and validation, and the learning rate;
  of several runs: their curves overlaid, labelled by the config keys that differ;
  of an experiment: each group's mean validation curve with a ± std band.
- ``confusion``: one run's confusion matrix as a heatmap with counts (``normalize``:
  fractions of each true class).
- ``misclassified``: a grid of one run's misclassified test images titled
  ``true → predicted (confidence)``.
- ``bars``: an experiment's final primary metric per group (mean, ± std error bars), in the
  plan's order (an ablation's steps in order), with n and the Welch p against the baseline.

:func:`draw` makes one figure and :func:`save` writes it atomically; :func:`write_all`
writes every kind that applies (the app's key).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from cnn_tui.core.errors import CnnTuiError, RunStoreError
from cnn_tui.core.fsutil import write_output

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from cnn_tui.core.results.store import RunInfo

IMAGE_SUFFIXES = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
"""File suffix -> figure format (matplotlib's); tables have theirs in :data:`cnn_tui.core.results.table.SUFFIXES`."""
RUN_KINDS = ("curves", "confusion", "misclassified")
EXPERIMENT_KINDS = ("curves", "bars")
KINDS = ("curves", "confusion", "misclassified", "bars")
DEFAULT_SIZE = (1000, 600)
"""Width and height in pixels at :data:`DEFAULT_DPI` (inches = pixels / dpi in SVG and PDF)."""
DEFAULT_DPI = 100
MAX_PIXELS = 10_000


class FigureError(CnnTuiError):
    """A figure that cannot be drawn from what the run or experiment holds, or a bad file name."""


def figure_format(path: str | os.PathLike) -> str:
    """``png``, ``svg`` or ``pdf`` from ``path``'s suffix; FigureError naming the allowed ones."""
    suffix = Path(path).suffix.lower()
    fmt = IMAGE_SUFFIXES.get(suffix)
    if fmt is None:
        allowed = ", ".join(IMAGE_SUFFIXES)
        raise FigureError(f"{path}: cannot tell the figure format from {suffix or 'no suffix'!r} (allowed: {allowed})")
    return fmt


def _new_figure(size: tuple[int, int] | None, dpi: int, layout: str | None = "constrained") -> Figure:
    from matplotlib.figure import Figure

    width, height = size or DEFAULT_SIZE
    return Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout=layout)


# ---------------------------------------------------------------------------------------
# One run, several runs


def _series(history: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(r["epoch"], r[key]) for r in history if r.get(key) is not None and math.isfinite(r[key])]
    return [p[0] for p in points], [p[1] for p in points]


def _epoch_axis(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _history(run: RunInfo) -> list[dict[str, Any]]:
    history = run.history()
    if not history:
        raise FigureError(f"{run.path}: no epochs recorded in history.csv: no curves to draw")
    return history


def run_curves(run: RunInfo, *, size: tuple[int, int] | None = None, dpi: int = DEFAULT_DPI) -> Figure:
    """Loss and accuracy (train and validation) and the learning rate of one run, per epoch."""
    history = _history(run)
    fig = _new_figure(size, dpi)
    axes = fig.subplots(1, 3)
    for ax, key, label in ((axes[0], "loss", "loss"), (axes[1], "accuracy", "accuracy")):
        for prefix, name, style in (("", "train", "-"), ("val_", "validation", "--")):
            x, y = _series(history, prefix + key)
            if x:
                ax.plot(x, y, style, marker="o", markersize=3, label=name)
        ax.set_title(label)
        _epoch_axis(ax)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    x, y = _series(history, "lr")
    ax = axes[2]
    if x:
        ax.plot(x, y, marker="o", markersize=3, color="tab:green")
        if min(y) > 0 and max(y) / min(y) >= 10:
            ax.set_yscale("log")
    ax.set_title("learning rate")
    _epoch_axis(ax)
    ax.grid(alpha=0.3)
    fig.suptitle(f"{run.name} ({run.run_id})")
    return fig


def run_labels(runs: Sequence[RunInfo]) -> list[str]:
    """A legend label per run: the config keys whose values differ between the runs
    (``model.dropout=0.3, ...``), else the run's name; made unique with the short id."""
    import json

    from cnn_tui.core.results.table import _flat_config, differing_keys

    flats = [_flat_config(run) for run in runs]
    keys = [k for k in differing_keys(flats) if len({json.dumps((f or {}).get(k), sort_keys=True) for f in flats}) > 1]
    labels = []
    for run, flat in zip(runs, flats):
        parts = [f"{k}={json.dumps((flat or {}).get(k)) if not isinstance((flat or {}).get(k), str) else flat[k]}"
                 for k in keys]
        labels.append(", ".join(parts) or run.name)
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({run.short_id})" for label, run in zip(labels, runs)]
    return labels


def runs_curves(runs: Sequence[RunInfo], *, size: tuple[int, int] | None = None, dpi: int = DEFAULT_DPI) -> Figure:
    """Several runs' loss and accuracy overlaid (validation solid, train dashed, one colour per run)."""
    drawn = [run for run in runs if run.history()]  # runs that ended before an epoch are left out
    if len(drawn) <= 1:
        return run_curves(drawn[0] if drawn else runs[0], size=size, dpi=dpi)
    runs = drawn
    histories = [run.history() for run in runs]
    labels = run_labels(runs)
    fig = _new_figure(size, dpi)
    axes = fig.subplots(1, 2)
    for i, (history, label) in enumerate(zip(histories, labels)):
        color = f"C{i % 10}"
        for ax, key in zip(axes, ("loss", "accuracy")):
            x, y = _series(history, "val_" + key)
            if x:
                ax.plot(x, y, "-", color=color, marker="o", markersize=3, label=label)
            x, y = _series(history, key)
            if x:
                ax.plot(x, y, "--", color=color, alpha=0.6)
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.set_title(f"{key} (validation solid, train dashed)")
        _epoch_axis(ax)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize="small")
    fig.suptitle(f"{len(runs)} runs")
    return fig


def _class_names(metrics: dict[str, Any], k: int) -> list[str]:
    names = metrics.get("class_names")
    if isinstance(names, list) and len(names) == k:
        return [str(n) for n in names]
    return [str(i) for i in range(k)]


def confusion_matrix(run: RunInfo) -> tuple[list[list[int]], list[str]]:
    """The run's confusion matrix (rows true, columns predicted) and class names from
    metrics.json; FigureError when it has none or it is malformed."""
    metrics = run.metrics
    if not metrics:
        raise FigureError(f"{run.path}: no metrics.json (the run has no test evaluation): no confusion matrix")
    matrix = metrics.get("confusion_matrix")
    k = len(matrix) if isinstance(matrix, list) else 0
    if not k or not all(isinstance(row, list) and len(row) == k for row in matrix):
        raise FigureError(f"{run.path}/metrics.json: confusion_matrix is missing or not a square list of lists")
    try:
        counts = [[int(v) for v in row] for row in matrix]
    except (TypeError, ValueError):
        raise FigureError(f"{run.path}/metrics.json: confusion_matrix holds a value that is not a count") from None
    return counts, _class_names(metrics, k)


def confusion(run: RunInfo, *, normalize: bool = False, size: tuple[int, int] | None = None,
              dpi: int = DEFAULT_DPI) -> Figure:
    """The confusion matrix as a heatmap with the count (or, ``normalize``, the fraction of
    the true class) in every cell."""
    counts, names = confusion_matrix(run)
    k = len(counts)
    if normalize:
        values = [[v / sum(row) if sum(row) else 0.0 for v in row] for row in counts]
    else:
        values = [[float(v) for v in row] for row in counts]
    fig = _new_figure(size or (800, 700), dpi)  # a square matrix: a squarer default page
    ax = fig.subplots()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    top = max(max(row) for row in values) or 1
    small = "small" if k <= 12 else "xx-small"
    for i in range(k):
        for j in range(k):
            text = f"{values[i][j]:.2f}" if normalize else str(counts[i][j])
            ax.text(j, i, text, ha="center", va="center", fontsize=small,
                    color="white" if values[i][j] > top / 2 else "black")
    slanted = max(map(len, names)) > 3
    ax.set_xticks(range(k), names, rotation=45 if slanted else 0, ha="right" if slanted else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix{' (fraction of each true class)' if normalize else ''}: {run.name}")
    return fig


def misclassified(run: RunInfo, *, limit: int = 25, size: tuple[int, int] | None = None,
                  dpi: int = DEFAULT_DPI) -> Figure:
    """The run's most confident mistakes as a grid, each titled ``true → predicted (confidence)``."""
    from cnn_tui.core.results.samples import load_misclassified

    samples = load_misclassified(run, limit=limit)
    if not samples:
        raise FigureError(f"{run.path}: no misclassified test samples to draw")
    listed = (run.metrics or {}).get("class_names")
    names = [str(n) for n in listed] if isinstance(listed, list) else []

    def name(c: int) -> str:
        return names[c] if 0 <= c < len(names) else str(c)

    cols = math.ceil(math.sqrt(len(samples)))
    rows = math.ceil(len(samples) / cols)
    # A fixed grid, not the constrained layout: solving it for 25 axes took ~1 s per file.
    fig = _new_figure(size, dpi, layout=None)
    axes = fig.subplots(rows, cols, squeeze=False,
                        gridspec_kw=dict(left=0.02, right=0.98, bottom=0.02, top=0.9, wspace=0.15, hspace=0.45))
    for ax in axes.flat:
        ax.axis("off")
    for ax, s in zip(axes.flat, samples):
        image = s.image
        if image.shape[-1] == 1:
            ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        else:
            ax.imshow(image[..., :3], interpolation="nearest")
        ax.set_title(f"{name(s.true)} → {name(s.pred)} ({s.confidence:.2f})", fontsize="x-small")
    total = (run.metrics or {}).get("misclassified_count")
    of = f" of {total}" if isinstance(total, int) else ""
    fig.suptitle(f"misclassified test images ({len(samples)}{of}, most confident first): {run.name}")
    return fig


# ---------------------------------------------------------------------------------------
# Experiments


def experiment_curves(exp_dir: str | os.PathLike, *, size: tuple[int, int] | None = None,
                      dpi: int = DEFAULT_DPI) -> Figure:
    """Each group's mean validation loss and accuracy per epoch with a ± std band."""
    from cnn_tui.core.results.aggregate import group_curves

    panels = [(key, group_curves(exp_dir, key)) for key in ("val_loss", "val_accuracy")]
    if not any(curves for _, curves in panels):
        raise FigureError(f"{exp_dir}: no completed trial with recorded epochs: no curves to draw")
    fig = _new_figure(size, dpi)
    axes = fig.subplots(1, 2)
    for ax, (key, curves) in zip(axes, panels):
        for i, c in enumerate(curves):
            color = f"C{i % 10}"
            ax.plot(c.epochs, c.mean, color=color, marker="o", markersize=3, label=f"{c.label} (n={max(c.n)})")
            band = [(e, m, s) for e, m, s in zip(c.epochs, c.mean, c.std) if s is not None]
            if band:
                ax.fill_between([b[0] for b in band], [b[1] - b[2] for b in band], [b[1] + b[2] for b in band],
                                color=color, alpha=0.2, linewidth=0)
        ax.set_title(f"mean {key.replace('_', ' ')} ± std")
        _epoch_axis(ax)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize="small")
    fig.suptitle(Path(exp_dir).name)
    return fig


def experiment_bars(exp_dir: str | os.PathLike, *, metric: str | None = None, size: tuple[int, int] | None = None,
                    dpi: int = DEFAULT_DPI) -> Figure:
    """The final ``metric`` (default: the plan's primary metric) per group: mean with ± std
    error bars, groups in the plan's order, each labelled with n and Welch's p against its
    baseline (see :func:`cnn_tui.core.results.aggregate.aggregate_table`)."""
    from cnn_tui.core.results.aggregate import summarize
    from cnn_tui.core.formatting import METRICS
    from cnn_tui.core.results.stats import p_cell

    s = summarize(exp_dir)
    metric = metric or s.metric
    if metric not in METRICS:
        raise FigureError(f"metric {metric!r} is not an experiment metric (allowed: {', '.join(METRICS)})")
    groups = [g for g in s.groups if g.stats.get(metric) is not None]
    if not groups:
        raise FigureError(f"{exp_dir}: no completed trial with {metric}: no bars to draw")
    fig = _new_figure(size, dpi)
    ax = fig.subplots()
    means = [g.stats[metric].mean for g in groups]
    errors = [g.stats[metric].std or 0.0 for g in groups]
    x = list(range(len(groups)))
    bars = ax.bar(x, means, yerr=errors, capsize=4, color=[f"C{i % 10}" for i in x], alpha=0.85)
    for bar, g in zip(bars, groups):
        note = f"n={len(g.metrics)}"
        if metric == s.metric and s.kind != "repeat" and s.baseline(g) is not None:
            note += f"\np={p_cell(s.comparison(g)) or '-'}"
        ax.annotate(note, (bar.get_x() + bar.get_width() / 2, 0), xytext=(0, 4), textcoords="offset points",
                    ha="center", va="bottom", fontsize="x-small", color="white")
    labels = [g.label for g in groups]
    long = max(map(len, labels)) > 12
    ax.set_xticks(x, labels, rotation=30 if long else 0, ha="right" if long else "center")
    ax.set_ylabel(metric)
    low = min(m - e for m, e in zip(means, errors))
    high = max(m + e for m, e in zip(means, errors))
    if 0 < low and high <= 1:
        ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    against = "previous step" if s.kind == "ablation" else "first group"
    ax.set_title(f"{s.kind} of {s.name}: final {metric}, mean ± std over seeds (p: Welch vs {against})")
    return fig


# ---------------------------------------------------------------------------------------
# Drawing and writing


def draw(kind: str, *, runs: Sequence[RunInfo] = (), experiment: str | os.PathLike | None = None,
         size: tuple[int, int] | None = None, dpi: int = DEFAULT_DPI, normalize: bool = False,
         limit: int = 25, metric: str | None = None) -> Figure:
    """One figure of ``kind`` for ``runs`` or an ``experiment`` folder (FigureError when the
    kind does not apply, naming the kinds that do)."""
    if experiment is not None:
        if kind == "curves":
            return experiment_curves(experiment, size=size, dpi=dpi)
        if kind == "bars":
            return experiment_bars(experiment, metric=metric, size=size, dpi=dpi)
        raise FigureError(f"--kind {kind}: not a figure of an experiment (allowed: {', '.join(EXPERIMENT_KINDS)})")
    if not runs:
        raise FigureError("no runs to draw")
    if kind == "curves":
        return runs_curves(runs, size=size, dpi=dpi)
    if len(runs) > 1:
        raise FigureError(f"--kind {kind}: draws one run, {len(runs)} given (several runs allow: curves)")
    if kind == "confusion":
        return confusion(runs[0], normalize=normalize, size=size, dpi=dpi)
    if kind == "misclassified":
        return misclassified(runs[0], limit=limit, size=size, dpi=dpi)
    raise FigureError(f"--kind {kind}: not a figure of a run (allowed: {', '.join(RUN_KINDS)})")


def save(fig: Figure, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically; refuse to replace a
    file unless ``force``."""
    fmt = figure_format(path)
    target = write_output(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=fig.dpi), force=force)
    return target


def kinds_for(runs: Sequence[RunInfo] = (), experiment: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The kinds that apply: an experiment's, one run's, or ``curves`` for several runs."""
    if experiment is not None:
        return EXPERIMENT_KINDS
    return RUN_KINDS if len(runs) == 1 else ("curves",)


def kind_path(path: str | os.PathLike, kind: str) -> Path:
    """``report.png`` -> ``report-curves.png``."""
    path = Path(path)
    return path.with_name(f"{path.stem}-{kind}{path.suffix}")


def write_all(path: str | os.PathLike, *, runs: Sequence[RunInfo] = (), experiment: str | os.PathLike | None = None,
              force: bool = False, **options: Any) -> tuple[list[Path], list[str]]:
    """Every kind that applies, each to :func:`kind_path` of ``path``. Returns the written
    files and, for kinds the data cannot give (a run without test evaluation...), why not."""
    figure_format(path)
    kinds = kinds_for(runs, experiment)
    if not force:  # refuse before drawing anything: no half of a set written
        for kind in kinds:
            if kind_path(path, kind).exists():
                raise RunStoreError(f"{kind_path(path, kind)}: file exists (use --force to overwrite)")
    written, skipped = [], []
    for kind in kinds:
        try:
            fig = draw(kind, runs=runs, experiment=experiment, **options)
        except FigureError as exc:
            skipped.append(f"{kind}: {exc}")
            continue
        written.append(save(fig, kind_path(path, kind), force=force))
    if not written:
        raise FigureError("no figure to draw: " + "; ".join(skipped))
    return written, skipped
