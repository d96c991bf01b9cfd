"""Parallel trials (``--workers N``): worker processes, their resources, and everything a
sequential study has (run folders, table, resume, stop, skip, failures).

The real-process tests train tiny digits models in worker processes: some 20-60 s each on
2 shared CPU cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cli_env import cli_env
from cnn_tui.cli import main
from cnn_tui.core.config import apply_overrides
from cnn_tui.core.engine import events as ev
from cnn_tui.core.engine.executors import (
    ProcessExecutor,
    WorkerEvent,
    detect_gpus,
    dumps,
    event_from_dict,
    event_to_dict,
    threads_per_trial,
    worker_env,
)
from cnn_tui.core.engine.experiments import run_experiment
from cnn_tui.core.results.experiment_store import read_progress
from cnn_tui.core.presets import load_preset
from cnn_tui.core.results.store import RunStore

REPO = Path(__file__).resolve().parents[1]
TINY = ["train.epochs=1", "data.train_limit=200", "data.test_limit=100", "train.batch_size=32",
        "train.tensorboard=false", "train.save_model=false", "train.checkpoint=false"]
GRID = ["--grid", "model.batch_norm=true,false", "--repeat", "2"]


def _sets(items: list[str]) -> list[str]:
    return [a for item in items for a in ("--set", item)]


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------------------
# Resources and wire format (no TensorFlow)


def test_worker_env_shares_cores_and_pins_gpus_round_robin():
    base = {"PATH": "/bin", "PYTHONPATH": "/elsewhere"}
    envs = [worker_env(slot, 3, cpus=8, gpus=["0", "1"], base=base) for slot in range(3)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0"]
    assert all(e["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for e in envs)
    assert {e["TF_NUM_INTRAOP_THREADS"] for e in envs} == {e["TF_NUM_INTEROP_THREADS"] for e in envs} == {"2"}
    # This cnn_tui first on the path, so workers import the same code as the study.
    assert envs[0]["PYTHONPATH"].split(os.pathsep) == [str(REPO), "/elsewhere"]
    cpu_only = worker_env(0, 2, cpus=2, gpus=[], base={})
    assert "CUDA_VISIBLE_DEVICES" not in cpu_only and cpu_only["TF_NUM_INTRAOP_THREADS"] == "1"
    assert threads_per_trial(4, 2) == 1 and threads_per_trial(2, 16) == 8


def test_detect_gpus_from_the_environment_and_a_fake_nvidia_smi(tmp_path):
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert detect_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nprintf '0\\n1\\n'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert detect_gpus({}, nvidia_smi=str(fake)) == ["0", "1"]
    assert detect_gpus({}, nvidia_smi=str(tmp_path / "absent")) == []


def test_events_survive_the_wire():
    samples = [
        ev.RunStarted("r1", Path("/x/r1"), "n", "CPU (2 cores)", 10, 3, 7, 100, 10, 20, ("a", "b")),
        ev.BatchEnd(1, 2, 7, {"loss": 0.5}),
        ev.EpochEnd(1, 3, {"loss": 0.5, "val_accuracy": 0.9}, 1e-3, 1.25),
        ev.Log("warning", "hm"),
        ev.Evaluated({"test_accuracy": 0.8}),
        ev.RunFinished("r1", Path("/x/r1"), "completed", {"test_accuracy": 0.8}),
        ev.RunFailed(None, None, "boom"),
    ]
    for event in samples:
        wire = json.loads(dumps(event_to_dict(event)))
        assert event_from_dict(wire["event"], wire["data"]) == event
    assert event_from_dict("Path", {}) is None


def test_cli_rejects_bad_worker_options(tmp_path, monkeypatch):
    runs = ["--runs-dir", str(tmp_path)]
    code, _, err = _cli(["sweep", "digits-quick", *GRID, "--workers", "0", *runs])
    assert code == 2 and err.count("\n") == 1 and "--workers: 0 is not allowed" in err
    code, _, err = _cli(["sweep", "digits-quick", *GRID, "--ray-address", "10.0.0.1:6379", *runs])
    assert code == 2 and "--ray-address needs --executor ray" in err
    monkeypatch.setitem(sys.modules, "ray", None)  # how Python marks a module unimportable
    code, _, err = _cli(["sweep", "digits-quick", *GRID, "--executor", "ray", *runs])
    assert code == 2 and err.count("\n") == 1 and 'pip install -e ".[ray]"' in err
    assert not (tmp_path / "experiments").exists()


# ---------------------------------------------------------------------------------------
# Real worker processes


def test_workers_2_grid_gives_the_sequential_folders_and_table(tmp_path):
    seq_runs, par_runs = tmp_path / "seq", tmp_path / "par"
    code, seq_out, err = _cli(["sweep", "digits-quick", *GRID, "--runs-dir", str(seq_runs), *_sets(TINY)])
    assert code == 0, err
    code, par_out, err = _cli(["sweep", "digits-quick", *GRID, "--runs-dir", str(par_runs), "--workers", "2",
                               *_sets(TINY)])
    assert code == 0, err
    assert "[g01-s42] epoch 1/1" in err and "[g02-s43] epoch 1/1" in err  # each trial's epochs, labelled
    runs = RunStore(par_runs).list()
    assert sorted(r.tags["trial"] for r in runs) == ["g01-s42", "g01-s43", "g02-s42", "g02-s43"]
    assert all(r.state == "completed" for r in runs)
    exp = Path(par_out.strip().splitlines()[-1])
    progress = read_progress(exp)
    assert progress["state"] == "completed"
    assert {t["run_id"] for t in progress["trials"]} == {r.run_id for r in runs}

    def table(text: str) -> list[list[str]]:  # the md table without its train_seconds column
        rows = [line.split("|") for line in text.splitlines() if line.startswith("|")]
        seconds = [cell.strip() for cell in rows[0]].index("train_seconds")
        return [row[:seconds] + row[seconds + 1:] for row in rows]

    assert table(par_out) == table(seq_out)  # same layout, same numbers (seeded), n=2 per cell
    assert [row[3].strip() for row in table(par_out)[2:]] == ["2", "2"]


def test_a_killed_worker_fails_its_trial_a_skip_and_a_stop_end_theirs(tmp_path):
    """Trial 1's worker is SIGKILLed (failed, with the reason), trial 2 is skipped by its id,
    the study is stopped as trial 3 starts; a new worker takes the dead one's slot."""
    base = apply_overrides(load_preset("digits-quick"), TINY)
    plan = {"kind": "grid", "grid": {"model.batch_norm": [True, False]}, "repeat": 2}
    executor = ProcessExecutor(2)
    stop = threading.Event()
    seen: list[tuple[str, str]] = []

    def on_event(event):
        assert isinstance(event, WorkerEvent)
        seen.append((event.trial_id, type(event.event).__name__))
        if not isinstance(event.event, ev.RunStarted):
            return
        if event.trial_id == "g01-s42":
            os.kill(executor.running()["g01-s42"], signal.SIGKILL)
        elif event.trial_id == "g01-s43":
            assert executor.skip("g01-s43")
        else:
            stop.set()

    exp = run_experiment(base, plan, runs_dir=tmp_path, on_event=on_event, stop=stop, executor=executor)
    trials = read_progress(exp)["trials"]
    states = [t["state"] for t in trials]
    assert states[:3] == ["failed", "skipped", "stopped"] and states[3] in ("stopped", "pending")
    assert trials[0]["error"].startswith("trial process killed by SIGKILL")
    runs = {r.run_id: r for r in RunStore(tmp_path).list()}
    assert runs[trials[0]["run_id"]].state == "crashed"  # its folder is kept and reads as crashed
    assert runs[trials[1]["run_id"]].state == "stopped" and runs[trials[2]["run_id"]].state == "stopped"
    assert read_progress(exp)["state"] == "stopped"
    assert executor.running() == {}


