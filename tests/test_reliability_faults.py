"""The fault round: tampered run folders, names that try to leave the runs folder, two runs
at once into one runs folder, absurd sizes. Each is answered with one ``cnn-tui: error:``
line and exit 2, or handled with nothing lost; nothing is written outside the runs folder.

The run folders here are written through RunStore (no TensorFlow); the concurrency test
starts two real ``cnn-tui run`` processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import test_cli_support as support
from cli_env import cli_env
from cnn_tui.cli import main
from cnn_tui.core.config import ExperimentConfig, apply_overrides
from cnn_tui.core.results.store import RunStore

REPO = Path(__file__).resolve().parents[1]


def _run(runs: Path, name: str, accuracy: float = 0.8) -> Path:
    """A completed run with history, metrics and predictions (4 test images, 3 classes)."""
    writer = RunStore(runs).create(apply_overrides(ExperimentConfig(name=name), {"train.epochs": 3}))
    for epoch in (1, 2, 3):
        writer.append_history({"epoch": epoch, "loss": 1 / epoch, "accuracy": 0.7, "val_loss": 0.8,
                               "val_accuracy": 0.75, "lr": 1e-3, "seconds": 0.2})  # fmt: skip
    writer.write_metrics(support.fake_metrics(3, accuracy=accuracy))
    probs = np.full((4, 3), 0.3, np.float32)
    probs[np.arange(4), [0, 1, 2, 0]] = 0.4
    writer.save_predictions(probs=probs, labels=np.array([0, 1, 2, 1]), preds=probs.argmax(1))
    writer.finish("completed")
    return writer.path


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_line(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("cnn-tui: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def _bad_npz_arrays(path: Path) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, probs=np.array(["a", "b"]), labels=np.zeros((2, 2)))


# ---------------------------------------------------------------------------------------
# Tampered run folders: read-only commands list and show them; ensemble refuses in one line

TAMPER: dict[str, Callable[[Path], object]] = {
    "history-binary": lambda d: (d / "history.csv").write_bytes(bytes(range(256)) * 4),
    "history-undecodable-row": lambda d: (d / "history.csv").write_bytes(
        (d / "history.csv").read_bytes() + b"4,\xff\xfe,0.5,,,,\n"),
    "history-nul-and-huge-field": lambda d: (d / "history.csv").write_bytes(
        b"epoch,loss\n1,\x00\n" + b'2,"' + b"x" * 200_000 + b'"\n'),
    "history-a-folder": lambda d: ((d / "history.csv").unlink(), (d / "history.csv").mkdir()),
    "metrics-wrong-types": lambda d: (d / "metrics.json").write_text(json.dumps({
        "test_accuracy": "high", "test_loss": [1], "f1_weighted": {"a": 1}, "f1_macro": True, "per_class": "x",
        "epochs_completed": "three", "params": "p", "image_shape": 5, "train_seconds": "slow", "dataset": 3,
        "device": ["cpu"], "class_names": "abc", "confusion_matrix": "m", "misclassified": 7})),
    "metrics-bad-rows": lambda d: (d / "metrics.json").write_text(json.dumps({
        "test_accuracy": 0.5, "per_class": [1, "a", None, {"class": "x", "precision": "p"}],
        "image_shape": ["a", None]})),
    "config-garbage": lambda d: (d / "config.toml").write_bytes(b"\x00\xff garbage"),
    "config-out-of-range": lambda d: (d / "config.toml").write_text("name = 'x'\n[model]\ndropout = 7.5\n"),
    "config-unknown-key": lambda d: (d / "config.toml").write_text("name = 'x'\n[model]\nbogus = 1\n"),
    "predictions-truncated": lambda d: (d / "predictions.npz").write_bytes((d / "predictions.npz").read_bytes()[:60]),
    "predictions-garbage": lambda d: (d / "predictions.npz").write_bytes(b"not a zip at all"),
    "predictions-wrong-arrays": lambda d: _bad_npz_arrays(d / "predictions.npz"),
}


@pytest.mark.parametrize("case", list(TAMPER))
def test_a_tampered_run_is_listed_shown_and_exported_and_refused_by_ensemble(tmp_path, capsys, case) -> None:
    runs = tmp_path / "runs"
    good, other = _run(runs, "good"), _run(runs, "other", 0.7)
    bad = _run(runs, case)
    TAMPER[case](bad)
    before = _files(tmp_path)

    assert main(["runs", "list", "--runs-dir", str(runs), "--format", "json"]) == 0
    rows = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {good.name, other.name, bad.name}
    assert rows[good.name]["test_accuracy"] == pytest.approx(0.8)
    assert rows[bad.name]["test_accuracy"] in (None, 0.5, 0.8)  # a wrong-typed value is not shown
    if case.startswith("config"):  # no readable config: shown damaged, with the reason
        assert rows[bad.name]["state"] == "damaged" and "config.toml" in rows[bad.name]["error"]
    else:
        assert rows[bad.name]["state"] == "completed"
    assert main(["runs", "list", "--runs-dir", str(runs)]) == 0
    listed = capsys.readouterr()
    assert bad.name.rsplit("-", 1)[-1] in listed.out and listed.err == ""

    for fmt in ("text", "json"):
        assert main(["runs", "show", bad.name, "--runs-dir", str(runs), "--format", fmt]) == 0, fmt
        shown = capsys.readouterr()
        assert bad.name in shown.out and "Traceback" not in shown.err
        if case.startswith("config") and fmt == "text":
            assert "damaged   " in shown.out and "config.toml" in shown.out
        if case == "metrics-wrong-types" and fmt == "text":  # what was left out is said
            assert "damaged   " in shown.out and "ignored test_accuracy, test_loss, f1_weighted" in shown.out
    assert main(["export", "--runs-dir", str(runs), "--format", "csv"]) == 0
    exported = capsys.readouterr().out
    assert good.name in exported and bad.name in exported

    assert main(["ensemble", good.name, other.name, "--runs-dir", str(runs)]) == 0
    capsys.readouterr()
    code = main(["ensemble", good.name, bad.name, "--runs-dir", str(runs)])
    captured = capsys.readouterr()
    if case.startswith("predictions"):
        _one_line(code, captured.err, bad.name, "predictions.npz")
    elif case == "metrics-wrong-types":
        # its dataset entry is not a name: the one from config.toml is used, the ensemble works
        assert code == 0, captured.err
    else:
        assert code in (0, 2) and "Traceback" not in captured.err
        if code == 2:
            _one_line(code, captured.err)
    assert _files(tmp_path) == before, "a read-only command changed a file"


# ---------------------------------------------------------------------------------------
# Names that try to leave the runs folder

ESCAPES = ["../../evil", "/tmp/cnn-tui-evil-abs", "..", ".", "a\0b", "x" * 5000, "a/b/../../../c", "~", ".hidden",
           "-", "ünï", " "]


@pytest.fixture
def fake_engine(monkeypatch):
    import cnn_tui.core.engine as engine
    import cnn_tui.core.engine.trainer as trainer

    monkeypatch.setattr(engine, "train", support.fake_train)
    monkeypatch.setattr(trainer, "train", support.fake_train)  # what experiments call


def _outside(tmp_path: Path, runs: Path) -> list[str]:
    """Everything under tmp_path that is not in the runs folder (or the test's own files)."""
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if runs not in p.parents and p != runs and p.name not in ("ok.toml", "cwd"))  # fmt: skip


