"""Experiment plans, runs, resume and aggregation with a fake engine (no TensorFlow)."""

from __future__ import annotations

import json
import re
import statistics
import threading

import pytest
import tomllib

from cnn_tui.cli import main
from cnn_tui.core.config import ExperimentConfig, apply_overrides, config_from_dict
from cnn_tui.core.engine.experiments import TrialFinished, TrialStarted, resume_experiment, run_experiment
from cnn_tui.core.engine.plan import (
    expand,
    grid_line,
    own_overrides,
    parse_grid,
    parse_plan,
    parse_step,
    plan_from_lines,
    step_line,
)
from cnn_tui.core.engine.trainer import RunResult
from cnn_tui.core.errors import CnnTuiError, ConfigError, DataError, ModelError, RunStoreError
from cnn_tui.core.presets import load_preset
from cnn_tui.core.results.aggregate import (
    MeanStd,
    aggregate_table,
    experiment_table,
    group_curves,
    render_table,
    summarize,
)
from cnn_tui.core.results.experiment_store import find_experiment, read_progress
from cnn_tui.core.results.store import RunStore

BASE = config_from_dict({"name": "exp", "data": {"dataset": "digits"}, "train": {"seed": 42, "epochs": 1}})
GRID = {"kind": "grid", "repeat": 2, "grid": {"model.batch_norm": [True, False], "model.dropout": [0.1, 0.2, 0.3]}}
ABLATION = {
    "kind": "ablation",
    "metric": "f1_weighted",
    "steps": [
        {"name": "baseline"},
        {"name": "+ bn", "set": {"model.batch_norm": True}},
        {"name": "+ dropout", "set": {"model.dropout": 0.25}},
    ],
}


def fake_score(config: ExperimentConfig) -> float:
    return 0.5 + 0.1 * config.model.batch_norm + config.model.dropout / 10 + (config.train.seed - 42) / 100


class FakeTrain:
    """train()'s signature; writes a real run folder with metrics derived from the config."""

    def __init__(self, stop_on_call: int | None = None, fail_if=None):
        self.calls: list[ExperimentConfig] = []
        self.stop_on_call = stop_on_call
        self.fail_if = fail_if

    def __call__(self, config, on_event=None, stop=None, *, runs_dir=None, name=None, pause=None, tags=None):
        self.calls.append(config)
        if self.fail_if and self.fail_if(config):
            raise ModelError("model.architecture: too deep for 8x8 input")
        writer = RunStore(runs_dir).create(config, name=name, tags=tags)
        score = fake_score(config)
        metrics = {"test_accuracy": score, "test_loss": 1 - score, "f1_weighted": score - 0.05,
                   "f1_macro": score - 0.06, "epochs_completed": 1, "train_seconds": 0.5}
        writer.write_metrics(metrics)
        status = "completed"
        if self.stop_on_call == len(self.calls):
            stop.set()
            status = "stopped"
        writer.finish(status)
        return RunResult(writer.run_id, writer.path, status, metrics, None)


# ---------------------------------------------------------------------------------------
# Planning


def test_grid_expansion_count_seeds_and_stable_ids():
    trials = expand(GRID, BASE)
    assert len(trials) == 2 * 3 * 2
    ids = [t.trial_id for t in trials]
    assert len(set(ids)) == len(ids)
    assert ids[:3] == ["g01-s42", "g01-s43", "g02-s42"]
    assert ids == [t.trial_id for t in expand(parse_plan(GRID), BASE)]  # re-planning gives the same ids
    assert [t.seed for t in trials[:2]] == [42, 43]
    assert all(t.config.train.seed == t.seed and t.config.experiment is None for t in trials)
    last = trials[-1]
    assert last.overrides == {"model.batch_norm": False, "model.dropout": 0.3}
    assert last.config.model.batch_norm is False and last.config.model.dropout == 0.3
    assert last.group == "batch_norm=false, dropout=0.3"


