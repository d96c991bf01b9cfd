"""Shared helpers of the cnn-tui benchmarks: statistics, summary lines, JSON, machine facts.

Every benchmark script imports this module (``bench/`` is its own ``sys.path[0]``). Nothing
here imports TensorFlow or Textual: the start-up benchmark must see cold imports.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(1, str(ROOT))


# ---------------------------------------------------------------------------------------
# Command line


def parser(description: str) -> argparse.ArgumentParser:
    """The common options: --quick (the <15 min suite) and --out (JSON path)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes (the run_all --quick suite)")
    p.add_argument("--out", type=Path, default=None, help="JSON file (default: bench/results/<name>.json)")
    return p


def quiet_tf_env() -> None:
    """Environment every benchmark process runs with (before TF could be imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")


# ---------------------------------------------------------------------------------------
# Statistics


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), like numpy's default."""
    if not values:
        return float("nan")
    s = sorted(values)
    if len(s) == 1:
        return float(s[0])
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))


def spread(values: Sequence[float]) -> tuple[float, float]:
    return (float(min(values)), float(max(values))) if values else (float("nan"), float("nan"))


def fmt(value: float, digits: int = 2) -> str:
    if value is None or value != value:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


# ---------------------------------------------------------------------------------------
# Figures and targets


def figure(
    name: str,
    label: str,
    values: Sequence[float],
    *,
    unit: str = "",
    target: str | None = None,
    met: bool | None = None,
    value: float | None = None,
    digits: int = 2,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One figure: the per-repetition values, their median and min-max spread, the target.

    ``value`` overrides the median as the headline (e.g. a p95); ``met`` is None for an
    informational figure without a target.
    """
    values = [float(v) for v in values]
    med = median(values)
    lo, hi = spread(values)
    headline = med if value is None else float(value)
    return {
        "name": name,
        "label": label,
        "value": headline,
        "median": med,
        "min": lo,
        "max": hi,
        "n": len(values),
        "values": values,
        "unit": unit,
        "target": target,
        "met": met,
        "digits": digits,
        "note": note,
        **(extra or {}),
    }


def summary_line(bench: str, f: dict[str, Any]) -> str:
    """``front_end: engine/bare = 0.99 (median of 3, spread 0.97-1.01) target >= 0.98: MET``."""
    d = f.get("digits", 2)
    unit = f" {f['unit']}" if f.get("unit") else ""
    if f["n"] > 1:
        stat = f"median of {f['n']}" if f["value"] == f["median"] else f"{f.get('stat', 'of')} {f['n']}"
        detail = f" ({stat}, spread {fmt(f['min'], d)}-{fmt(f['max'], d)})"
    else:
        detail = " (1 run)" if f["n"] == 1 else ""
    line = f"{bench}: {f['label']} = {fmt(f['value'], d)}{unit}{detail}"
    if f.get("target"):
        verdict = "MET" if f["met"] else "MISSED"
        line += f" target {f['target']}: {verdict}"
    if f.get("note"):
        line += f"  [{f['note']}]"
    return line


def finish(bench: str, figures: list[dict[str, Any]], args: argparse.Namespace, started: float, **details: Any) -> int:
    """Print one summary line per figure and write the JSON; exit code 0 (targets are data)."""
    for f in figures:
        print(summary_line(bench, f), flush=True)
    out = args.out or RESULTS_DIR / f"{bench}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "bench": bench,
        "quick": bool(args.quick),
        "seconds": round(time.perf_counter() - started, 2),
        "machine": machine(),
        "figures": figures,
        "details": details,
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, out)
    return 0


# ---------------------------------------------------------------------------------------
# Machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def tf_version() -> str:
    """TensorFlow's version from its package metadata (no import)."""
    from importlib import metadata

    for dist in ("tensorflow-cpu", "tensorflow", "tf-nightly"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def machine() -> dict[str, Any]:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    try:
        mem_kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    return {
        "cores": cores,
        "cpu": cpu_model(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "tensorflow": tf_version(),
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "loadavg_1m_at_end": round(load, 2),
        "gpu": "none visible" if not Path("/dev/nvidia0").exists() else "present",
    }


# ---------------------------------------------------------------------------------------
# Product helpers (lazy: they import cnn_tui only when called)


def config(preset: str, overrides: Sequence[str] = ()):  # -> ExperimentConfig
    """A built-in preset with dotted ``--set`` style overrides, the way `cnn-tui run` does."""
    from cnn_tui.core import presets
    from cnn_tui.core.config import apply_overrides

    cfg = presets.resolve_spec(preset)
    return apply_overrides(cfg, list(overrides)) if overrides else cfg


# The fixed workload of the throughput benchmarks: the default preset's model (tiny CNN)
# on a Fashion-MNIST subset, with nothing that writes per epoch switched off -- the
# product's defaults (checkpoint, TensorBoard, model save) stay ON: they are part of
# what the engine costs.
def fashion_overrides(train_limit: int, epochs: int, *, test_limit: int = 2000) -> list[str]:
    return [
        "data.dataset=fashion_mnist",
        f"data.train_limit={train_limit}",
        f"data.test_limit={test_limit}",
        f"train.epochs={epochs}",
    ]


def require_fashion() -> None:
    if not FASHION_DIR.exists() and not os.environ.get("CNN_TUI_DATA"):
        sys.exit(f"Fashion-MNIST idx files not found in {FASHION_DIR} (apt-get install dataset-fashion-mnist)")


class EpochClock:
    """Wall-clock instants of EpochEnd events, as a chainable ``on_event``.

    The period between two consecutive epoch ends covers everything the run does per
    epoch (the training steps, validation, every callback, checkpoint and history writes),
    which is what a user waits for. Epoch 1 (tracing, warm-up) is not a period.
    """

    def __init__(self, forward: Callable[[Any], None] | None = None) -> None:
        self.ends: list[float] = []
        self.cpu_ends: list[float] = []
        self.forward = forward

    def __call__(self, event: Any) -> None:
        if type(event).__name__ == "EpochEnd":
            self.ends.append(time.perf_counter())
            self.cpu_ends.append(time.process_time())
        if self.forward is not None:
            self.forward(event)

    def periods(self) -> list[float]:
        """Wall seconds per steady epoch."""
        return [b - a for a, b in zip(self.ends, self.ends[1:])]

    def cpu_periods(self) -> list[float]:
        """CPU seconds (all threads of this process) per steady epoch: the work done,
        much less sensitive than wall time to other processes sharing the cores."""
        return [b - a for a, b in zip(self.cpu_ends, self.cpu_ends[1:])]


def rss_kb() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in kB."""
    out: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return out