@pytest.mark.parametrize("name", ESCAPES, ids=[repr(n[:12]) for n in ESCAPES])
def test_run_and_experiment_names_stay_in_the_runs_folder(tmp_path, capsys, monkeypatch, fake_engine, name) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    runs = tmp_path / "deep" / "runs"
    toml = tmp_path / "ok.toml"
    toml.write_text('name = "ok"\n[train]\nepochs = 1\n', encoding="utf-8")
    assert main(["run", str(toml), "--name", name, "--runs-dir", str(runs)]) == 0
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert folder.parent == runs and folder.is_dir()
    assert "/" not in folder.name and "\0" not in folder.name and len(folder.name) < 100
    assert main(["sweep", str(toml), "--grid", "train.seed=1", "--name", name, "--runs-dir", str(runs)]) == 0
    exp = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert exp.parent == runs / "experiments" and exp.is_dir() and len(exp.name) < 100
    assert _outside(tmp_path, runs) == ["deep"]
    assert not Path("/tmp/cnn-tui-evil-abs").exists()
    assert len(RunStore(runs).list()) == 2


@pytest.mark.parametrize("name", ESCAPES, ids=[repr(n[:12]) for n in ESCAPES])
def test_preset_names_that_are_paths_are_refused(tmp_path, capsys, monkeypatch, name) -> None:
    monkeypatch.setenv("CNN_TUI_PRESETS_DIR", str(tmp_path / "presets"))
    code = main(["presets", "save", name, "--from", "digits-quick"])
    _one_line(code, capsys.readouterr().err, "preset name")
    assert list(tmp_path.iterdir()) == []


