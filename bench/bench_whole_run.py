"""Whole run: ``cnn-tui run`` as a process against a bare-Keras script as a process.

What a user waits for is the whole command, not only the epochs: interpreter start,
imports, data loading, training, evaluation, saving. Each repetition runs both, in
alternating order, on the same model (the bench writes the architecture cnn-tui builds
as Keras JSON once; the bare script builds it with ``model_from_json``) and the same data
(Fashion-MNIST, the same subset size, validation split and test set):

- **cnn-tui**: ``python -m cnn_tui run digits-quick --set data.dataset=fashion_mnist
  --set data.train_limit=N --set train.epochs=E --set train.batch_size=128`` with the
  product's defaults (checkpoint, TensorBoard scalars, predictions, samples, model save);
- **bare**: ``bare_keras_run.py``: ``fit`` (validation each epoch), ``evaluate``,
  ``predict`` on the uint8 arrays and ``model.save`` -- the notebook way.

Figures: wall time cnn-tui / bare (median over repetitions, target <= 1.03), CPU time
(user + system of the child, from ``wait4``) cnn-tui / bare, and the **end-of-training
gap**: seconds between the last epoch's line and the "evaluating" line on cnn-tui's
stderr (each line timestamped as the bench reads it). A gap over 1 s in any repetition
misses the target (tf.data's autotune thread once made most runs wait 1-10 s there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common as C

PRESET = "digits-quick"


def _overrides(train_limit: int, epochs: int) -> list[str]:
    return [
        "data.dataset=fashion_mnist",
        f"data.train_limit={train_limit}",
        f"train.epochs={epochs}",
        "train.batch_size=128",
    ]


def _model_json(workdir: Path, overrides: list[str]) -> tuple[Path, dict]:
    """Write the Keras JSON of the model cnn-tui builds for this config (in a child, so the
    parent never imports TensorFlow), and return the training settings the bare script needs."""
    out = workdir / "model.json"
    code = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import _common as C\n"
        "from cnn_tui.core.models import build_model\n"
        f"cfg = C.config({PRESET!r}, {overrides!r})\n"
        "m = build_model(cfg.model, cfg.data, (28, 28, 1), 10, None, seed=cfg.train.seed)\n"
        "open(sys.argv[2], 'w').write(m.to_json())\n"
        "print(json.dumps({'lr': cfg.train.learning_rate, 'seed': cfg.train.seed,"
        " 'validation_split': cfg.data.validation_split, 'params': int(m.count_params())}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(C.BENCH_DIR), str(out)], capture_output=True, text=True,
                          cwd=C.ROOT, check=False)
    if proc.returncode:
        sys.exit(f"could not build the model: {proc.stderr[-1500:]}")
    return out, json.loads(proc.stdout.strip().splitlines()[-1])


def _timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run ``cmd``; wall time, CPU time (wait4 rusage) and stderr/stdout lines with arrival times."""
    lines: list[tuple[float, str]] = []
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=env, cwd=C.ROOT)
    out: list[str] = []

    def read_err() -> None:
        for line in proc.stderr:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    out = proc.stdout.read().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rc": proc.returncode, "stderr": lines,
            "stdout": out}


def _cnn_tui(workdir: Path, overrides: list[str], env: dict[str, str], epochs: int) -> dict:
    runs = workdir / "runs"
    cmd = [sys.executable, "-m", "cnn_tui", "run", PRESET, "--runs-dir", str(runs)]
    for o in overrides:
        cmd += ["--set", o]
    r = _timed(cmd, env)
    if r["rc"]:
        sys.exit(f"cnn-tui run failed (exit {r['rc']}): {[line for _, line in r['stderr']][-5:]}")
    last = next((t for t, line in r["stderr"] if line.startswith(f"epoch {epochs}/{epochs}")), None)
    evaluating = next((t for t, line in r["stderr"] if line.startswith("evaluating")), None)
    run_dir = Path(r["stdout"][-1].strip())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    from csv import DictReader

    with open(run_dir / "history.csv", newline="") as f:
        epoch_sum = sum(float(row["seconds"]) for row in DictReader(f))
    return {
        "wall": r["wall"], "cpu": r["cpu"],
        "gap": (evaluating - last) if last is not None and evaluating is not None else float("nan"),
        "train_seconds_minus_epochs": metrics["train_seconds"] - epoch_sum,
        "test_accuracy": metrics.get("accuracy", metrics.get("test_accuracy")),
    }  # fmt: skip