def test_ablation_is_cumulative_and_variants_are_not():
    trials = expand(ABLATION, BASE)
    assert [t.group for t in trials] == ["baseline", "+ bn", "+ dropout"]
    assert trials[0].overrides == {}
    assert trials[2].overrides == {"model.batch_norm": True, "model.dropout": 0.25}
    assert trials[2].config.model.batch_norm and trials[2].config.model.dropout == 0.25
    assert own_overrides(parse_plan(ABLATION))["+ dropout"] == {"model.dropout": 0.25}

    variants = expand({"kind": "variants", "variants": ABLATION["steps"]}, BASE)
    assert variants[2].overrides == {"model.dropout": 0.25}
    assert variants[2].config.model.batch_norm is False
    assert [t.trial_id for t in variants] == ["v01-s42", "v02-s42", "v03-s42"]


def test_repeat_only_and_nested_toml_tables():
    trials = expand({"repeat": 3}, BASE)
    assert [t.trial_id for t in trials] == ["r01-s42", "r01-s43", "r01-s44"]
    plan = parse_plan(tomllib.loads('kind = "grid"\n[grid]\nmodel.batch_norm = [true, false]\n'))
    assert plan.grid == {"model.batch_norm": [True, False]}
    steps = tomllib.loads('kind = "ablation"\nsteps = [{name = "b"}, {name = "x", set = {model = {l2 = 0.1}}}]')
    assert expand(steps, BASE)[1].config.model.l2 == 0.1


@pytest.mark.parametrize(
    ("plan", "needle"),
    [
        ({"kind": "grid", "grids": {}}, "experiment.grids"),
        ({"kind": "grid"}, "experiment.grid"),
        ({"kind": "grid", "grid": {"model.dropout": [0.1]}, "steps": [{"name": "a"}]}, "experiment.steps"),
        ({"kind": "grid", "grid": {"model.bogus": [1, 2]}}, "model.bogus"),
        ({"kind": "grid", "grid": {"model.dropout": [0.1, 2.0]}}, "model.dropout"),
        ({"kind": "grid", "grid": {"model.dropout": []}}, "model.dropout"),
        ({"kind": "sweep"}, "experiment.kind"),
        ({"repeat": 0}, "experiment.repeat"),
        ({"metric": "auc"}, "experiment.metric"),
        ({"kind": "ablation", "steps": [{"name": "a", "sett": {}}]}, "sett"),
        ({"kind": "ablation", "steps": [{"name": "a"}, {"name": "a"}]}, "'a'"),
    ],
)
def test_bad_plans_raise_one_line_config_errors(plan, needle):
    with pytest.raises(ConfigError) as info:
        expand(plan, BASE)
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_missing_experiment_section():
    with pytest.raises(ConfigError, match="no \\[experiment\\] section"):
        parse_plan(None, "digits-quick")


def test_cli_argument_parsers():
    assert parse_grid("model.dropout=0.2,0.3") == ("model.dropout", [0.2, 0.3])
    assert parse_grid("model.batch_norm=true,false") == ("model.batch_norm", [True, False])
    assert parse_grid("data.dataset=digits,mnist") == ("data.dataset", ["digits", "mnist"])
    assert parse_grid('model.blocks=["conv 8 3", "flatten"],["flatten"]')[1] == [["conv 8 3", "flatten"], ["flatten"]]
    assert parse_step("baseline:") == {"name": "baseline", "set": {}}
    assert parse_step("+ bn: model.batch_norm=true model.bn_order=post") == {
        "name": "+ bn", "set": {"model.batch_norm": True, "model.bn_order": "post"}}
    with pytest.raises(ConfigError):
        parse_step(": model.l2=0.1")