REFS = ["../x", "../../etc", "/", "/tmp", "..", "a\0b", "x" * 5000, "", " ", "runs/../..", "latest/../.."]


@pytest.mark.parametrize("ref", REFS, ids=[repr(r[:12]) for r in REFS])
def test_run_references_outside_the_runs_folder_are_one_line(tmp_path, capsys, monkeypatch, ref) -> None:
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    good = _run(runs, "good")
    before = _files(tmp_path)
    for argv in (["runs", "show", ref], ["resume", ref], ["ensemble", ref], ["export", ref],
                 ["ensemble", good.name, ref], ["export", "--experiment", ref], ["experiment", "--resume", ref]):
        code = main([*argv, "--runs-dir", str(runs)])
        captured = capsys.readouterr()
        _one_line(code, captured.err)
        assert captured.out == "", argv
    assert _files(tmp_path) == before


# ---------------------------------------------------------------------------------------
# Tampered experiment folders

EXP_TAMPER: dict[str, Callable[[dict], object]] = {
    "trial-not-an-object": lambda p: {**p, "trials": [1, "a", None]},
    "run-id-a-number": lambda p: {**p, "trials": [{**t, "run_id": 5, "run_dir": 7} for t in p["trials"]]},
    "state-a-number": lambda p: {**p, "trials": [{**t, "state": 5} for t in p["trials"]]},
    "group-index-text": lambda p: {**p, "trials": [{**t, "group_index": "g", "seconds": "s"} for t in p["trials"]]},
}



def _seed_sweep(tmp_path: Path, capsys, *, epochs: int, seeds: str) -> Path:
    """A completed sweep over train.seed of a small TOML config into tmp_path/runs: its folder."""
    toml = tmp_path / "ok.toml"
    toml.write_text(f'name = "ok"\n[train]\nepochs = {epochs}\n', encoding="utf-8")
    assert main(["sweep", str(toml), "--grid", f"train.seed={seeds}", "--runs-dir", str(tmp_path / "runs")]) == 0
    return Path(capsys.readouterr().out.strip().splitlines()[-1])

@pytest.mark.parametrize("case", list(EXP_TAMPER))
def test_a_tampered_experiment_progress_is_one_line(tmp_path, capsys, monkeypatch, fake_engine, case) -> None:
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    exp = _seed_sweep(tmp_path, capsys, epochs=1, seeds="1,2")
    progress = json.loads((exp / "progress.json").read_text(encoding="utf-8"))
    (exp / "progress.json").write_text(json.dumps(EXP_TAMPER[case](progress)), encoding="utf-8")
    before = _files(tmp_path)
    for argv in (["export", "--experiment", exp.name], ["export", "--experiment", exp.name, "--trials"],
                 ["ensemble", "--experiment", exp.name], ["experiment", "--resume", exp.name]):
        code = main([*argv, "--runs-dir", str(runs)])
        captured = capsys.readouterr()
        _one_line(code, captured.err, "progress.json", "damaged trial entry 1")
    assert _files(tmp_path) == before


# ---------------------------------------------------------------------------------------
# Two runs at once into one runs folder


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return cli_env(tmp_path, pythonpath=(Path(__file__).resolve().parent,), **extra)


