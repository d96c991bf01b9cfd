"""Studies: the wall time of a whole ``cnn-tui sweep`` with parallel trials against the same
sweep one trial after another.

Workload: a 2x2x2 grid (``model.batch_norm`` x ``model.dropout`` x ``train.learning_rate``,
8 trials) of the default preset (``digits-quick``, the tiny CNN, batch 128) on 5,000
Fashion-MNIST training images, 3 epochs, the product's defaults left on. Each repetition
runs, as whole processes and in rotated order:

- **sequential**: ``python -m cnn_tui sweep ...`` (today's study, one trial after another);
- **workers 2**: the same with ``--workers 2`` (two worker processes, one TF thread pool
  each sized to half the cores);
- **ray** (when Ray is installed): the same with ``--executor ray``, which starts its own
  local Ray instance (its start-up and shut-down, ~3 s and ~1.4 s here, are part of what the
  user waits for);
- **ray running**: the same with ``--executor ray --ray-address`` of a local instance started
  before the sweep with ``ray start --head`` (untimed, as a lab's cluster is up before a
  study) and stopped after it (``ray stop``, untimed): a fresh instance per repetition, so no
  Ray worker keeps TensorFlow imported from the sweep before.

Figures: sequential / workers-2 wall time (target >= 1.4 x on 2 cores), ray / workers-2 and
ray running / workers-2 wall time (target <= 1.15 each), the wall times themselves and, to read them on a loaded
machine, the CPU time of --workers 2 against the sequential sweep. Every sweep must end with its 8
trials completed, or the bench fails.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

PRESET = "digits-quick"
GRID = ["model.batch_norm=true,false", "model.dropout=0.2,0.3", "train.learning_rate=0.001,0.002"]
RAY_PORT = 6391
MODES = {"sequential": [], "workers2": ["--workers", "2"], "ray": ["--executor", "ray"],
         "ray_running": ["--executor", "ray", "--ray-address", f"127.0.0.1:{RAY_PORT}"]}


def _ray(*args: str, env: dict[str, str]) -> None:
    """``ray start``/``ray stop`` of the local instance the ray_running sweeps use (untimed)."""
    ray = Path(sys.executable).with_name("ray")
    proc = subprocess.run([str(ray), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"ray {args[0]} failed (exit {proc.returncode}): {proc.stdout[-2000:]}")


def _ray_processes() -> list[str]:
    """Pids of Ray's processes on this machine (raylet, GCS, agents, workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"raylet" in cmdline or b"gcs_server" in cmdline or cmdline.startswith(b"ray::"):
                pids.append(entry.name)
    return pids


def _wait_ray_gone(timeout: float = 20.0) -> None:
    """Wait (untimed) until the Ray processes of the sweep before have exited: ``ray.shutdown``
    returns while they still end, and their exit must not be billed to the next sweep."""
    deadline = time.monotonic() + timeout
    while _ray_processes() and time.monotonic() < deadline:
        time.sleep(0.2)


def _sweep(mode: str, workdir: Path, overrides: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds of the sweep and CPU seconds of the processes it waited for (its worker
    processes included; Ray's are not: its raylet reaps them)."""
    runs = workdir / f"runs-{mode}-{time.monotonic_ns()}"
    cmd = [sys.executable, "-m", "cnn_tui", "sweep", PRESET, "--runs-dir", str(runs), *MODES[mode]]
    cmd += [a for g in GRID for a in ("--grid", g)] + [a for o in overrides for a in ("--set", o)]
    if mode == "ray_running":
        _ray("start", "--head", "--port", str(RAY_PORT), "--num-cpus", str(C.machine()["cores"]),
             "--include-dashboard", "false", "--disable-usage-stats", env=env)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=workdir,
                          stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if mode == "ray_running":
        _ray("stop", env=env)
    if mode.startswith("ray"):
        _wait_ray_gone()
    done = sum(1 for p in runs.glob("*/status.json") if '"completed"' in p.read_text())
    if proc.returncode != 0 or done != 8:
        sys.exit(f"{mode} sweep failed (exit {proc.returncode}, {done}/8 completed): {proc.stderr[-2000:]}")
    return wall, cpu


def main() -> int:
    p = C.parser(__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=None, help="repetitions (default 2, --quick 1)")
    args = p.parse_args()
    C.quiet_tf_env()
    C.require_fashion()
    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    repeats = args.repeats or (1 if args.quick else 2)
    overrides = C.fashion_overrides(5000, 3) + ["train.batch_size=128"]
    modes = [m for m in MODES if not m.startswith("ray") or importlib.util.find_spec("ray") is not None]
    env = dict(os.environ)
    env["RAY_AUTH_MODE"] = "token"  # what `ray start` clusters use (README "Scaling out")
    env["PYTHONPATH"] = os.pathsep.join([str(C.ROOT), *[p for p in [env.get("PYTHONPATH")] if p]])
    walls: dict[str, list[float]] = {m: [] for m in modes}
    cpus: dict[str, list[float]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="cnn-tui-bench-studies-") as tmp:
        for rep in range(repeats):
            order = modes[rep % len(modes):] + modes[: rep % len(modes)]
            for mode in order:
                wall, cpu = _sweep(mode, Path(tmp), overrides, env)
                walls[mode].append(wall)
                cpus[mode].append(cpu)
                print(f"studies: repetition {rep + 1}/{repeats} {mode}: {wall:.1f} s wall, {cpu:.1f} s CPU",
                      file=sys.stderr, flush=True)
    workload = f"2x2x2 grid of {PRESET}, Fashion-MNIST 5,000 images, 3 epochs, {C.machine()['cores']} cores"
    speedup = [s / w for s, w in zip(walls["sequential"], walls["workers2"])]
    figures = [
        C.figure("workers2_speedup", "study wall time, sequential / --workers 2", speedup, target=">= 1.4",
                 met=C.median(speedup) >= 1.4, note=workload),
    ]
    if "ray" in walls:
        ray_ratio = [r / w for r, w in zip(walls["ray"], walls["workers2"])]
        figures.append(C.figure("ray_ratio", "study wall time, --executor ray (local instance) / --workers 2",
                                ray_ratio, target="<= 1.15", met=C.median(ray_ratio) <= 1.15,
                                note="includes starting and stopping the local Ray instance"))
        running = [r / w for r, w in zip(walls["ray_running"], walls["workers2"])]
        figures.append(C.figure("ray_running_ratio", "study wall time, --executor ray on a running local instance "
                                "(ray start --head) / --workers 2", running, target="<= 1.15",
                                met=C.median(running) <= 1.15, note="the instance started before the sweep"))
    else:
        figures.append(C.figure("ray_ratio", "study wall time, --executor ray / --workers 2", [],
                                note='not measured: Ray is not installed (pip install -e ".[ray]")'))
    cpu_ratio = [w / s for s, w in zip(cpus["sequential"], cpus["workers2"])]
    figures.append(C.figure("workers2_cpu_ratio", "study CPU time, --workers 2 / sequential", cpu_ratio,
                            note="informational: what two processes cost in all (a TF import each, 1-thread pools)"))
    for mode in modes:
        figures.append(C.figure(f"{mode}_wall", f"study wall time, {mode}", walls[mode], unit="s", digits=1))
    return C.finish("studies", figures, args, started, walls=walls, cpus=cpus,
                    load_1m_at_start=round(load_at_start, 2))


if __name__ == "__main__":
    raise SystemExit(main())