def test_one_line_forms_round_trip_and_build_plans():
    for key, values in (("model.dropout", [0.2, 0.3]), ("model.batch_norm", [True, False]),
                        ("data.dataset", ["digits", "mnist"]), ("train.learning_rate", [1e-05, 0.001]),
                        ("model.blocks", [["conv 8 3", "flatten"], ["flatten"]]), ("name", ["a b", "true"])):
        assert parse_grid(grid_line(key, values)) == (key, values)
    for step in ({"name": "baseline", "set": {}}, {"name": "+ bn", "set": {"model.batch_norm": True, "model.bn_order": "post"}},
                 {"name": "blocks", "set": {"model.blocks": ["conv 8 3", "flatten"], "description": "it's"}}):
        assert parse_step(step_line(step)) == step
    assert step_line({"name": "+ bn", "set": {"model.batch_norm": True}}) == "+ bn: model.batch_norm=true"
    assert grid_line("data.dataset", ["digits", "mnist"]) == "data.dataset=digits,mnist"
    for name in ("assignment-ablation", "mnist-grid"):  # a preset's study survives the dialog's lines
        plan = parse_plan(load_preset(name).experiment)
        lines = ([grid_line(k, v) for k, v in (plan.grid or {}).items()]
                 or [step_line(s) for s in plan.steps or []])
        assert plan_from_lines(plan.kind, lines, repeat=plan.repeat, metric=plan.metric) == plan

    plan = plan_from_lines("grid", ["model.dropout=0.1,0.2", "", "model.batch_norm=true,false"], repeat=2)
    assert plan.grid == {"model.dropout": [0.1, 0.2], "model.batch_norm": [True, False]} and plan.repeat == 2
    assert plan_from_lines("repeat", [], repeat=3).repeat == 3
    assert plan_from_lines("ablation", ["base:", "+ bn: model.batch_norm=true"]).steps[1].set == {"model.batch_norm": True}
    for kind, lines, needle in (("grid", [], "required"), ("grid", ["model.dropout"], "expected KEY=VALUE"),
                                ("grid", ["model.dropout="], "missing value"),
                                ("grid", ["model.dropout=0.1", "model.dropout=0.2"], "already in the grid"),
                                ("ablation", [": model.l2=0.1"], "missing the step name"),
                                ("ablation", ["a:", "a:"], "duplicate name"), ("repeat", ["x=1"], "no grid or step")):
        with pytest.raises(ConfigError, match=needle):
            plan_from_lines(kind, lines)
    with pytest.raises(ConfigError, match="repeat"):
        plan_from_lines("repeat", [], repeat=0)


def test_builtin_studies_expand_and_match_their_presets():
    counts = {"assignment-ablation": 4, "lecture-ablation": 7, "mnist-grid": 6, "mnist-repeats": 10}
    for name, count in counts.items():
        config = load_preset(name)
        assert len(expand(parse_plan(config.experiment, name), config)) == count, name
    for study, final in (("assignment-ablation", "assignment-3layer"), ("lecture-ablation", "lecture-vgg-final")):
        last = expand(parse_plan(load_preset(study).experiment), load_preset(study))[-1].config
        want = load_preset(final)
        assert (last.data, last.model, last.train) == (want.data, want.model, want.train), study
    assert parse_plan(load_preset("assignment-ablation").experiment).metric == "f1_weighted"


# ---------------------------------------------------------------------------------------
# Running, aggregating, resuming


def test_run_and_aggregate(tmp_path):
    fake, events = FakeTrain(), []
    plan = {"kind": "grid", "repeat": 2, "grid": {"model.batch_norm": [True, False]}}
    exp = run_experiment(BASE, plan, runs_dir=tmp_path, on_trial=events.append, train_fn=fake)
    assert exp.parent == tmp_path / "experiments" and (exp / "experiment.toml").is_file()
    progress = read_progress(exp)
    assert progress["state"] == "completed"
    assert [t["state"] for t in progress["trials"]] == ["completed"] * 4
    runs = RunStore(tmp_path).list()  # the experiments/ folder is not a run
    assert len(runs) == 4
    tags = {r.run_id: r.tags for r in runs}
    first = progress["trials"][0]
    assert tags[first["run_id"]] == {"experiment": exp.name, "group": "batch_norm=true", "seed": 42, "trial": "g01-s42"}
    starts = [e for e in events if isinstance(e, TrialStarted)]
    assert [e.index for e in starts] == [1, 2, 3, 4] and starts[0].eta_seconds is None
    assert starts[1].eta_seconds is not None
    assert sum(isinstance(e, TrialFinished) for e in events) == 4

    table = aggregate_table(exp)
    assert table.columns[:3] == ["cell", "model.batch_norm", "n"]
    row = table.rows[0]
    scores = [0.6, 0.61]
    cell = row["test_accuracy"]
    assert isinstance(cell, MeanStd) and cell.n == 2 == row["n"]
    assert cell.mean == pytest.approx(statistics.fmean(scores))
    assert cell.std == pytest.approx(statistics.stdev(scores))
    assert str(cell) == f"{statistics.fmean(scores):.3f} ± {statistics.stdev(scores):.3f}"
    data = json.loads(render_table(table, "json"))
    assert data[1]["test_accuracy"]["n"] == 2 and data[1]["test_accuracy"]["mean"] == pytest.approx(0.505)
    assert "0.605 ± 0.007" in render_table(table, "md")
    transposed = render_table(table, "md", transpose=True)
    assert "batch_norm=true" in transposed.splitlines()[0]
    assert experiment_table(exp.name.rsplit("-", 1)[-1], tmp_path).rows == table.rows
    assert len(experiment_table("latest", tmp_path, per_trial=True).rows) == 4