def test_two_real_runs_at_once_with_the_same_name_both_complete_apart(tmp_path) -> None:
    """Two `cnn-tui run` processes started together, same name, same runs folder (real engine)."""
    runs = tmp_path / "runs"
    argv = [sys.executable, "-m", "cnn_tui", "run", "digits-quick", "--name", "same", "--runs-dir", str(runs),
            "--set", "train.epochs=2", "--set", "data.train_limit=300", "--set", "train.checkpoint_every=0"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
                              cwd=tmp_path, stdin=subprocess.DEVNULL) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "Traceback" not in err
    folders = [Path(out.strip().splitlines()[-1]) for out, _ in outs]
    assert folders[0] != folders[1] and all(f.parent == runs for f in folders)
    listed = RunStore(runs).list()
    assert sorted(r.path for r in listed) == sorted(folders)
    pids = set()
    for run in listed:
        assert run.state == "completed" and run.name == "same"
        assert [row["epoch"] for row in run.history()] == [1, 2]  # each its own epochs, once
        assert run.metrics["epochs_completed"] == 2 and run.predictions()["probs"].shape[0] > 0
        assert not (run.path / "checkpoint.keras").exists()
        pids.add(run.status["pid"])
    assert len(pids) == 2
    assert sorted(p.name for p in runs.iterdir()) == sorted(f.name for f in folders)  # no stray shared files


def test_two_resumes_of_one_experiment_at_once_train_each_trial_once(tmp_path, capsys, monkeypatch,
                                                                     fake_engine) -> None:
    """Two `cnn-tui experiment --resume EXP` started together: one resumes, the other is
    refused in one line; no trial trains twice and progress.json names each trial's run."""
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    exp = _seed_sweep(tmp_path, capsys, epochs=3, seeds="1,2,3")
    progress = json.loads((exp / "progress.json").read_text(encoding="utf-8"))
    for entry in progress["trials"]:  # as if stopped before any trial completed
        entry.update(state="stopped")
    progress["state"] = "stopped"
    (exp / "progress.json").write_text(json.dumps(progress), encoding="utf-8")
    first_runs = {r.run_id for r in RunStore(runs).list()}

    support_py = Path(__file__).resolve().parent / "test_cli_support.py"
    argv = [sys.executable, str(support_py), "experiment", "--resume", exp.name, "--runs-dir", str(runs)]
    env = _env(tmp_path, FAKE_ENGINE_MODE="slow")
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                              stdin=subprocess.DEVNULL) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    refused = next(err for p, (_, err) in zip(procs, outs) if p.returncode == 2)
    assert refused.count("\n") == 1 and "still running" in refused and "Traceback" not in refused
    new = [r for r in RunStore(runs).list() if r.run_id not in first_runs]
    assert len(new) == 3 and all(r.state == "completed" for r in new)  # each trial trained once more
    final = json.loads((exp / "progress.json").read_text(encoding="utf-8"))
    assert final["state"] == "completed"
    assert sorted(t["run_id"] for t in final["trials"]) == sorted(r.run_id for r in new)


def test_a_second_resume_while_the_first_trains_is_refused(tmp_path) -> None:
    """Deterministic form of the race above: the second resume starts while the first is
    inside a trial (same process, so the pid check alone cannot tell them apart)."""
    import threading

    from cnn_tui.core.engine.experiments import resume_experiment, run_experiment
    from cnn_tui.core.results.experiment_store import read_progress
    from cnn_tui.core.errors import RunStoreError

    runs = tmp_path / "runs"
    base = apply_overrides(ExperimentConfig(name="race"), {"train.epochs": 1})
    stop = threading.Event()

    def stopping(config, *args, **kwargs):
        stop.set()  # the first trial ends stopped: the experiment is left to resume
        return support.fake_train(config, *args, **kwargs)

    exp = run_experiment(base, {"kind": "grid", "grid": {"train.seed": [1, 2]}}, runs_dir=runs, stop=stop,
                         train_fn=stopping)  # fmt: skip
    assert read_progress(exp)["state"] == "stopped"
    inside, release, errors = threading.Event(), threading.Event(), []

    def blocking(config, *args, **kwargs):
        inside.set()
        release.wait(30)
        return support.fake_train(config, *args, **kwargs)

    first = threading.Thread(target=lambda: resume_experiment(exp.name, runs, train_fn=blocking))
    first.start()
    try:
        assert inside.wait(30)
        try:
            resume_experiment(exp.name, runs, train_fn=support.fake_train)
        except RunStoreError as exc:
            errors.append(str(exc))
    finally:
        release.set()
        first.join(30)
    assert errors and "still running" in errors[0]
    final = read_progress(exp)
    assert final["state"] == "completed" and len({t["run_id"] for t in final["trials"]}) == 2
    assert len(RunStore(runs).list()) == 3  # the stopped first trial, then each trial once


