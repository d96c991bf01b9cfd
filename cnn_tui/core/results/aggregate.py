"""Experiment results: trials grouped by cell/step/variant, mean ± sample std over seeds.

Reads what :mod:`cnn_tui.core.results.experiment_store` keeps of a study (its plan and
progress.json) and the trials' runs; running a study is :mod:`cnn_tui.core.engine.experiments`.

Cells are :class:`MeanStd` values: they render as ``0.812 ± 0.013`` through the shared
table writer (md/csv/latex) and as ``{"mean", "std", "n"}`` in JSON once the table went
through :func:`for_format` (``render_table`` does that for you).

Grids, ablations and variants also compare each group's primary metric with a baseline
(the first group; for an ablation the previous step) by Welch's t-test over the seeds:
the difference of means, its 95% confidence interval and the p-value
(:mod:`cnn_tui.core.results.stats`), marked ``n<3`` where a group has fewer than 3 seeds.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnn_tui.core.formatting import METRICS
from cnn_tui.core.results import stats
from cnn_tui.core.results.experiment_store import (
    experiment_runs_dir,
    find_experiment,
    load_experiment,
    read_progress,
    trial_run,
)
from cnn_tui.core.results.table import Table, render

_DIGITS = {"epochs_completed": 1, "train_seconds": 1}
_FIRST_COLUMN = {"grid": "cell", "ablation": "step", "variants": "variant", "repeat": "config"}


@dataclass(frozen=True)
class MeanStd:
    """Mean, sample standard deviation (None for n < 2) and count of one metric in one group."""

    mean: float
    std: float | None
    n: int
    digits: int = 3

    def __str__(self) -> str:
        text = f"{self.mean:.{self.digits}f}"
        return text if self.std is None else f"{text} ± {self.std:.{self.digits}f}"

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "n": self.n}


@dataclass(frozen=True)
class Delta:
    """A signed change of the primary metric against the baseline step."""

    value: float
    digits: int = 3

    def __str__(self) -> str:
        return f"{self.value:+.{self.digits}f}"

    def to_json(self) -> float:
        return self.value


def mean_std(values: list[float], digits: int = 3) -> MeanStd | None:
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return MeanStd(statistics.fmean(values), std, len(values), digits)


@dataclass
class Group:
    label: str
    index: int
    overrides: dict[str, Any]
    own: dict[str, Any]
    trials: list[dict[str, Any]] = field(default_factory=list)  # progress entries
    metrics: list[dict[str, Any]] = field(default_factory=list)  # of completed trials
    stats: dict[str, MeanStd | None] = field(default_factory=dict)


@dataclass
class Summary:
    """An experiment's aggregated results."""

    path: Path
    name: str
    kind: str
    metric: str
    state: str
    grid_keys: list[str]
    groups: list[Group]
    total: int
    completed: int

    def delta(self, group: Group) -> float | None:
        """Change of the primary metric's mean against the first group (the ablation baseline)."""
        base, this = self.groups[0].stats.get(self.metric), group.stats.get(self.metric)
        if base is None or this is None:
            return None
        return this.mean - base.mean

    def baseline(self, group: Group) -> Group | None:
        """The group ``group`` is tested against: the previous step of an ablation, else the
        first group; None for the first group itself."""
        i = self.groups.index(group)
        if i == 0:
            return None
        return self.groups[i - 1] if self.kind == "ablation" else self.groups[0]

    def comparison(self, group: Group) -> stats.Comparison | None:
        """Welch's test of the primary metric of ``group`` against :meth:`baseline`."""
        base = self.baseline(group)
        if base is None:
            return None
        return stats.welch([m.get(self.metric) for m in group.metrics], [m.get(self.metric) for m in base.metrics])