def test_ablation_table_has_change_vs_baseline(tmp_path):
    exp = run_experiment(BASE, ABLATION, runs_dir=tmp_path, train_fn=FakeTrain())
    table = aggregate_table(exp)
    assert table.columns[0] == "step" and table.columns[3] == "f1_weighted"
    delta = "f1_weighted vs baseline"
    assert delta in table.columns
    values = [row[delta].value for row in table.rows]
    assert values == pytest.approx([0.0, 0.1, 0.125])
    assert [row["changes"] for row in table.rows] == ["-", "model.batch_norm=true", "model.dropout=0.25"]
    assert "+0.125" in render_table(table, "csv")


def test_stop_between_trials_then_resume_runs_only_the_missing(tmp_path):
    fake, stop = FakeTrain(), threading.Event()

    def on_trial(event):
        if isinstance(event, TrialFinished) and event.index == 2:
            stop.set()

    plan = {"kind": "grid", "repeat": 2, "grid": {"model.batch_norm": [True, False]}}
    exp = run_experiment(BASE, plan, runs_dir=tmp_path, on_trial=on_trial, stop=stop, train_fn=fake)
    progress = read_progress(exp)
    assert progress["state"] == "stopped"
    assert [t["state"] for t in progress["trials"]] == ["completed", "completed", "pending", "pending"]
    assert len(RunStore(tmp_path).list()) == 2

    again = FakeTrain()
    assert resume_experiment(exp.name, tmp_path, train_fn=again) == exp
    assert [c.model.batch_norm for c in again.calls] == [False, False]
    assert len(RunStore(tmp_path).list()) == 4
    assert read_progress(exp)["state"] == "completed"
    assert [r["n"] for r in aggregate_table(exp).rows] == [2, 2]
    # Resuming a finished experiment trains nothing.
    idle = FakeTrain()
    run_experiment(None, None, experiment_dir=exp, train_fn=idle)
    assert idle.calls == [] and len(RunStore(tmp_path).list()) == 4


def test_stopped_trial_is_trained_again_on_resume(tmp_path):
    exp = run_experiment(BASE, {"repeat": 4}, runs_dir=tmp_path, train_fn=FakeTrain(stop_on_call=2))
    states = [t["state"] for t in read_progress(exp)["trials"]]
    assert states == ["completed", "stopped", "pending", "pending"]
    assert summarize(exp).completed == 1  # stopped runs are not averaged

    again = FakeTrain()
    run_experiment(None, None, experiment_dir=exp, train_fn=again)
    assert [c.train.seed for c in again.calls] == [43, 44, 45]
    trials = read_progress(exp)["trials"]
    assert trials[1]["previous_runs"] and trials[1]["state"] == "completed"
    assert len(RunStore(tmp_path).list()) == 5


