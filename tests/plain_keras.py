"""Load saved ``model.keras`` files the way a user's notebook would: a fresh, isolated
Python (``-I``: no PYTHONPATH, no current folder on sys.path) that imports only keras and
numpy, never cnn_tui, and predicts on given images.

``check_in_plain_keras(cases, work)`` takes (model path, images, expected probs, tolerance
[, labels]) cases (with labels, ``model.evaluate`` must work too), runs them all in ONE
such subprocess and returns its report; every failure (load error, cnn_tui imported,
predictions off) is collected, not just the first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

_SCRIPT = r"""
import json, sys, time
import numpy as np
import keras

cases = json.load(open(sys.argv[1], encoding="utf-8"))
report = []
for case in cases:
    try:
        started = time.perf_counter()
        model = keras.saving.load_model(case["model"])
        loaded = time.perf_counter()
        data = np.load(case["data"])
        probs = np.asarray(model.predict(data["x"], verbose=0), dtype=np.float64)
        diff = float(np.max(np.abs(probs - data["probs"])))
        row = {"model": case["model"], "max_diff": diff, "ok": diff <= case["atol"],
               "load_s": round(loaded - started, 3), "predict_s": round(time.perf_counter() - loaded, 3)}
        if "y" in data:  # compiled with cnn-tui's loss and metrics: evaluate works as is
            loss, accuracy = model.evaluate(data["x"], data["y"], verbose=0)
            expected = float(np.mean(probs.argmax(axis=1) == data["y"]))
            row.update(loss=loss, accuracy=accuracy)
            row["ok"] = row["ok"] and np.isfinite(loss) and abs(accuracy - expected) < 1e-6
        report.append(row)
    except Exception as exc:
        report.append({"model": case["model"], "ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]})
print(json.dumps({"report": report, "cnn_tui_imported": any(m.split(".")[0] == "cnn_tui" for m in sys.modules)}))
"""


def check_in_plain_keras(cases: list[tuple], work: Path) -> dict:
    """Load each model in a plain-Keras subprocess and compare its predictions.

    Returns ``{"report": [{"model", "ok", "max_diff" | "error", ...}...], "cnn_tui_imported": bool}``.
    """
    work.mkdir(parents=True, exist_ok=True)
    listed = []
    for i, (model, x, probs, atol, *labels) in enumerate(cases):
        data = work / f"case{i}.npz"
        extra = {"y": np.asarray(labels[0])} if labels else {}
        np.savez(data, x=x, probs=np.asarray(probs, dtype=np.float64), **extra)
        listed.append({"model": str(model), "data": str(data), "atol": atol})
    spec = work / "cases.json"
    spec.write_text(json.dumps(listed), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CNN_TUI"))}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _SCRIPT, str(spec)],
        capture_output=True, text=True, env=env, cwd=work, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_all_load(result: dict) -> None:
    """Every case loaded and matched, and cnn_tui was never imported."""
    failed = [r for r in result["report"] if not r["ok"]]
    assert not failed, "\n".join(f"{r['model']}: {r.get('error') or r.get('max_diff')}" for r in failed)
    assert not result["cnn_tui_imported"], "the plain-Keras process imported cnn_tui"