def summarize(exp_dir: str | Path, *, precision: int = 3) -> Summary:
    """Read an experiment folder and aggregate its completed trials (``precision``: decimals
    of the mean ± std text of score metrics)."""
    from cnn_tui.core.engine.plan import own_overrides  # the plan's definition of a group

    exp_dir = Path(exp_dir)
    progress = read_progress(exp_dir)
    _config, plan = load_experiment(exp_dir)
    runs_dir = experiment_runs_dir(exp_dir)
    own = own_overrides(plan)
    groups: dict[int, Group] = {}
    for entry in progress["trials"]:
        gi = int(entry.get("group_index") or 0)
        label = str(entry.get("group", "?"))
        group = groups.setdefault(gi, Group(label, gi, dict(entry.get("overrides") or {}), own.get(label, {})))
        group.trials.append(entry)
        if entry.get("state") != "completed":
            continue
        run = trial_run(entry, runs_dir)
        if run is not None and run.state != "completed":
            continue
        metrics = (run.metrics if run is not None else None) or entry.get("metrics")
        if metrics:
            group.metrics.append(metrics)
    ordered = [groups[k] for k in sorted(groups)]
    for group in ordered:
        group.stats = {m: mean_std([x.get(m) for x in group.metrics], _DIGITS.get(m, precision)) for m in METRICS}
    return Summary(
        path=exp_dir,
        name=str(progress.get("name") or exp_dir.name),
        kind=plan.kind,
        metric=plan.metric,
        state=str(progress.get("state") or "?"),
        grid_keys=list(plan.grid or {}),
        groups=ordered,
        total=len(progress["trials"]),
        completed=sum(len(g.metrics) for g in ordered),
    )


@dataclass(frozen=True)
class GroupCurve:
    """A group's per-epoch mean and sample std (None where n < 2) of one history column,
    over its completed trials; ``n`` is the number of trials with that epoch."""

    label: str
    epochs: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float | None, ...]
    n: tuple[int, ...]


def group_curves(exp_dir: str | Path, key: str = "val_accuracy") -> list[GroupCurve]:
    """Per group, the mean ± std curve of ``key`` (a history.csv column) over the completed
    trials' runs; groups with no such values yet are left out."""
    exp_dir = Path(exp_dir)
    runs_dir = experiment_runs_dir(exp_dir)
    by_group: dict[int, tuple[str, list[list[dict[str, Any]]]]] = {}
    for entry in read_progress(exp_dir)["trials"]:
        if entry.get("state") != "completed":
            continue
        run = trial_run(entry, runs_dir)
        if run is None or run.state != "completed":
            continue
        label = str(entry.get("group", "?"))
        by_group.setdefault(int(entry.get("group_index") or 0), (label, []))[1].append(run.history())
    curves = []
    for gi in sorted(by_group):
        label, histories = by_group[gi]
        per_epoch: dict[int, list[float]] = {}
        for history in histories:
            for row in history:
                value = row.get(key)
                if value is not None and math.isfinite(float(value)):
                    per_epoch.setdefault(int(row["epoch"]), []).append(float(value))
        if not per_epoch:
            continue
        epochs = sorted(per_epoch)
        stats = [mean_std(per_epoch[e]) for e in epochs]
        curves.append(GroupCurve(label, tuple(epochs), tuple(st.mean for st in stats if st),
                                 tuple(st.std for st in stats if st), tuple(st.n for st in stats if st)))
    return curves


def experiment_table(path_or_id: str | os.PathLike, runs_dir: str | os.PathLike | None = None, *,
                     per_trial: bool = False, precision: int = 3):
    """The aggregated results table (:func:`aggregate_table`) of an experiment given by folder
    path, folder name, short id or ``latest``."""
    return aggregate_table(find_experiment(path_or_id, runs_dir), per_trial=per_trial, precision=precision)


def _fmt_overrides(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in overrides.items()) or "-"


