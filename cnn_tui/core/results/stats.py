"""Is a difference in a mean ± std table real? Welch's t-test between two groups of seeds.

:func:`welch` compares one group's values of a metric (one per seed) with a baseline
group's: the difference of means, its 95% confidence interval with the Welch-Satterthwaite
degrees of freedom, and the two-sided p-value of Welch's t-test
(``scipy.stats.ttest_ind(equal_var=False)``). With fewer than 3 values in either group
the test says nothing useful: the interval and the p-value are replaced by the mark
``n<3`` (:data:`FEW`).

The cells (:class:`Interval`, :class:`PValue`, :class:`Mark`) render as text through the
shared table writer and as plain JSON through ``to_json``. scipy is imported only when a
test is computed.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable

MIN_N = 3
FEW = f"n<{MIN_N}"
"""The mark shown instead of a confidence interval or p-value when a group has fewer than 3 values."""
NO_VARIANCE = "no variance"
"""The mark when every value of both groups is the same (the t statistic is undefined)."""


@dataclass(frozen=True)
class Comparison:
    """One group against its baseline on one metric."""

    diff: float
    """mean(group) - mean(baseline)."""
    n: int
    n_baseline: int
    ci: tuple[float, float] | None = None
    """The 95% confidence interval of ``diff`` (None when ``note`` says why not)."""
    p: float | None = None
    """Two-sided p-value of Welch's t-test (None when ``note`` says why not)."""
    df: float | None = None
    """Welch-Satterthwaite degrees of freedom."""
    note: str | None = None
    """:data:`FEW` or :data:`NO_VARIANCE` when there is no interval and no p-value."""


def _finite(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        if v is None or isinstance(v, bool):
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def welch(values: Iterable[Any], baseline: Iterable[Any], *, confidence: float = 0.95) -> Comparison | None:
    """Compare ``values`` with ``baseline`` (None when either has no finite value)."""
    a, b = _finite(values), _finite(baseline)
    if not a or not b:
        return None
    diff = statistics.fmean(a) - statistics.fmean(b)
    if len(a) < MIN_N or len(b) < MIN_N:
        return Comparison(diff, len(a), len(b), note=FEW)
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se2 = va + vb
    if se2 == 0.0:
        return Comparison(diff, len(a), len(b), note=NO_VARIANCE)
    from scipy import stats

    df = se2**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * math.sqrt(se2)
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    return Comparison(diff, len(a), len(b), ci=(diff - half, diff + half), p=p, df=df)


# ---------------------------------------------------------------------------------------
# Table cells


@dataclass(frozen=True)
class Interval:
    """A confidence interval cell: ``[-0.012, +0.034]``; JSON ``[low, high]``."""

    low: float
    high: float
    digits: int = 3

    def __str__(self) -> str:
        return f"[{self.low:+.{self.digits}f}, {self.high:+.{self.digits}f}]"

    def to_json(self) -> list[float]:
        return [self.low, self.high]


@dataclass(frozen=True)
class PValue:
    """A p-value cell: three decimals, ``<0.001`` below that; JSON the number."""

    value: float

    def __str__(self) -> str:
        return "<0.001" if self.value < 0.001 else f"{self.value:.3f}"

    def to_json(self) -> float:
        return self.value


@dataclass(frozen=True)
class Mark:
    """Why a cell has no number (``n<3``, ``no variance``); the same text in JSON."""

    text: str

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> str:
        return self.text


def interval_cell(c: Comparison | None, digits: int = 3) -> Interval | Mark | None:
    if c is None:
        return None
    return Interval(c.ci[0], c.ci[1], digits) if c.ci is not None else Mark(c.note or FEW)


def p_cell(c: Comparison | None) -> PValue | Mark | None:
    if c is None:
        return None
    return PValue(c.p) if c.p is not None else Mark(c.note or FEW)