def test_a_skip_aimed_at_a_trial_that_just_ended_does_not_hit_the_next(tmp_path):
    """The app's k with short trials skipped the next trial, not the running one: the request
    named the trial on screen, which had ended by the time it landed. A TrialSkip names its
    trial; the next one trains on, and a skip aimed at the running one still ends it."""
    from cnn_tui.core.engine.experiments import TrialSkip

    skip, seen, ids = TrialSkip(), [], []

    def train(config, on_event=None, stop=None, *, runs_dir=None, name=None, pause=None, tags=None):
        writer = RunStore(runs_dir).create(config, name=name, tags=tags)
        ids.append(tags["trial"])
        if len(ids) == 2:
            skip.request(ids[0])  # the user's k, aimed at trial 1, lands as trial 2 trains
        if len(ids) == 3:
            skip.request(ids[2])  # aimed at the trial in progress: ends it
        seen.append(stop.is_set())
        status = "stopped" if stop.is_set() else "completed"
        writer.append_history({"epoch": 1, "val_accuracy": 0.5})
        writer.write_metrics({"test_accuracy": 0.8})
        writer.finish(status)
        return RunResult(writer.run_id, writer.path, status, {"test_accuracy": 0.8}, None)

    exp = run_experiment(BASE, {"repeat": 3}, runs_dir=tmp_path, train_fn=train, skip=skip)
    assert seen == [False, False, True]
    assert [t["state"] for t in read_progress(exp)["trials"]] == ["completed", "completed", "skipped"]


def test_skip_ends_only_the_current_trial(tmp_path):
    skip, seen = threading.Event(), []

    def train(config, on_event=None, stop=None, *, runs_dir=None, name=None, pause=None, tags=None):
        writer = RunStore(runs_dir).create(config, name=name, tags=tags)
        if config.train.seed == 43:
            skip.set()  # the user presses skip while this trial trains
        seen.append(stop.is_set())
        status = "stopped" if stop.is_set() else "completed"
        for epoch in (1, 2):
            writer.append_history({"epoch": epoch, "val_accuracy": 0.5 + config.train.seed / 1000 + epoch / 10})
        writer.write_metrics({"test_accuracy": 0.8})
        writer.finish(status)
        return RunResult(writer.run_id, writer.path, status, {"test_accuracy": 0.8}, None)

    skip.set()  # set between trials: not the next trial's
    exp = run_experiment(BASE, {"repeat": 3}, runs_dir=tmp_path, train_fn=train, skip=skip)
    progress = read_progress(exp)
    assert seen == [False, True, False]
    assert [t["state"] for t in progress["trials"]] == ["completed", "skipped", "completed"]
    assert progress["state"] == "stopped"  # not every trial completed: resume trains the skipped one
    assert summarize(exp).completed == 2

    (curve,) = group_curves(exp)
    assert curve.label == "all" and curve.epochs == (1, 2) and curve.n == (2, 2)
    assert curve.mean == pytest.approx((0.643, 0.743))
    assert curve.std[0] == pytest.approx(statistics.stdev([0.642, 0.644]))
    assert group_curves(exp, "no_such_column") == []

    again = FakeTrain()
    run_experiment(None, None, experiment_dir=exp, train_fn=again)
    assert [c.train.seed for c in again.calls] == [43]


def test_bad_cell_is_recorded_and_the_rest_runs(tmp_path):
    fake = FakeTrain(fail_if=lambda c: c.model.batch_norm)
    exp = run_experiment(BASE, {"kind": "grid", "grid": {"model.batch_norm": [True, False]}}, runs_dir=tmp_path,
                         train_fn=fake)
    progress = read_progress(exp)
    assert progress["state"] == "failed"
    assert [t["state"] for t in progress["trials"]] == ["failed", "completed"]
    assert "too deep" in progress["trials"][0]["error"]
    assert [r["n"] for r in aggregate_table(exp).rows] == [0, 1]


def test_invalid_plan_creates_no_folder(tmp_path):
    with pytest.raises(ConfigError):
        run_experiment(BASE, {"kind": "grid", "grid": {"model.bogus": [1]}}, runs_dir=tmp_path, train_fn=FakeTrain())
    deep = apply_overrides(BASE, {"model.blocks": ["conv 8 3", "pool max 2"] * 5 + ["flatten"]})
    with pytest.raises(ModelError, match=r"^model\.blocks: .*below 1x1 \(input 8x8x1\)"):  # the base's own: no group
        run_experiment(deep, {"repeat": 1}, runs_dir=tmp_path, train_fn=FakeTrain())
    assert not (tmp_path / "experiments").exists()