def aggregate_table(exp_dir: str | Path, *, per_trial: bool = False, precision: int = 3):
    """The experiment's results table: one row per group (or per trial with ``per_trial``).

    Columns: the group label, the grid keys (grid) or the step's own overrides
    (ablation/variants), ``n``, the metrics as mean ± std (primary metric first) and, for
    ablations, the primary metric's change against the baseline step; then, except for a
    repeat (one group), the statistics of the primary metric against the baseline group
    (``compared with``, ``diff``, ``95% CI``, ``p (Welch)``; see :meth:`Summary.comparison`).
    """
    s = summarize(exp_dir, precision=precision)
    title = (
        f"{s.path.name}: {s.kind} of {s.name}, {s.completed}/{s.total} trials completed"
        f" ({s.state}); mean ± sample std over n seeds"
    )
    tested = s.kind != "repeat"
    if tested:
        against = "the previous step" if s.kind == "ablation" else "the first group"
        title += f"; {s.metric} against {against}: diff of means, 95% CI, Welch's t-test p ({stats.FEW}: too few seeds)"
    if per_trial:
        return _trials_table(s, title)
    first = _FIRST_COLUMN[s.kind]
    metrics = [s.metric, *(m for m in METRICS if m != s.metric)]
    extra = s.grid_keys if s.kind == "grid" else (["changes"] if s.kind in ("ablation", "variants") else [])
    delta_col = f"{s.metric} vs baseline"
    columns = [first, *extra, "n", *metrics, *([delta_col] if s.kind == "ablation" else []),
               *(STAT_COLUMNS if tested else [])]
    rows = []
    for group in s.groups:
        row: dict[str, Any] = {first: group.label if s.kind != "repeat" else s.name, "n": len(group.metrics)}
        if s.kind == "grid":
            row.update({k: group.overrides.get(k) for k in s.grid_keys})
        elif extra:
            row["changes"] = _fmt_overrides(group.own)
        row.update({m: group.stats.get(m) for m in metrics})
        if s.kind == "ablation":
            delta = s.delta(group)
            row[delta_col] = Delta(delta, precision) if delta is not None else None
        if tested:
            row.update(_stat_cells(s, group, precision))
        rows.append(row)
    return Table(columns=columns, rows=rows, title=title)


STAT_COLUMNS = ("compared with", "diff", "95% CI", "p (Welch)")


def _stat_cells(s: Summary, group: Group, precision: int) -> dict[str, Any]:
    base = s.baseline(group)
    if base is None:
        return dict.fromkeys(STAT_COLUMNS) | {"compared with": "(baseline)"}
    c = s.comparison(group)
    return {
        "compared with": base.label,
        "diff": Delta(c.diff, precision) if c is not None else None,
        "95% CI": stats.interval_cell(c, precision),
        "p (Welch)": stats.p_cell(c),
    }


def _trials_table(s: Summary, title: str):
    columns = ["trial", _FIRST_COLUMN[s.kind], "seed", "state", "run", *METRICS]
    rows = []
    for group in s.groups:
        for entry in group.trials:
            metrics = entry.get("metrics") or {}
            rows.append({
                "trial": entry.get("trial_id"),
                _FIRST_COLUMN[s.kind]: group.label if s.kind != "repeat" else s.name,
                "seed": entry.get("seed"),
                "state": entry.get("state"),
                "run": entry.get("run_id"),
                **{m: metrics.get(m) for m in METRICS},
            })
    return Table(columns=columns, rows=rows, title=title)


def for_format(table, fmt: str):
    """The table with :class:`MeanStd`/:class:`Delta` (and statistics) cells made plain JSON for
    ``fmt == "json"``."""
    if fmt != "json":
        return table
    def plain(value: Any) -> Any:
        return value.to_json() if isinstance(value, _CELLS) else value

    rows = [{k: plain(v) for k, v in row.items()} for row in table.rows]
    return Table(columns=list(table.columns), rows=rows, title=table.title)


_CELLS = (MeanStd, Delta, stats.Interval, stats.PValue, stats.Mark)


def render_table(table, fmt: str, *, transpose: bool = False) -> str:
    """Render an experiment table with the shared writer (numbers as objects in JSON)."""
    return render(for_format(table, fmt), fmt, transpose=transpose)
