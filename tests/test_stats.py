"""Welch's t-test and the 95% interval of experiment tables against scipy, in every export format."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from figure_fixtures import ABLATION, GRID, make_experiment
from scipy import stats as sps

from cnn_tui.cli import main
from cnn_tui.core.results.aggregate import aggregate_table, render_table, summarize
from cnn_tui.core.results.stats import FEW, NO_VARIANCE, welch

A = [0.812, 0.797, 0.825, 0.808, 0.801]
B = [0.781, 0.790, 0.776, 0.802]


def test_welch_equals_scipy_on_fixed_numbers():
    c = welch(A, B)
    ref = sps.ttest_ind(A, B, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert c.diff == pytest.approx(sum(A) / 5 - sum(B) / 4)
    assert c.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert c.df == pytest.approx(ref.df, rel=1e-12)
    assert c.ci == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert (c.n, c.n_baseline, c.note) == (5, 4, None)
    # Same numbers, worked by hand: se^2 = s_a^2/5 + s_b^2/4, df by Welch-Satterthwaite.
    va, vb = sps.tvar(A) / 5, sps.tvar(B) / 4
    df = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 3)
    half = sps.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert c.ci == pytest.approx((c.diff - half, c.diff + half))


def test_few_values_or_no_variance_give_a_mark_not_a_number():
    few = welch([0.8, 0.81], B)
    assert few.note == FEW and few.p is None and few.ci is None and few.diff == pytest.approx(0.805 - sum(B) / 4)
    assert welch(A, [0.7, 0.71]).note == FEW
    flat = welch([0.5] * 3, [0.5] * 4)
    assert flat.note == NO_VARIANCE and flat.p is None
    assert welch([], B) is None and welch([float("nan"), None], B) is None


def _accuracies(exp, label):
    group = next(g for g in summarize(exp).groups if g.label == label)
    return [m["test_accuracy"] for m in group.metrics]


def test_ablation_compares_each_step_with_the_previous_one(tmp_path):
    exp = make_experiment(tmp_path, ABLATION)
    table = aggregate_table(exp)
    for col in ("compared with", "diff", "95% CI", "p (Welch)"):
        assert col in table.columns
    assert table.columns[: 4] == ["step", "changes", "n", "test_accuracy"]  # the old layout stays in front
    rows = {r["step"]: r for r in table.rows}
    assert rows["baseline"]["compared with"] == "(baseline)" and rows["baseline"]["p (Welch)"] is None
    assert rows["+ dropout"]["compared with"] == "+ bn"
    ref = sps.ttest_ind(_accuracies(exp, "+ dropout"), _accuracies(exp, "+ bn"), equal_var=False)
    assert rows["+ dropout"]["p (Welch)"].value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (rows["+ dropout"]["95% CI"].low, rows["+ dropout"]["95% CI"].high) == pytest.approx((ci.low, ci.high))
    assert rows["+ dropout"]["diff"].value == pytest.approx(0.1)

    md = render_table(table, "md")
    assert "| (baseline)" in md and f"{ref.pvalue:.3f}" in md and f"[{ci.low:+.3f}, {ci.high:+.3f}]" in md
    data = {r["step"]: r for r in json.loads(render_table(table, "json"))}
    assert data["+ dropout"]["p (Welch)"] == pytest.approx(ref.pvalue)
    assert data["+ dropout"]["95% CI"] == pytest.approx([ci.low, ci.high])
    assert data["+ dropout"]["diff"] == pytest.approx(0.1)
    rows_csv = list(csv.DictReader(io.StringIO(render_table(table, "csv"))))
    assert rows_csv[2]["p (Welch)"] == f"{ref.pvalue:.3f}"
    latex = render_table(table, "latex")
    assert "95\\% CI" in latex and f"{ref.pvalue:.3f}" in latex


def test_grid_compares_with_the_first_cell(tmp_path):
    exp = make_experiment(tmp_path, GRID)
    table = aggregate_table(exp)
    first, second = table.rows
    assert second["compared with"] == first["cell"]
    ref = sps.ttest_ind(_accuracies(exp, second["cell"]), _accuracies(exp, first["cell"]), equal_var=False)
    assert second["p (Welch)"].value == pytest.approx(ref.pvalue)


def test_fewer_than_three_seeds_are_marked_in_every_format(tmp_path, capsys):
    exp = make_experiment(tmp_path, {**GRID, "repeat": 2})
    table = aggregate_table(exp)
    assert str(table.rows[1]["p (Welch)"]) == FEW and str(table.rows[1]["95% CI"]) == FEW
    assert table.rows[1]["diff"] is not None  # the difference of means is still shown
    for fmt in ("md", "csv", "json"):
        assert FEW in render_table(table, fmt)
    assert "n\\textless{}3" in render_table(table, "latex")  # '<' is an inverted '!' in OT1 text
    assert json.loads(render_table(table, "json"))[1]["p (Welch)"] == FEW
    assert main(["export", "--experiment", exp.name, "--runs-dir", str(tmp_path), "--format", "csv"]) == 0
    assert FEW in capsys.readouterr().out


def test_repeat_has_no_comparison_columns(tmp_path):
    exp = make_experiment(tmp_path, {"repeat": 3})
    assert "p (Welch)" not in aggregate_table(exp).columns
