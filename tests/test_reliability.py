"""Crash safety: a real training process killed with SIGKILL mid-training leaves a run that
every command reads (reported ``crashed``), and ``cnn-tui resume`` completes it with every
epoch in history.csv exactly once. Plus the resume command's refusals (exit 2, one line).

The kill test runs the real engine on digits in subprocesses: some 20-40 s on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from cli_env import cli_env
from cnn_tui.cli import main
from cnn_tui.core.results.history import read_history
from cnn_tui.core.results.store import RunStore

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 12


_env = cli_env


def _cli(args: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cnn_tui", *args],
        capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _assert_readable(run_dir: Path, *, killed: bool = False) -> None:
    """Every stored file parses; no temp file is left behind (a process killed mid-write
    may leave one, under a dot-name no reader looks at, which resume removes)."""
    json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
    tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    if (run_dir / "metrics.json").exists():
        json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    leftovers = [p.name for p in run_dir.iterdir() if ".tmp" in p.name]
    if killed:
        assert all(name.startswith(".") for name in leftovers), leftovers
        assert len(leftovers) <= 1, leftovers
    else:
        assert not leftovers, leftovers


def _run_and_kill(tmp_path: Path, args: list[str], *, after_epochs: int) -> Path:
    """Start ``cnn-tui run ARGS``, SIGKILL it a little after ``after_epochs`` epochs are in
    history.csv; return the run folder."""
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cnn_tui", "run", *args, "--runs-dir", str(runs)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env(tmp_path), cwd=tmp_path,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        run_dir = None
        while time.monotonic() < deadline and proc.poll() is None:
            dirs = [p for p in runs.iterdir() if p.is_dir()] if runs.is_dir() else []
            if dirs and len(read_history(dirs[0])) >= after_epochs:
                run_dir = dirs[0]
                break
            time.sleep(0.05)
        assert run_dir is not None, f"no epoch {after_epochs} before the deadline (rc {proc.poll()})"
        time.sleep(0.15)  # into the next epoch
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return run_dir


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigkill_mid_training_then_resume_completes_with_every_epoch_once(tmp_path: Path) -> None:
    started = time.monotonic()
    runs = tmp_path / "runs"
    run_dir = _run_and_kill(
        tmp_path, ["digits-quick", "--set", f"train.epochs={EPOCHS}", "--set", "train.checkpoint_every=0"],
        after_epochs=2,
    )
    killed_after = len(read_history(run_dir))
    assert 2 <= killed_after < EPOCHS, "the run finished before it could be killed"
    _assert_readable(run_dir, killed=True)

    # Every command still reads the folder; the run is reported crashed.
    listed = _cli(["runs", "list", "--format", "json"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["state"] == "crashed" and row["run_id"] == run_dir.name
    table = _cli(["runs", "list"], tmp_path)
    assert table.returncode == 0 and "crashed" in table.stdout
    shown = _cli(["runs", "show", run_dir.name], tmp_path)
    assert shown.returncode == 0, shown.stderr

    resumed = _cli(["resume", run_dir.name], tmp_path, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert resumed.stdout.strip().splitlines()[-1] == str(run_dir)
    assert "resuming" in resumed.stderr

    run = RunStore(runs).get(run_dir.name)
    assert run.state == "completed"
    assert [row["epoch"] for row in run.history()] == list(range(1, EPOCHS + 1))
    _assert_readable(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["epochs_completed"] == EPOCHS
    assert json.loads((run_dir / "status.json").read_text(encoding="utf-8"))["state"] == "completed"
    print(f"kill at epoch {killed_after + 1}/{EPOCHS}; kill -> resume test took {time.monotonic() - started:.1f} s")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_killed_augmented_run_resumes_and_its_model_opens_in_plain_keras(tmp_path: Path) -> None:
    """The Trust issue's items 1-3 in one real run: an augmented run (cnn-tui's own rot90 and
    affine layers) with the default checkpoint interval, killed after 3 epochs.

    - a checkpoint exists (written at the first epoch end whatever checkpoint_every says);
    - ``cnn-tui resume`` continues it (it loads a checkpoint holding cnn-tui's custom layers
      in a fresh process) with every epoch in history.csv once;
    - the final model.keras loads with plain ``keras.saving.load_model`` in a Python that
      never imports cnn_tui, and predicts what predictions.npz holds.
    """
    from plain_keras import assert_all_load, check_in_plain_keras

    from cnn_tui.core.data import load_dataset

    epochs = 8
    run_dir = _run_and_kill(
        tmp_path,
        ["digits-quick", "--set", f"train.epochs={epochs}", "--set", "data.augment.rot90=true",
         "--set", "data.augment.rotation=10"],
        after_epochs=3,
    )  # fmt: skip
    killed_after = len(read_history(run_dir))
    assert 3 <= killed_after < epochs, "the run finished before it could be killed"
    status = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
    assert (run_dir / "checkpoint.keras").is_file() and (status.get("checkpoint_epoch") or 0) >= 1, (
        f"no checkpoint after {killed_after} completed epochs (checkpoint_epoch {status.get('checkpoint_epoch')})"
    )

    resumed = _cli(["resume", run_dir.name], tmp_path, timeout=180)
    assert "Traceback" not in resumed.stderr, resumed.stderr[-2000:]
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming" in resumed.stderr and "restarting" not in resumed.stderr, resumed.stderr[-2000:]
    run = RunStore(tmp_path / "runs").get(run_dir.name)
    assert run.state == "completed"
    assert [row["epoch"] for row in run.history()] == list(range(1, epochs + 1))

    preds = run.predictions()
    dataset = load_dataset(run.config.data)
    x_test = dataset.x_test[preds["test_index"]]
    result = check_in_plain_keras([(run_dir / "model.keras", x_test, preds["probs"], 1e-4)], tmp_path / "plain")
    assert_all_load(result)


# ---------------------------------------------------------------------------------------
# resume refusals: exit 2, one line, the run untouched (no TensorFlow needed)


def _stored_run(runs: Path, state: str, *, checkpoint: bool = True, epochs_done: int = 2):
    from cnn_tui.core.config import ExperimentConfig, apply_overrides

    config = apply_overrides(ExperimentConfig(name="stored"), {"train.epochs": 5})
    writer = RunStore(runs).create(config)
    for epoch in range(1, epochs_done + 1):
        writer.append_history({"epoch": epoch, "loss": 1.0, "accuracy": 0.5, "lr": 1e-3, "seconds": 0.1})
    if checkpoint:
        (writer.path / "checkpoint.keras").write_bytes(b"not used: refused before loading")
        writer.update_status(checkpoint_epoch=epochs_done)
    if state != "running":
        writer.finish(state)
    return writer.path


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("state", "epochs_done", "fragment"),
    [
        ("completed", 2, "is completed"),
        ("stopped", 5, "already trained all 5 epochs"),
        ("running", 2, "is running"),  # this test process is alive: not crashed
    ],
)
def test_resume_refusals_are_one_line(tmp_path, capsys, state, epochs_done, fragment) -> None:
    """(A run with no checkpoint is not refused: it starts again from epoch 0, see
    test_engine's test_resume_without_a_checkpoint_restarts_from_epoch_0.)"""
    runs = tmp_path / "runs"
    run_dir = _stored_run(runs, state, epochs_done=epochs_done)
    before = _snapshot(run_dir)
    code = main(["resume", run_dir.name, "--runs-dir", str(runs)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.err.count("\n") == 1 and fragment in captured.err and run_dir.name in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert _snapshot(run_dir) == before


def test_resume_unknown_run_and_damaged_config(tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    assert main(["resume", "no-such-run", "--runs-dir", str(runs)]) == 2
    assert "no runs yet" in capsys.readouterr().err
    run_dir = _stored_run(runs, "stopped")
    assert main(["resume", "nope", "--runs-dir", str(runs)]) == 2
    assert "'nope' not found" in capsys.readouterr().err
    (run_dir / "config.toml").write_text("[model\n", encoding="utf-8")
    before = _snapshot(run_dir)
    assert main(["resume", run_dir.name, "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.toml" in err
    assert _snapshot(run_dir) == before


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_second_ctrl_c_leaves_a_readable_crashed_run(tmp_path: Path) -> None:
    """Ctrl+C twice quits at once (exit 130) without tearing files: the run reads as crashed."""
    support = Path(__file__).resolve().parent / "test_cli_support.py"
    toml = tmp_path / "ok.toml"
    toml.write_text('name = "twice"\n[data]\ndataset = "digits"\n[train]\nepochs = 500\n', encoding="utf-8")
    env = _env(tmp_path)
    env.update(PYTHONPATH=os.pathsep.join([str(REPO), str(support.parent)]), FAKE_ENGINE_MODE="stubborn")
    proc = subprocess.Popen([sys.executable, str(support), "run", str(toml)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)  # fmt: skip
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("epoch 2/"):
                break
        proc.send_signal(signal.SIGINT)
        for line in proc.stderr:
            if "stopping" in line:
                break
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    assert proc.returncode == 130
    (run,) = RunStore(tmp_path / "runs").list()
    _assert_readable(run.path)
    assert run.state == "crashed"
    epochs = [row["epoch"] for row in run.history()]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 2