_env = cli_env


def test_sigkill_of_a_study_with_workers_then_resume_runs_each_trial_once(tmp_path):
    runs = tmp_path / "runs"
    config = [*TINY[:-1], "train.epochs=2", "data.train_limit=600"]
    argv = [sys.executable, "-m", "cnn_tui", "sweep", "digits-quick", *GRID, "--workers", "2", *_sets(config)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            env=_env(tmp_path), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # kill once a trial completed and later ones run
            found = list((runs / "experiments").glob("*/progress.json")) if (runs / "experiments").is_dir() else []
            if found:
                states = [t["state"] for t in read_progress(found[0].parent)["trials"]]
                if "completed" in states and "running" in states[states.index("completed"):]:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the study never reached a completed trial followed by a running one")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    exp = found[0].parent
    before = read_progress(exp)["trials"]
    done_before = {t["trial_id"]: t["run_id"] for t in before if t["state"] == "completed"}
    # The orphaned workers see their stdin end and stop after their batch (stored, not crashed).
    deadline = time.monotonic() + 120
    while any(r.state == "running" for r in RunStore(runs).list()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {r.state for r in RunStore(runs).list()} <= {"completed", "stopped"}

    code, out, err = _cli(["experiment", "--resume", "latest", "--workers", "2", "--runs-dir", str(runs)])
    assert code == 0, err
    after = read_progress(exp)["trials"]
    assert [t["state"] for t in after] == ["completed"] * 4
    assert all(next(t for t in after if t["trial_id"] == k)["run_id"] == v for k, v in done_before.items())
    completed = [r for r in RunStore(runs).list() if r.state == "completed"]
    assert sorted(r.tags["trial"] for r in completed) == ["g01-s42", "g01-s43", "g02-s42", "g02-s43"]
    assert len(done_before) < 4  # the kill landed mid-way


def test_a_returned_run_folder_is_unpacked_whole_and_only_inside_its_name(tmp_path):
    import tarfile

    from cnn_tui.core.engine.ray_executor import unpack_run
    from cnn_tui.core.errors import RunStoreError

    def tar_of(entries: dict[str, bytes]) -> bytes:
        stream = io.BytesIO()
        with tarfile.open(fileobj=stream, mode="w:gz") as tar:
            for name, data in entries.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return stream.getvalue()

    path = unpack_run(tar_of({"r1/status.json": b"{}", "r1/metrics.json": b"{}"}), tmp_path, "r1")
    assert path == tmp_path / "r1" and sorted(p.name for p in path.iterdir()) == ["metrics.json", "status.json"]
    for bad in ({"r2/../evil": b"x"}, {"other/status.json": b"x"}):
        with pytest.raises(RunStoreError, match="unexpected entry"):
            unpack_run(tar_of(bad), tmp_path, "r2")
    with pytest.raises(RunStoreError, match="already exists"):
        unpack_run(tar_of({"r1/x": b""}), tmp_path, "r1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1"]  # nothing torn or left behind


def test_worker_protocol_answers_each_job_and_ends_with_its_stdin():
    """The worker process itself: every job is answered (a job it cannot build ``failed``
    with the reason; no TensorFlow needed for that), a stop that came before its job does
    not break it, and the end of stdin ends the process."""
    env = worker_env(0, 1, cpus=1, gpus=[])
    env.pop("CNN_TUI_TF_THREADS")  # nothing to size: the worker then never imports TensorFlow
    proc = subprocess.Popen([sys.executable, "-m", "cnn_tui.core.engine.trial_worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    jobs = [{"job": {"trial": t, "config": {"model": {"bogus": 1}}, "runs_dir": "/nonexistent", "name": t,
                     "tags": {}}} for t in ("a", "b")]
    proc.stdin.write("\n".join(json.dumps(j) for j in [{"cmd": "stop", "trial": "b"}, *jobs]) + "\n")
    proc.stdin.flush()
    lines = [json.loads(proc.stdout.readline()) for _ in jobs]  # before the end of stdin: both answered
    out, err = proc.communicate(timeout=60)  # closes stdin: the worker ends
    assert proc.returncode == 0 and out == "", err
    assert [m["trial"] for m in lines] == ["a", "b"]
    assert all(m["result"]["status"] == "failed" and "bogus" in m["result"]["error"] for m in lines)
    assert "tensorflow" not in err.lower()


def test_ctrl_c_stops_the_running_trials_after_their_batch_and_exits_130(tmp_path):
    runs = tmp_path / "runs"
    # 300 epochs: a trial must not finish before the Ctrl+C, however late its epoch lines
    # reach this process on a loaded machine (30 epochs once did: "completed").
    config = [*TINY, "train.epochs=300", "data.train_limit=600"]
    argv = [sys.executable, "-m", "cnn_tui", "sweep", "digits-quick", *GRID, "--workers", "2", *_sets(config)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=_env(tmp_path), cwd=tmp_path)
    started: set[str] = set()
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # "[g01-s42] epoch 1/30 ..." from each worker
            if "] epoch 1/300" in line:
                started.add(line.split("]")[0].lstrip("["))
            if len(started) == 2:
                break
        proc.send_signal(signal.SIGINT)  # as a terminal's Ctrl+C would, to the study's process
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert started == {"g01-s42", "g01-s43"}
    assert proc.returncode == 130
    exp = Path(out.strip().splitlines()[-1])
    trials = read_progress(exp)["trials"]
    assert [t["state"] for t in trials] == ["stopped", "stopped", "pending", "pending"], trials
    stored = {r.run_id: r for r in RunStore(runs).list()}
    assert all(stored[t["run_id"]].state == "stopped" for t in trials[:2])
    assert all(int(stored[t["run_id"]].metrics["epochs_completed"]) < 300 for t in trials[:2])


def test_a_worker_loads_its_study_dataset_once_for_all_its_trials(tmp_path, monkeypatch):
    """The jobs a worker trains one after another share their data config: it reads the
    dataset once (here two jobs that fail right after loading it, at planning: no
    TensorFlow needed), and keeps nothing once its jobs have ended."""
    import numpy as np

    from cnn_tui.core.config import config_to_dict
    from cnn_tui.core.data import sources
    from cnn_tui.core.engine import trial_worker

    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"  # 2x2 images: the preset's pools cannot shrink them, a ModelError per trial
    np.savez(data, x_train=rng.integers(0, 256, (40, 2, 2, 1), dtype=np.uint8), y_train=np.arange(40) % 2)
    config = config_to_dict(apply_overrides(load_preset("digits-quick"), [f"data.dataset=arrays:{data}"]))
    loads: list[str] = []
    real_load = sources._load
    monkeypatch.setattr(sources, "_load", lambda cfg, *a: loads.append(cfg.dataset) or real_load(cfg, *a))
    monkeypatch.delenv("CNN_TUI_TF_THREADS", raising=False)
    read_fd, write_fd = os.pipe()
    results: list[dict] = []
    done = threading.Event()

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            for line in text.splitlines():
                if '"result"' in line:
                    results.append(json.loads(line))
            if len(results) == 2:
                done.set()
            return len(text)

    with os.fdopen(read_fd) as commands, os.fdopen(write_fd, "w") as feed:
        served = threading.Thread(target=trial_worker.serve, args=(commands, trial_worker._Channel(Out())))
        served.start()
        for trial in ("a", "b"):
            feed.write(json.dumps({"job": {"trial": trial, "config": config, "runs_dir": str(tmp_path / "runs"),
                                           "name": trial, "tags": {}}}) + "\n")
        feed.flush()
        assert done.wait(60), results
    served.join(60)
    assert [r["result"]["status"] for r in results] == ["failed", "failed"]
    assert all("would shrink" in r["result"]["error"] for r in results), results
    assert loads == [f"arrays:{data}"]
    assert sources.load_dataset(sources._data_cfg(apply_overrides(load_preset("digits-quick"), [
        f"data.dataset=arrays:{data}"]))) is not None and loads == [f"arrays:{data}"] * 2  # off again


def test_a_worker_ends_without_the_interpreter_teardown_once_its_stdin_ends(tmp_path):
    """The study waits for its workers to end, and a Python process with TensorFlow loaded
    spends seconds tearing down: a worker whose trials are all answered exits at once
    (exit code 0, no atexit handler run)."""
    hook, mark = tmp_path / "hook", tmp_path / "teardown-ran"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import atexit, os\natexit.register(lambda: open(os.environ['TEARDOWN_MARK'], 'w').close())\n")
    env = worker_env(0, 1, cpus=1, gpus=[])
    env.pop("CNN_TUI_TF_THREADS")  # no TensorFlow needed for a job that fails to build
    env.update(PYTHONPATH=os.pathsep.join([str(hook), env["PYTHONPATH"]]), TEARDOWN_MARK=str(mark))
    proc = subprocess.Popen([sys.executable, "-m", "cnn_tui.core.engine.trial_worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    job = {"trial": "a", "config": {"model": {"bogus": 1}}, "runs_dir": str(tmp_path), "name": "a", "tags": {}}
    proc.stdin.write(json.dumps({"job": job}) + "\n")
    proc.stdin.flush()
    answer = json.loads(proc.stdout.readline())
    out, err = proc.communicate(timeout=60)  # closes stdin: the worker ends
    assert proc.returncode == 0 and out == "", err
    assert answer["result"]["status"] == "failed"
    assert not mark.exists()
