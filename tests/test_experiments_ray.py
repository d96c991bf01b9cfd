"""``--executor ray`` with a real local Ray instance (one per module: each start costs seconds).

Skipped where Ray is not installed (``pip install -e ".[ray]"``; CI installs it).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from cnn_tui.cli import main
from cnn_tui.core.results.experiment_store import read_progress
from cnn_tui.core.results.store import RunStore

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[ray]")')

TINY = ["train.epochs=1", "data.train_limit=200", "data.test_limit=100", "train.batch_size=32",
        "train.tensorboard=false", "train.save_model=false", "train.checkpoint=false"]


def test_an_unreachable_cluster_is_one_line_exit_2_and_nothing_written(tmp_path):
    # Before the module's Ray instance exists (this process must not be initialised yet).
    assert not ray.is_initialized()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sweep", "digits-quick", "--grid", "model.batch_norm=true,false", "--executor", "ray",
                     "--ray-address", "127.0.0.1:9", "--runs-dir", str(tmp_path / "runs")])
    lines = [line for line in err.getvalue().splitlines() if line.startswith("cnn-tui")]
    assert code == 2 and len(lines) == 1 and "--ray-address 127.0.0.1:9: cannot join the Ray cluster" in lines[0]
    assert not (tmp_path / "runs").exists() and not ray.is_initialized()


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_grid_through_ray_stores_four_runs_on_the_driver(local_ray, tmp_path):
    runs = tmp_path / "runs"
    argv = ["sweep", "digits-quick", "--grid", "model.batch_norm=true,false", "--repeat", "2", "--executor", "ray",
            "--runs-dir", str(runs), *[a for item in TINY for a in ("--set", item)]]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    assert code == 0, err.getvalue()
    stored = RunStore(runs).list()
    assert sorted(r.tags["trial"] for r in stored) == ["g01-s42", "g01-s43", "g02-s42", "g02-s43"]
    assert all(r.state == "completed" and r.metrics.get("test_accuracy") is not None for r in stored)
    assert all(r.path.parent == runs for r in stored)  # unpacked into the driver's runs folder
    exp = Path(out.getvalue().strip().splitlines()[-1])
    progress = read_progress(exp)
    assert progress["state"] == "completed"
    assert {t["run_dir"] for t in progress["trials"]} == {str(r.path) for r in stored}
    assert "[g02-s43] epoch 1/1" in err.getvalue()  # events came back through the control actor
    cells = [line.split("|") for line in out.getvalue().splitlines() if line.startswith("| batch_norm=")]
    assert [c[3].strip() for c in cells] == ["2", "2"]  # n=2 per cell, as in a sequential sweep
    assert ray.is_initialized()  # the caller's instance is left running for the next test