def test_find_experiment_errors(tmp_path):
    with pytest.raises(RunStoreError, match="no experiments yet"):
        find_experiment("latest", tmp_path)
    run_experiment(BASE, {"repeat": 1}, runs_dir=tmp_path, train_fn=FakeTrain())
    with pytest.raises(RunStoreError, match="not found"):
        find_experiment("nope", tmp_path)


def test_cli_bad_input_exits_2(tmp_path, capsys):
    code = main(["sweep", "digits-quick", "--grid", "model.bogus=1,2", "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "model.bogus" in err[0]
    assert main(["experiment", "digits-quick", "--runs-dir", str(tmp_path)]) == 2
    assert "[experiment]" in capsys.readouterr().err
    assert main(["ablate", "digits-quick", "--step", ": x=1", "--runs-dir", str(tmp_path)]) == 2
    assert main(["experiment", "--resume", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert not (tmp_path / "experiments").exists()


def test_cli_resume_of_finished_experiment(tmp_path, capsys):
    exp = run_experiment(BASE, {"repeat": 2}, runs_dir=tmp_path, train_fn=FakeTrain())
    capsys.readouterr()
    assert main(["experiment", "--resume", exp.name, "--runs-dir", str(tmp_path), "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == str(exp)
    assert lines[0].startswith("config,n,test_accuracy") and "±" in lines[1]


def test_explicit_experiment_folder_outside_the_runs_dir(tmp_path):
    runs, exp = tmp_path / "runs", tmp_path / "elsewhere" / "study"
    stop = threading.Event()
    fake = FakeTrain()

    def on_trial(event):
        if isinstance(event, TrialFinished):
            stop.set()

    assert run_experiment(BASE, {"repeat": 2}, runs_dir=runs, experiment_dir=exp, stop=stop, on_trial=on_trial,
                          train_fn=fake) == exp
    assert len(RunStore(runs).list()) == 1
    run_experiment(None, None, experiment_dir=exp, train_fn=fake)
    assert len(RunStore(runs).list()) == 2 and read_progress(exp)["state"] == "completed"
    assert [r["n"] for r in aggregate_table(exp).rows] == [2]


def test_resume_refuses_an_experiment_running_elsewhere(tmp_path):
    import os

    exp = run_experiment(BASE, {"repeat": 1}, runs_dir=tmp_path, train_fn=FakeTrain())
    progress = read_progress(exp)
    progress.update(state="running", pid=os.getppid())  # a live process that is not us
    (exp / "progress.json").write_text(json.dumps(progress))
    with pytest.raises(RunStoreError, match="still running"):
        run_experiment(None, None, experiment_dir=exp, train_fn=FakeTrain())


# ---------------------------------------------------------------------------------------
# Bad input to a study is refused before anything is written (exit 2, one line)


def _flat_images(root, n=4):
    """A folder of images with no class sub-folders."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (10, 10), (9 * i, 90, 200)).save(root / f"img{i}.png")
    return root


def _two_class_folder(root, classes=("cats", "dogs")):
    from PIL import Image

    for cls in classes:
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            Image.new("L", (10, 10), 40 * i).save(root / cls / f"{i}.png")
    return root


def _nothing_written(runs) -> bool:
    return not runs.exists() or not any(runs.iterdir())


def test_cli_study_on_a_folder_without_class_folders_exits_2_before_writing(tmp_path, capsys):
    flat = _flat_images(tmp_path / "flat")
    runs = tmp_path / "runs"
    code = main(["sweep", "digits-quick", "--grid", "model.batch_norm=true,false", "--set",
                 f"data.dataset=folder:{flat}", "--runs-dir", str(runs)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1, captured.err
    assert lines[0].startswith("cnn-tui: error: ") and "no class sub-folders" in lines[0] and str(flat) in lines[0]
    assert captured.out == "" and _nothing_written(runs)


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda t: (t / "empty").mkdir() or f"folder:{t / 'empty'}", "no images found"),
    (lambda t: f"folder:{t / 'nowhere'}", "no such folder"),
    (lambda t: f"folder:{_two_class_folder(t / 'one', classes=('cats',))}",
     "needs at least 2 classes, found 1: 'cats'"),
    (lambda t: "folder:", "give a folder"),
    (lambda t: "nonsense", "unknown dataset"),
], ids=["empty folder", "missing folder", "one class", "no path", "unknown dataset"])
def test_study_refuses_a_bad_data_source_before_any_folder(tmp_path, make, fragment):
    base = apply_overrides(BASE, {"data.dataset": make(tmp_path)})
    fake = FakeTrain()
    with pytest.raises(CnnTuiError, match=fragment) as info:
        run_experiment(base, ABLATION, runs_dir=tmp_path / "runs", train_fn=fake)
    assert "\n" not in str(info.value)
    assert fake.calls == [] and _nothing_written(tmp_path / "runs")


def test_study_names_the_group_whose_data_or_shape_is_bad(tmp_path):
    flat = _flat_images(tmp_path / "flat")
    good = _two_class_folder(tmp_path / "good")
    fake = FakeTrain()
    plan = {"kind": "grid", "grid": {"data.dataset": [f"folder:{good}", f"folder:{flat}"]}}
    with pytest.raises(DataError, match=r"experiment group 'dataset=folder:.*flat'.*no class sub-folders"):
        run_experiment(BASE, plan, runs_dir=tmp_path / "runs", train_fn=fake)
    # a cell whose image size the architecture cannot take (vgg10 on 8x8 digits)
    plan = {"kind": "variants", "variants": [{"name": "ok"}, {"name": "deep", "set": {"model.architecture": "vgg10"}}]}
    with pytest.raises(ModelError, match=r"experiment group 'deep'.*8x8"):
        run_experiment(BASE, plan, runs_dir=tmp_path / "runs", train_fn=fake)
    assert fake.calls == [] and _nothing_written(tmp_path / "runs")


def test_preflight_describes_each_data_source_once(tmp_path, monkeypatch):
    import cnn_tui.core.data.sources as data

    seen = []
    real = data.dataset_info

    def counting(spec, cfg=None):
        seen.append(spec)
        return real(spec, cfg)

    monkeypatch.setattr(data, "dataset_info", counting)
    exp = run_experiment(BASE, GRID, runs_dir=tmp_path, train_fn=FakeTrain())  # 12 trials, one data config
    assert seen == ["digits"] and read_progress(exp)["state"] == "completed"


def test_trials_failing_at_training_time_are_still_recorded_failed(tmp_path, capsys):
    """Not bad input: the data and the model are fine, training itself fails (a NaN loss,
    a crash in the engine). Every trial is recorded ``failed`` with its reason, the study
    goes on, and the front end's summary gives the reason."""
    from pathlib import Path

    def crashing(config, on_event=None, stop=None, *, runs_dir=None, name=None, pause=None, tags=None):
        writer = RunStore(runs_dir).create(config, name=name, tags=tags)
        writer.finish("failed", error="training crashed: loss became NaN")
        return RunResult(writer.run_id, Path(writer.path), "failed", None, "training crashed: loss became NaN")

    exp = run_experiment(BASE, ABLATION, runs_dir=tmp_path, train_fn=crashing)
    progress = read_progress(exp)
    assert progress["state"] == "failed"
    assert [t["state"] for t in progress["trials"]] == ["failed"] * 3
    assert all("loss became NaN" in t["error"] for t in progress["trials"])


def test_cli_step_without_key_value_is_bad_input(tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["ablate", "digits-quick", "--step", "no equals sign here", "--runs-dir", str(runs)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1, captured.err
    assert "'no equals sign here'" in lines[0] and "NAME: KEY=VALUE" in lines[0]
    assert captured.out == "" and _nothing_written(runs)


@pytest.mark.parametrize(("text", "needle"), [
    ("no equals sign here", "NAME: KEY=VALUE"),
    ("model.batch_norm=true", "NAME: KEY=VALUE"),  # no name: it used to become the name itself
    ("+ bn: batch norm on", "'+ bn: batch norm on': 'batch' is not KEY=VALUE"),
])
def test_a_step_needs_a_name_and_key_value_pairs(text, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_step(text)
    with pytest.raises(ConfigError, match=re.escape(needle)):
        plan_from_lines("ablation", ["baseline:", text])