def _bare(model_json: Path, settings: dict, train_limit: int, epochs: int, env: dict[str, str]) -> dict:
    data = Path(os.environ.get("CNN_TUI_DATA", "")) / "fashion-mnist" if os.environ.get("CNN_TUI_DATA") else C.FASHION_DIR
    cmd = [sys.executable, str(C.BENCH_DIR / "bare_keras_run.py"), "--data", str(data), "--model-json", str(model_json),
           "--train-limit", str(train_limit), "--validation-split", str(settings["validation_split"]),
           "--epochs", str(epochs), "--batch-size", "128", "--learning-rate", str(settings["lr"]),
           "--seed", str(settings["seed"])]  # fmt: skip
    r = _timed(cmd, env)
    line = next((x for x in r["stdout"] if x.startswith("BARE")), None)
    if r["rc"] or line is None:
        sys.exit(f"bare Keras script failed (exit {r['rc']}): {[line for _, line in r['stderr']][-5:]}")
    info = json.loads(line[4:])
    return {"wall": r["wall"], "cpu": r["cpu"], "gap": info["gap_s"], "test_accuracy": info["test_accuracy"]}


def main() -> int:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=None, help="repetitions (pairs); default 6 quick, 10 full")
    args = p.parse_args()
    C.quiet_tf_env()
    C.require_fashion()
    started = time.perf_counter()
    reps = args.reps or (6 if args.quick else 10)
    train_limit, epochs = 20_000, 5
    overrides = _overrides(train_limit, epochs)
    env = dict(os.environ, PYTHONPATH=str(C.ROOT), TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    cnn_runs: list[dict] = []
    bare_runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-whole-run-") as tmp:
        workdir = Path(tmp)
        env["CNN_TUI_PRESETS_DIR"] = str(workdir / "presets")
        model_json, settings = _model_json(workdir, overrides)
        for rep in range(reps):
            order = ("cnn", "bare") if rep % 2 == 0 else ("bare", "cnn")
            for kind in order:
                if kind == "cnn":
                    cnn_runs.append(_cnn_tui(workdir, overrides, env, epochs))
                else:
                    bare_runs.append(_bare(model_json, settings, train_limit, epochs, env))
            c, b = cnn_runs[-1], bare_runs[-1]
            print(f"   rep {rep + 1}/{reps}: cnn-tui {c['wall']:.1f} s (cpu {c['cpu']:.1f}, gap {c['gap']:.2f} s), "
                  f"bare {b['wall']:.1f} s (cpu {b['cpu']:.1f}, gap {b['gap']:.2f} s)", file=sys.stderr, flush=True)
    wall = [c["wall"] / b["wall"] for c, b in zip(cnn_runs, bare_runs)]
    cpu = [c["cpu"] / b["cpu"] for c, b in zip(cnn_runs, bare_runs)]
    gaps = [c["gap"] for c in cnn_runs]
    over = sum(1 for g in gaps if not g <= 1.0)
    workload = (f"{PRESET} ({settings['params']:,} params) on Fashion-MNIST {train_limit:,} images, {epochs} epochs, "
                "batch 128, whole process")
    figures = [
        C.figure("wall_ratio", "whole-run wall time, cnn-tui run / bare Keras script (processes)", wall,
                 target="<= 1.03", met=C.median(wall) <= 1.03, note=workload),
        C.figure("cpu_ratio", "whole-run CPU time, cnn-tui run / bare Keras script", cpu,
                 note="informational: user + system time of each process (wait4)"),
        C.figure("gap_over_1s", "runs with > 1 s between the last epoch and evaluation", [over], value=over,
                 target="0 runs", met=over == 0, digits=0,
                 note=f"of {len(gaps)}; gaps {', '.join(f'{g:.2f}' for g in gaps)} s"),
        C.figure("gap", "end-of-training gap, cnn-tui (last epoch line -> 'evaluating')", gaps, unit="s",
                 note="informational; max " + C.fmt(max(gaps)) + " s"),
        C.figure("bare_gap", "end-of-training gap, bare Keras (last epoch end -> fit returns)",
                 [b["gap"] for b in bare_runs], unit="s", note="informational"),
        C.figure("cnn_wall", "cnn-tui run wall time", [c["wall"] for c in cnn_runs], unit="s"),
        C.figure("bare_wall", "bare Keras script wall time", [b["wall"] for b in bare_runs], unit="s"),
    ]
    return C.finish("whole_run", figures, args, started, cnn_runs=cnn_runs, bare_runs=bare_runs)


if __name__ == "__main__":
    sys.exit(main())