# ---------------------------------------------------------------------------------------
# Absurd sizes: refused before any data is decoded, TensorFlow trains or a folder is written

ABSURD = [
    ("image size 0", ["data.image_size=[0, 0]"], "data.image_size"),
    ("negative image size", ["data.image_size=[-3, 8]"], "data.image_size"),
    ("huge image size", ["data.image_size=[100000, 100000]"], "memory"),
    ("big images for the machine", ["data.image_size=[3000, 3000]"], "memory"),
    ("huge batch of big images", ["data.image_size=[512, 512]", "train.batch_size=65536"], "train.batch_size = 65536"),
    ("absurd parameter count", ['model.blocks=["flatten", "dense 1000000", "dense 1000000"]'], "model.blocks"),
    ("epochs 10**9", ["train.epochs=1000000000"], "train.epochs"),
    ("batch size 10**9", ["train.batch_size=1000000000"], "train.batch_size"),
    ("train_limit 0", ["data.train_limit=0"], "data.train_limit"),
    ("train_limit negative", ["data.train_limit=-5"], "data.train_limit"),
]


@pytest.mark.parametrize(("sets", "fragment"), [c[1:] for c in ABSURD], ids=[c[0] for c in ABSURD])
def test_absurd_sizes_are_refused_in_one_line(tmp_path, capsys, monkeypatch, sets, fragment) -> None:
    from cnn_tui.core.models import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 8 << 30)  # the same answer on any machine

    monkeypatch.setattr(memory, "gpu_present", lambda: False)  # activations in this RAM
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    argv = ["run", "digits-quick", "--runs-dir", str(runs)]
    for s in sets:
        argv += ["--set", s]
    code = main(argv)
    captured = capsys.readouterr()
    _one_line(code, captured.err, fragment)
    assert captured.out == "" and not runs.exists()


def test_the_engine_refuses_absurd_sizes_before_writing(tmp_path, monkeypatch) -> None:
    """What the app calls (no CLI pre-flight): refused before the data is resized or a folder made."""
    from cnn_tui.core.engine import train
    from cnn_tui.core.errors import CnnTuiError
    from cnn_tui.core.models import memory
    from cnn_tui.core.presets import load_preset

    monkeypatch.setattr(memory, "available_memory", lambda: 8 << 30)

    monkeypatch.setattr(memory, "gpu_present", lambda: False)  # activations in this RAM
    for sets in (["data.image_size=[3000, 3000]"], ["data.image_size=[256, 256]", "train.batch_size=65536"],
                 ['model.blocks=["flatten", "dense 1000000", "dense 1000000"]'], ["data.image_size=[0, 4]"]):
        with pytest.raises(CnnTuiError) as exc:
            train(apply_overrides(load_preset("digits-quick"), sets), runs_dir=tmp_path / "runs")
        assert "\n" not in str(exc.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_sweep_with_one_absurd_cell_is_refused_before_any_folder(tmp_path, capsys, monkeypatch) -> None:
    from cnn_tui.core.models import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 8 << 30)

    monkeypatch.setattr(memory, "gpu_present", lambda: False)  # activations in this RAM
    runs = tmp_path / "runs"
    code = main(["sweep", "digits-quick", "--grid", "train.batch_size=32,65536", "--set", "data.image_size=[512, 512]",
                 "--runs-dir", str(runs)])  # fmt: skip
    _one_line(code, capsys.readouterr().err, "train.batch_size = 65536", "memory")
    assert not runs.exists()


def test_with_a_gpu_the_batch_is_not_counted_against_this_ram(monkeypatch) -> None:
    """A GPU holds the activations: a big batch that fits a GPU box is not refused for the host's RAM."""
    from cnn_tui.core.models import memory
    from cnn_tui.core.presets import load_preset

    config = apply_overrides(load_preset("digits-quick"), ["train.batch_size=65536", "data.image_size=[256, 256]"])
    monkeypatch.setattr(memory, "gpu_present", lambda: False)
    with pytest.raises(Exception, match="one batch of activations"):
        memory.check_memory(config, (256, 256, 1), 10, available=8 << 30)
    monkeypatch.setattr(memory, "gpu_present", lambda: True)
    memory.check_memory(config, (256, 256, 1), 10, available=8 << 30)


