"""The headless CLI: bad input exits 2 with one line, run/export/presets/datasets/runs work.

The engine is replaced by the fake in test_cli_support (a real run folder, scripted
events, no TensorFlow); the real end-to-end run is tested elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import test_cli_support as support
from cnn_tui.cli import COMMAND_MODULES, build_parser, main
from cnn_tui.core.results.store import RunStore

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SUPPORT = Path(__file__).resolve().parent / "test_cli_support.py"
BAD_TOMLS = sorted(DATA.glob("bad_*.toml"))

OK_TOML = """\
name = "cli-ok"
description = "a tiny config for the CLI tests"

[data]
dataset = "digits"

[train]
epochs = 3
batch_size = 32
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Isolated runs and presets folders, a valid TOML, and the fake engine installed."""
    paths = {
        "root": tmp_path,
        "runs": tmp_path / "runs",
        "presets": tmp_path / "presets",
        "ok": tmp_path / "ok.toml",
    }
    paths["ok"].write_text(OK_TOML, encoding="utf-8")
    monkeypatch.setenv("CNN_TUI_RUNS_DIR", str(paths["runs"]))
    monkeypatch.setenv("CNN_TUI_PRESETS_DIR", str(paths["presets"]))
    monkeypatch.chdir(tmp_path)
    import cnn_tui.core.engine as engine

    monkeypatch.setattr(engine, "train", support.fake_train)
    return paths


def run_sub(args: list[str], env_paths: dict[str, Path], *, mode: str = "ok", timeout: float = 60) -> subprocess.CompletedProcess:
    """``cnn-tui ARGS`` in a fresh interpreter with the fake engine (stdin/stdout/stderr are pipes: not a TTY)."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), str(SUPPORT.parent)]),
        CNN_TUI_RUNS_DIR=str(env_paths["runs"]),
        CNN_TUI_PRESETS_DIR=str(env_paths["presets"]),
        FAKE_ENGINE_MODE=mode,
    )
    return subprocess.run(
        [sys.executable, str(SUPPORT), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=env_paths["root"],
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _make_runs(runs_dir: Path, n: int = 2) -> list:
    from cnn_tui.core.config import ExperimentConfig, apply_overrides

    store = RunStore(runs_dir)
    made = []
    for i in range(n):
        config = apply_overrides(ExperimentConfig(name=f"made{i}"), {"model.dropout": 0.1 * i, "train.epochs": 3})
        writer = store.create(config)
        for epoch in (1, 2, 3):
            writer.append_history({"epoch": epoch, "loss": 1 / epoch, "accuracy": 0.7, "val_loss": 0.8, "val_accuracy": 0.75, "lr": 1e-3, "seconds": 0.2})
        writer.write_metrics(support.fake_metrics(3, accuracy=0.8 + i / 100))
        writer.finish("completed")
        made.append(store.get(writer.run_id))
    return made


# ---------------------------------------------------------------------------------------
# The bad-input catalogue: exit 2, one stderr line, no traceback.


def _catalogue(env: dict[str, Path]) -> list[tuple[str, list[str]]]:
    existing = env["root"] / "exists.md"
    cases = [(f"file {p.name}", ["run", str(p)]) for p in BAD_TOMLS]
    cases += [
        ("unknown preset", ["run", "no-such-preset"]),
        ("unknown dataset via --set", ["run", str(env["ok"]), "--set", "data.dataset=nope"]),
        ("dropout via --set", ["run", str(env["ok"]), "--set", "model.dropout=1.5"]),
        ("unknown key via --set", ["run", str(env["ok"]), "--set", "model.nope=1"]),
        ("preset name with ../ (show)", ["presets", "show", "../evil"]),
        ("preset name with ../ (save)", ["presets", "save", "../evil", "--from", str(env["ok"])]),
        ("preset name with ../ (run)", ["run", "../evil"]),
        ("missing TOML file", ["run", str(env["root"] / "missing.toml")]),
        ("bad --set syntax", ["run", str(env["ok"]), "--set", "model.dropout"]),
        ("bad --set key", ["run", str(env["ok"]), "--set", "=3"]),
        ("export over an existing file", ["export", "--format", "md", "--output", str(existing)]),
        ("unknown run id (show)", ["runs", "show", "no-such-run"]),
        ("unknown run id (export)", ["export", "no-such-run"]),
        ("unknown option", ["run", str(env["ok"]), "--bogus"]),
    ]
    return cases


CASE_IDS = [f"file {p.name}" for p in BAD_TOMLS] + [
    "unknown preset",
    "unknown dataset via --set",
    "dropout via --set",
    "unknown key via --set",
    "preset name with ../ (show)",
    "preset name with ../ (save)",
    "preset name with ../ (run)",
    "missing TOML file",
    "bad --set syntax",
    "bad --set key",
    "export over an existing file",
    "unknown run id (show)",
    "unknown run id (export)",
    "unknown option",
]


def _prepare_catalogue(env: dict[str, Path], case: str) -> list[str]:
    _make_runs(env["runs"], 1)
    (env["root"] / "exists.md").write_text("keep me\n")
    return dict(_catalogue(env))[case]


def _assert_one_line_error(code: int, err: str, out: str) -> None:
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "error:" in lines[0]
    assert "Traceback" not in err
    assert out.strip() == ""


def test_catalogue_has_a_file_per_bad_toml() -> None:
    assert len(BAD_TOMLS) >= 8


@pytest.mark.parametrize("case", CASE_IDS)
def test_bad_input_in_process(case: str, env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    argv = _prepare_catalogue(env, case)
    code = main(argv)
    captured = capsys.readouterr()
    _assert_one_line_error(code, captured.err, captured.out)
    assert (env["root"] / "exists.md").read_text() == "keep me\n"
    # Nothing trained: only the run made by the fixture is there.
    assert len(RunStore(env["runs"]).list()) == 1


@pytest.mark.parametrize("case", CASE_IDS)
def test_bad_input_subprocess(case: str, env: dict[str, Path]) -> None:
    argv = _prepare_catalogue(env, case)
    proc = run_sub(argv, env)
    _assert_one_line_error(proc.returncode, proc.stderr, proc.stdout)
    assert proc.stderr.startswith("cnn-tui")


def test_error_messages_name_the_problem(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    main(["run", str(DATA / "bad_dropout.toml")])
    err = capsys.readouterr().err
    assert "bad_dropout.toml" in err and "model.dropout" in err and "1.5" in err
    main(["run", str(env["ok"]), "--set", "data.dataset=nope"])
    err = capsys.readouterr().err
    assert "nope" in err and "digits" in err
    main(["presets", "show", "../evil"])
    assert "../evil" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------
# run


def test_run_prints_the_run_folder_last_and_plain_epoch_lines(env: dict[str, Path]) -> None:
    proc = run_sub(["run", str(env["ok"]), "--set", "train.epochs=2", "--name", "sub"], env)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert run_dir.is_dir() and run_dir.parent == env["runs"]
    assert "-sub-" in run_dir.name
    assert "\r" not in proc.stderr
    epoch_lines = [line for line in proc.stderr.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 2
    assert epoch_lines[0].startswith("epoch 1/2  loss 1.0000  acc 0.5100  val_loss 1.1000  val_acc 0.6000  lr 1e-3  0.5s")
    # Results on stdout (the summary, then the run folder last); progress on stderr.
    assert proc.stdout.strip().splitlines() == [
        "done: test accuracy 0.9123  test loss 0.3333  F1 weighted 0.9023  F1 macro 0.8923  trained in 0:01",
        str(run_dir),
    ]
    assert "test accuracy" not in proc.stderr
    run = RunStore(env["runs"]).get("latest")
    assert run.state == "completed" and run.config.train.epochs == 2


def test_run_in_process_uses_the_engine_and_overrides(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["run", str(env["ok"]), "--set", "model.dropout=0.25", "--runs-dir", str(env["root"] / "other")]) == 0
    captured = capsys.readouterr()
    run_dir = Path(captured.out.strip().splitlines()[-1])
    assert run_dir.parent == env["root"] / "other"
    assert RunStore(run_dir.parent).get("latest").config.model.dropout == 0.25
    assert "\r" not in captured.err  # capsys is not a TTY
    assert captured.out.strip().splitlines()[0].startswith("done: test accuracy 0.9123")
    assert len(captured.out.strip().splitlines()) == 2 and "done:" not in captured.err


def test_run_failed_exits_1_and_still_prints_the_folder(env: dict[str, Path]) -> None:
    proc = run_sub(["run", str(env["ok"])], env, mode="fail")
    assert proc.returncode == 1
    assert "run failed: loss became NaN" in proc.stderr
    assert [Path(line).is_dir() for line in proc.stdout.strip().splitlines()] == [True]  # the folder only
    assert RunStore(env["runs"]).get("latest").state == "failed"


def test_run_accepts_a_user_preset(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["presets", "save", "my-quick", "--from", str(env["ok"]), "--set", "train.epochs=1"]) == 0
    capsys.readouterr()
    assert main(["run", "my-quick"]) == 0
    run = RunStore(env["runs"]).get("latest")
    assert run.config.name == "my-quick" and run.config.train.epochs == 1


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_the_run_and_exits_130(env: dict[str, Path]) -> None:
    import signal

    env_vars = dict(os.environ)
    env_vars.update(
        PYTHONPATH=os.pathsep.join([str(REPO), str(SUPPORT.parent)]),
        CNN_TUI_RUNS_DIR=str(env["runs"]),
        CNN_TUI_PRESETS_DIR=str(env["presets"]),
        FAKE_ENGINE_MODE="slow",
    )
    proc = subprocess.Popen(
        [sys.executable, str(SUPPORT), "run", str(env["ok"]), "--set", "train.epochs=50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env_vars,
        cwd=env["root"],
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait until training is under way
            if line.startswith("epoch 1/"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "stopping" in err
    run = RunStore(env["runs"]).get("latest")
    assert run.state == "stopped"
    assert out.strip().splitlines()[-1] == str(run.path)
    assert out.strip().splitlines()[0].startswith("stopped after ") and "test accuracy" in out.splitlines()[0]


def test_sigint_handler_is_restored_after_the_run(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    import signal

    before = signal.getsignal(signal.SIGINT)
    assert main(["run", str(env["ok"])]) == 0
    assert signal.getsignal(signal.SIGINT) is before


def test_progress_bar_on_a_tty_uses_carriage_returns() -> None:
    import io

    from cnn_tui.cli.common import Progress
    from cnn_tui.core.engine.events import BatchEnd, EpochEnd, RunStarted

    stream = io.StringIO()
    ticks = iter(range(100))
    progress = Progress(stream, tty=True, clock=lambda: float(next(ticks)))
    progress(RunStarted("r", Path("r"), "n", "CPU", 10, 2, 4, 100, 10, 10, ("a", "b")))
    for step in (1, 2, 3, 4):
        progress(BatchEnd(1, step, 4, {"loss": 0.5, "accuracy": 0.75}))
    progress(EpochEnd(1, 2, {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.4, "val_accuracy": 0.8}, 0.01, 4.0))
    progress(BatchEnd(2, 2, 4, {"loss": 0.4, "accuracy": 0.8}))
    progress.close()
    text = stream.getvalue()
    assert "\r" in text
    assert "epoch 1/2 [" in text and "2/4" in text and "loss 0.5000" in text and "ETA" in text
    assert "epoch 1/2  loss 0.5000  acc 0.7500  val_loss 0.4000  val_acc 0.8000  lr 0.01  4.0s\n" in text
    # The clock ticks 1 s per batch. Step 1: no rate yet. Step 2: 1 s/step -> 2 s left of
    # epoch 1 + 4 s for epoch 2. Epoch 2, step 2: half of the last epoch's 4 s.
    assert "ETA ?" in text and "ETA 0:06" in text and "ETA 0:02" in text


def test_progress_off_a_tty_prints_only_epoch_lines() -> None:
    import io

    from cnn_tui.cli.common import Progress
    from cnn_tui.core.engine.events import BatchEnd, EpochEnd, Log

    stream = io.StringIO()
    progress = Progress(stream, tty=False)
    progress(BatchEnd(1, 1, 4, {"loss": 0.5}))
    progress(EpochEnd(1, 3, {"loss": 0.5, "accuracy": 0.75}, 2.5e-4, 1.25))
    progress(Log("warning", "something odd"))
    assert stream.getvalue() == "epoch 1/3  loss 0.5000  acc 0.7500  lr 2.5e-4  1.2s\nwarning: something odd\n"


# ---------------------------------------------------------------------------------------
# runs, export


def test_runs_list_table_and_json(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    made = _make_runs(env["runs"], 2)
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    # metrics right after the state, as on the app's Runs screen
    assert lines[0].split() == ["ID", "NAME", "STATE", "TEST", "ACC", "F1", "W", "EPOCHS", "DATASET", "CREATED"]
    assert len(lines) == 3 and "made0" in lines[1] and "completed" in lines[1] and "3/3" in lines[1]
    assert "0.8000" in lines[1] and "0.8100" in lines[2]
    assert main(["runs", "list", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["run_id"] for d in data] == [r.run_id for r in made]
    assert data[0]["test_accuracy"] == 0.8 and data[0]["dataset"] == "digits"


def test_runs_list_sort_filter_and_config_columns(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    made = _make_runs(env["runs"], 3)
    assert main(["runs", "list", "--sort", "test_accuracy", "--reverse", "--columns", "model.dropout"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[-1] == "model.dropout"
    assert [line.split()[1] for line in lines[1:]] == ["made2", "made1", "made0"]
    assert lines[1].split()[-1] == "0.2" and lines[3].split()[-1] == "0.0"
    assert main(["runs", "list", "--filter", "made1 completed", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["run_id"] for d in data] == [made[1].run_id]
    assert main(["runs", "list", "--sort", "colour"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--sort: 'colour'" in err and "test_accuracy" in err
    assert main(["runs", "list", "--columns", "model.dropuot"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "model.dropout" in err  # did you mean
    assert main(["runs", "list", "--filter", "nothing-like-this"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "matches" in captured.err


def test_runs_list_shows_crashed(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    store = RunStore(env["runs"])
    from cnn_tui.core.config import ExperimentConfig

    writer = store.create(ExperimentConfig(name="dies"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    writer.update_status(pid=int(dead.stdout))
    assert main(["runs", "list", "--runs-dir", str(env["runs"])]) == 0
    assert "crashed" in capsys.readouterr().out


def test_runs_list_empty(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["runs", "list"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no runs" in captured.err


def test_runs_show(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    made = _make_runs(env["runs"], 2)
    assert main(["runs", "show", made[1].short_id]) == 0
    out = capsys.readouterr().out
    assert made[1].run_id in out and str(made[1].path) in out
    assert "completed" in out
    assert "model.dropout = 0.1" in out
    assert "history" in out and "val_acc" in out
    assert "test accuracy" in out and "0.8100" in out
    assert "per class" in out and "zero" in out
    assert main(["runs", "show", "latest", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run_id"] == made[1].run_id and len(data["history"]) == 3
    assert data["config"]["model"]["dropout"] == pytest.approx(0.1)


def test_global_runs_dir_option(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    made = _make_runs(env["root"] / "elsewhere", 1)
    assert main(["--runs-dir", str(env["root"] / "elsewhere"), "runs", "list"]) == 0
    assert made[0].short_id in capsys.readouterr().out


def test_export_prints_a_markdown_table(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    made = _make_runs(env["runs"], 2)
    assert main(["export", "--format", "md"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].startswith("| run") and "model.dropout" in lines[0] and "test_accuracy" in lines[0]
    assert set(lines[1]) <= set("|-: ")
    assert len(lines) == 4 and made[0].run_id in lines[2]


def test_export_subprocess_md_to_stdout(env: dict[str, Path]) -> None:
    _make_runs(env["runs"], 2)
    proc = run_sub(["export", "--format", "md"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("| run ")
    assert proc.stderr == ""


def test_export_selected_runs_to_files(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    made = _make_runs(env["runs"], 3)
    target = env["root"] / "out" / "table.csv"
    assert main(["export", made[0].short_id, made[2].short_id, "--output", str(target)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(target)
    text = target.read_text()
    assert text.startswith("run,name,state,") and made[1].run_id not in text and text.count("\n") == 3
    assert main(["export", "latest", "--output", str(target)]) == 2  # exists, no --force
    assert "--force" in capsys.readouterr().err
    assert main(["export", "latest", "--output", str(target), "--force", "--format", "latex", "--transpose"]) == 0
    assert "\\toprule" in target.read_text()
    capsys.readouterr()
    assert main(["export", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3


def test_export_with_no_runs_is_bad_input(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["export"]) == 2
    assert "no runs" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------
# presets, datasets, misc


def test_presets_save_list_show(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["presets", "save", "mine", "--from", str(env["ok"]), "--set", "model.dropout=0.3"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == env["presets"] / "mine.toml" and path.exists()
    assert main(["presets", "save", "mine", "--from", str(env["ok"])]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["presets", "save", "mine", "--from", str(env["ok"]), "--force"]) == 0
    capsys.readouterr()

    assert main(["presets", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.strip().splitlines()[1:]}
    assert "mine" in rows and " user " in rows["mine"] and "tiny config" in rows["mine"]
    assert out.splitlines()[0].split() == ["NAME", "ORIGIN", "DESCRIPTION"]

    assert main(["presets", "show", "mine"]) == 0
    shown = capsys.readouterr().out
    assert 'name = "mine"' in shown and "epochs = 3" in shown
    assert main(["presets", "show", "mine", "--resolved"]) == 0
    assert "learning_rate" in capsys.readouterr().out


def test_presets_list_subprocess(env: dict[str, Path]) -> None:
    proc = run_sub(["presets", "list"], env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_datasets_lists_digits_as_available(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].split()[:6] == ["NAME", "SHAPE", "CLASSES", "TRAIN", "TEST", "OFFLINE"]
    digits = next(line for line in lines if line.startswith("digits "))
    assert "8x8x1" in digits and " yes " in digits
    names = {line.split()[0] for line in lines[1:]}
    assert {"digits", "fashion_mnist", "mnist", "cifar10", "cifar100"} <= names
    assert main(["datasets", "digits", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["name"] == "digits" and data[0]["available_offline"] is True


def test_version_and_help(capsys: pytest.CaptureFixture) -> None:
    from cnn_tui import __version__

    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["--help"]) == 0
    help_text = capsys.readouterr().out
    for command in ("run", "runs", "export", "presets", "datasets"):
        assert command in help_text


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "frobnicate" in err


def test_every_command_module_registers() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert {"run", "runs", "export", "presets", "datasets", "tui"} <= set(sub.choices)
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))


def test_bare_command_launches_the_tui(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import gc
    import types

    launched = {}

    class FakeApp:
        def __init__(self, *, runs_dir=None, preset=None):
            launched.update(runs_dir=runs_dir, preset=preset)
            self.return_code = 0

        def run(self):
            launched["ran"] = True
            launched["gc_during_start"] = gc.isenabled()  # paused until the app's first paint

    module = types.ModuleType("cnn_tui.tui.app")
    module.CnnTuiApp = FakeApp
    monkeypatch.setitem(sys.modules, "cnn_tui.tui.app", module)
    assert gc.isenabled()
    assert main(["--runs-dir", str(tmp_path), "--preset", "digits-quick"]) == 0
    assert launched == {"runs_dir": tmp_path, "preset": "digits-quick", "ran": True, "gc_during_start": False}
    assert gc.isenabled()  # switched back on even though this app never painted
    launched.clear()
    assert main(["tui", "--runs-dir", str(tmp_path / "x")]) == 0
    assert launched["runs_dir"] == tmp_path / "x" and launched["preset"] is None


def test_python_dash_m(env: dict[str, Path]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cnn_tui", "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("cnn-tui ")


def test_image_size_as_one_number_in_toml_and_set(env: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    """People type one number for square images: TOML ``image_size = 32`` and ``--set
    data.image_size=32`` both mean [32, 32], and the stored config.toml holds [32, 32]."""
    import tomllib

    square = env["root"] / "square.toml"
    square.write_text(OK_TOML.replace("[data]", "[data]\nimage_size = 16"), encoding="utf-8")
    assert "image_size = 16" in square.read_text(encoding="utf-8")
    assert main(["run", str(square)]) == 0, capsys.readouterr().err
    assert main(["run", str(env["ok"]), "--set", "data.image_size=32"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    stored = {}
    for run in RunStore(env["runs"]).list():
        config = tomllib.loads((run.path / "config.toml").read_text(encoding="utf-8"))
        stored[run.path.name] = config["data"]["image_size"]
    assert sorted(stored.values()) == [[16, 16], [32, 32]], stored
    assert main(["presets", "save", "sq", "--from", str(env["ok"]), "--set", "data.image_size=24"]) == 0
    saved = Path(capsys.readouterr().out.strip())
    assert tomllib.loads(saved.read_text(encoding="utf-8"))["data"]["image_size"] == [24, 24]


def test_readme_ablate_example_has_a_plain_baseline(env: dict[str, Path], capsys: pytest.CaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `ablate` line: the baseline is the plain preset, then + bn, then + dropout."""
    import shlex

    import cnn_tui.core.engine.trainer as trainer

    monkeypatch.setattr(trainer, "train", support.fake_train)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (line,) = [x for x in readme.splitlines() if x.startswith("cnn-tui ablate ")]
    argv = shlex.split(line.split("  #")[0])[1:]
    assert main([*argv, "--set", "train.epochs=1"]) == 0
    out = capsys.readouterr().out
    runs = sorted(RunStore(env["runs"]).list(), key=lambda r: r.tags["trial"])
    assert [r.tags["group"] for r in runs] == ["baseline", "+ bn", "+ dropout"]
    toggles = [(r.config.model.batch_norm, r.config.model.dropout) for r in runs]
    assert toggles == [(False, 0.0), (True, 0.0), (True, 0.3)]
    assert "baseline" in out and out.strip().splitlines()[-1].startswith(str(env["runs"] / "experiments"))
