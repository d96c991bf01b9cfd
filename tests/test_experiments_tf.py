"""Experiments with the real engine on tiny digits runs (TensorFlow, a few seconds per trial)."""

from __future__ import annotations

import contextlib
import io
import re
import threading
from pathlib import Path

import pytest

from cnn_tui.cli import main
from cnn_tui.core.config import apply_overrides
from cnn_tui.core.engine import EpochEnd
from cnn_tui.core.results.aggregate import render_table
from cnn_tui.core.engine.experiments import run_experiment
from cnn_tui.core.results.aggregate import experiment_table
from cnn_tui.core.results.experiment_store import read_progress
from cnn_tui.core.presets import load_preset
from cnn_tui.core.results.store import RunStore

TINY = ["train.epochs=1", "data.train_limit=200", "data.test_limit=100", "train.batch_size=32",
        "train.tensorboard=false", "train.save_model=false", "train.checkpoint=false"]
PAIR = re.compile(r"\d+\.\d+ ± \d+\.\d+")
LATEX_PAIR = re.compile(r"(\d+\.\d+) \$\\pm\$ (\d+\.\d+)")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """`cnn-tui sweep digits-quick --grid model.batch_norm=true,false --repeat 2` on tiny data
    (capsys is function-scoped, so stdout/stderr are captured by hand)."""
    runs = tmp_path_factory.mktemp("sweep-runs")
    argv = ["sweep", "digits-quick", "--grid", "model.batch_norm=true,false", "--repeat", "2", "--runs-dir", str(runs)]
    for item in TINY:
        argv += ["--set", item]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue(), runs


def test_cli_sweep_prints_mean_std_table(sweep):
    code, out, err, runs = sweep
    assert code == 0, err
    lines = out.strip().splitlines()
    exp = Path(lines[-1])
    assert exp.is_dir() and exp.parent == runs / "experiments"
    assert len(PAIR.findall(out)) >= 12  # 2 cells x 6 metrics
    assert "| batch_norm=true " in out and "| batch_norm=false" in out
    assert "trial 4/4 [g02-s43] batch_norm=false, seed 43, ETA" in err
    assert "epoch 1/1" in err and "\r" not in err  # plain lines when not a TTY
    assert len(RunStore(runs).list()) == 4
    assert all(t["state"] == "completed" for t in read_progress(exp)["trials"])


def test_export_md_and_latex_give_the_same_numbers(sweep):
    *_, runs = sweep
    table = experiment_table("latest", runs)
    assert [row["n"] for row in table.rows] == [2, 2]
    md, latex = render_table(table, "md"), render_table(table, "latex", transpose=True)
    latex_pairs = [f"{m} ± {s}" for m, s in LATEX_PAIR.findall(latex)]
    assert PAIR.findall(md) and sorted(PAIR.findall(md)) == sorted(latex_pairs)
    assert "\\begin{tabular}" in latex


def test_cli_export_of_an_experiment(sweep, tmp_path, capsys):
    *_, runs = sweep
    assert main(["export", "--experiment", "latest", "--runs-dir", str(runs), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert main(["export", "--experiment", "latest", "--runs-dir", str(runs), "--transpose",
                 "-o", str(tmp_path / "t.tex")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "t.tex")  # the path on stdout
    latex = (tmp_path / "t.tex").read_text()
    assert len(PAIR.findall(md)) >= 12
    assert sorted(PAIR.findall(md)) == sorted(f"{m} ± {s}" for m, s in LATEX_PAIR.findall(latex))
    assert latex.splitlines()[3].startswith("cell & batch\\_norm=true & batch\\_norm=false")
    # An experiment's folder name given as the only RUN works too; a wrong one is one error line.
    name = Path(sweep[1].strip().splitlines()[-1]).name
    assert main(["export", name, "--runs-dir", str(runs)]) == 0
    assert capsys.readouterr().out.strip() == md.strip()
    assert main(["export", "--experiment", "nope", "--runs-dir", str(runs)]) == 2
    assert "experiment 'nope' not found" in capsys.readouterr().err


def test_stop_mid_trial_then_resume(tmp_path):
    base = apply_overrides(load_preset("digits-quick"), [*TINY, "train.epochs=2"])
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, EpochEnd):
            stop.set()  # during trial 1: it ends stopped, trial 2 never starts

    plan = {"kind": "variants", "variants": [{"name": "relu"}, {"name": "tanh", "set": {"model.activation": "tanh"}}]}
    exp = run_experiment(base, plan, runs_dir=tmp_path, on_event=on_event, stop=stop)
    assert [t["state"] for t in read_progress(exp)["trials"]] == ["stopped", "pending"]
    runs = RunStore(tmp_path).list()
    assert [r.state for r in runs] == ["stopped"]

    exp_again = run_experiment(None, None, experiment_dir=exp)
    assert exp_again == exp
    progress = read_progress(exp)
    assert progress["state"] == "completed"
    runs = RunStore(tmp_path).list()
    assert sorted(r.state for r in runs) == ["completed", "completed", "stopped"]
    assert {r.tags["trial"] for r in runs if r.state == "completed"} == {"v01-s42", "v02-s42"}
    assert [r["n"] for r in experiment_table(exp, tmp_path).rows] == [1, 1]