def test_the_memory_estimate_lets_the_presets_run(monkeypatch) -> None:
    """No false refusals: every built-in preset, at its own sizes, fits in 8 GB."""
    from cnn_tui.core.models import memory
    from cnn_tui.core.presets import list_presets, load_preset

    checked = 0
    for info in list_presets():
        config = load_preset(info.name)
        size = config.data.image_size or ((32, 32) if "cifar" in config.data.dataset else (28, 28))
        channels = 3 if "cifar" in config.data.dataset or config.data.dataset.startswith("folder") else 1
        try:
            memory.check_memory(config, (*size, channels), 10, images=60_000, available=8 << 30)
        except Exception as exc:  # noqa: BLE001 - report which preset
            pytest.fail(f"{info.name}: {exc}")
        checked += 1
    assert checked >= 5


CHECKPOINTS = {
    "truncated": b"PK\x03\x04 truncated zip",
    "not a zip": b"hello",
    "empty": b"",
}


@pytest.mark.parametrize("content", list(CHECKPOINTS.values()), ids=list(CHECKPOINTS))
def test_resuming_from_a_damaged_checkpoint_is_one_line(tmp_path, capsys, content) -> None:
    import zipfile

    runs = tmp_path / "runs"
    writer = RunStore(runs).create(apply_overrides(ExperimentConfig(name="stored"), {"train.epochs": 5}))
    for epoch in (1, 2):
        writer.append_history({"epoch": epoch, "loss": 1.0, "accuracy": 0.5, "lr": 1e-3, "seconds": 0.1})
    (writer.path / "checkpoint.keras").write_bytes(content)
    writer.update_status(checkpoint_epoch=2)
    writer.finish("stopped")
    before = _files(tmp_path)
    code = main(["resume", writer.run_id, "--runs-dir", str(runs)])
    _one_line(code, capsys.readouterr().err, writer.run_id, "checkpoint.keras")
    assert _files(tmp_path) == before
    with zipfile.ZipFile(writer.path / "checkpoint.keras", "w") as archive:  # a zip, but not a model
        archive.writestr("notes.txt", "hi")
    code = main(["resume", writer.run_id, "--runs-dir", str(runs)])
    _one_line(code, capsys.readouterr().err, "not a Keras model archive")


HISTORIES = {
    "semicolons (a spreadsheet's save)": "epoch;loss;accuracy\n1;1.0;0.5\n2;1.0;0.5\n",
    "a garbage row": None,
    "not UTF-8": b"\xff\xfe\x00garbage\n",
}


@pytest.mark.parametrize("case", list(HISTORIES))
def test_resume_refuses_a_history_it_would_rewrite_without_some_lines(tmp_path, capsys, case) -> None:
    """Resume truncates history.csv to the checkpoint's epochs: a line it cannot read would be lost."""
    from cnn_tui.core.errors import RunStoreError

    runs = tmp_path / "runs"
    writer = RunStore(runs).create(apply_overrides(ExperimentConfig(name="stored"), {"train.epochs": 5}))
    for epoch in (1, 2):
        writer.append_history({"epoch": epoch, "loss": 1.0, "accuracy": 0.5, "lr": 1e-3, "seconds": 0.1})
    history = writer.path / "history.csv"
    content = HISTORIES[case]
    if content is None:
        history.write_text(history.read_text() + "3,oops,0.5,,,,\n4,1.0,0.5,,,,\n", encoding="utf-8")
    else:
        history.write_bytes(content if isinstance(content, bytes) else content.encode())
    import zipfile

    with zipfile.ZipFile(writer.path / "checkpoint.keras", "w") as archive:  # passes the cheap archive check
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", "")
    writer.update_status(checkpoint_epoch=2)
    writer.finish("stopped")
    before = _files(tmp_path)
    code = main(["resume", writer.run_id, "--runs-dir", str(runs)])
    _one_line(code, capsys.readouterr().err, "history.csv")
    assert _files(tmp_path) == before
    store = RunStore(runs)
    with pytest.raises(RunStoreError, match="history.csv"):  # the engine's path (the app) refuses too
        store.open_writer(store.get(writer.run_id))
    assert _files(tmp_path) == before
