"""Canned, deterministic run folders for the Results and Runs screen tests.

Folders are created through RunStore (so they have the real layout), then renamed to a
fixed name and given fixed dates, so snapshots do not change from one day to the next.
Images are synthetic 8x8 "digits" drawn from a 5x7 bitmap font.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import numpy as np

from cnn_tui.core.config import ExperimentConfig, apply_overrides
from cnn_tui.core.results.samples import save_samples
from cnn_tui.core.results.store import RunStore, RunWriter

CLASS_NAMES = [str(i) for i in range(10)]
PER_CLASS = 6
TEST_SIZE = PER_CLASS * len(CLASS_NAMES)

_FONT = {
    0: ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    1: ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    2: ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    3: ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
    4: ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    5: ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    6: ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    7: ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    8: ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    9: ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
}


def digit_image(digit: int, variant: int = 0) -> np.ndarray:
    """An 8x8x1 uint8 image of ``digit``; ``variant`` shifts it and changes the ink."""
    img = np.zeros((8, 8), dtype=np.uint8)
    dx, dy = variant % 3, (variant // 3) % 2
    ink = 255 - 20 * (variant % 4)
    for r, row in enumerate(_FONT[digit]):
        for c, ch in enumerate(row):
            if ch == "1":
                img[r + dy, c + dx] = ink
    return img[..., None]


def canned_images() -> np.ndarray:
    """The canned test split: (TEST_SIZE, 8, 8, 1) uint8, labels 0,0,..,1,1,.. (see canned_labels)."""
    return np.stack([digit_image(i // PER_CLASS, i % PER_CLASS) for i in range(TEST_SIZE)])


def canned_labels() -> np.ndarray:
    return np.repeat(np.arange(len(CLASS_NAMES)), PER_CLASS).astype(np.int64)


def _predictions(seed: int, error_rate: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = canned_labels()
    k = len(CLASS_NAMES)
    logits = rng.normal(0.0, 1.0, size=(len(labels), k))
    wrong = rng.random(len(labels)) < error_rate
    target = np.where(wrong, (labels + rng.integers(1, k, size=len(labels))) % k, labels)
    logits[np.arange(len(labels)), target] += 3.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs.astype(np.float32), labels


def _metrics(probs: np.ndarray, labels: np.ndarray, epochs: int) -> dict[str, Any]:
    k = len(CLASS_NAMES)
    preds = probs.argmax(axis=1)
    cm = np.zeros((k, k), dtype=int)
    for t, p in zip(labels, preds):
        cm[t, p] += 1
    per_class = []
    f1s, supports = [], []
    for c in range(k):
        tp = cm[c, c]
        precision = tp / cm[:, c].sum() if cm[:, c].sum() else 0.0
        recall = tp / cm[c].sum() if cm[c].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        support = int(cm[c].sum())
        per_class.append(
            {"class": CLASS_NAMES[c], "precision": round(float(precision), 4), "recall": round(float(recall), 4),
             "f1": round(float(f1), 4), "support": support}
        )
        f1s.append(f1)
        supports.append(support)
    wrong = np.flatnonzero(preds != labels)
    conf = probs[wrong, preds[wrong]]
    order = np.argsort(-conf, kind="stable")
    loss = float(-np.log(probs[np.arange(len(labels)), labels]).mean())
    return {
        "test_loss": round(loss, 4),
        "test_accuracy": round(float((preds == labels).mean()), 4),
        "f1_weighted": round(float(np.average(f1s, weights=supports)), 4),
        "f1_macro": round(float(np.mean(f1s)), 4),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "class_names": CLASS_NAMES,
        "misclassified": [
            {"index": int(wrong[j]), "true": int(labels[wrong[j]]), "pred": int(preds[wrong[j]]),
             "confidence": round(float(conf[j]), 4)}
            for j in order
        ],
        "epochs_completed": epochs,
        "train_seconds": 12.5,
        "params": 38_000,
        "device": "CPU (2 cores)",
        "dataset": "digits",
        "image_shape": [8, 8, 1],
    }


def _history(epochs: int, seed: int) -> list[dict[str, float]]:
    rows = []
    for e in range(1, epochs + 1):
        rows.append({
            "epoch": e,
            "loss": round(2.0 / e + 0.05 * seed, 4),
            "accuracy": round(0.5 + 0.4 * (1 - 1 / e), 4),
            "val_loss": round(2.2 / e + 0.1 + 0.05 * seed, 4),
            "val_accuracy": round(0.45 + 0.4 * (1 - 1 / e) - 0.02 * seed, 4),
            "lr": 0.001,
            "seconds": 1.25,
        })
    return rows


def make_run(
    root: Path,
    folder: str,
    *,
    name: str,
    state: str = "completed",
    created: str = "2024-01-02T10:00:00+00:00",
    finished: str | None = "2024-01-02T10:01:00+00:00",
    error: str | None = None,
    overrides: dict[str, Any] | None = None,
    epochs: int = 4,
    evaluated: bool = True,
    samples: bool = True,
    seed: int = 0,
    error_rate: float = 0.25,
    pid: int | None = None,
) -> Path:
    """One run folder ``root/folder`` with fixed dates (see the module docstring)."""
    config = apply_overrides(ExperimentConfig(name=name), {"data.dataset": "digits", **(overrides or {})})
    writer = RunStore(root).create(config, name=name)
    path = root / folder
    writer.path.rename(path)
    status = writer.status
    status.update(
        run_id=folder, short_id=folder.rsplit("-", 1)[-1], name=name, state=state, created=created,
        finished=finished, error=error, pid=pid if pid is not None else status["pid"], host=socket.gethostname(),
    )
    writer = RunWriter(path, status)
    writer.update_status()
    for row in _history(epochs, seed):
        writer.append_history(row)
    if evaluated:
        probs, labels = _predictions(seed, error_rate)
        metrics = _metrics(probs, labels, epochs)
        writer.write_metrics(metrics)
        writer.save_predictions(
            probs=probs, labels=labels, preds=probs.argmax(axis=1), test_index=np.arange(len(labels))
        )
        if samples:
            wrong = metrics["misclassified"]
            images = canned_images()
            save_samples(
                path,
                images=images[[m["index"] for m in wrong]] if wrong else np.zeros((0, 8, 8, 1), np.uint8),
                index=[m["index"] for m in wrong],
                true=[m["true"] for m in wrong],
                pred=[m["pred"] for m in wrong],
                confidence=[m["confidence"] for m in wrong],
            )
    return path


RUN_A = "20240102-100000-baseline-aaaaaa"
RUN_B = "20240102-110000-dropout-bbbbbb"
RUN_STOPPED = "20240102-120000-stopped-cccccc"
RUN_FAILED = "20240102-130000-failed-dddddd"
RUN_CRASHED = "20240102-140000-crashed-eeeeee"
RUN_DAMAGED = "20240102-150000-damaged-ffffff"


def make_runs(root: Path) -> dict[str, Path]:
    """Six runs: two completed (different lr/dropout), stopped before eval, failed,
    crashed (running with a dead pid) and damaged (unreadable status.json)."""
    root.mkdir(parents=True, exist_ok=True)
    runs = {
        "a": make_run(root, RUN_A, name="baseline", created="2024-01-02T10:00:00+00:00", seed=0),
        "b": make_run(
            root, RUN_B, name="dropout", created="2024-01-02T11:00:00+00:00",
            finished="2024-01-02T11:01:00+00:00", seed=1, error_rate=0.15,
            overrides={"model.dropout": 0.3, "train.learning_rate": 0.003}, epochs=5,
        ),
        "stopped": make_run(
            root, RUN_STOPPED, name="stopped", state="stopped", created="2024-01-02T12:00:00+00:00",
            finished="2024-01-02T12:00:30+00:00", evaluated=False, epochs=2, overrides={"train.epochs": 30},
        ),
        "failed": make_run(
            root, RUN_FAILED, name="failed", state="failed", created="2024-01-02T13:00:00+00:00",
            finished="2024-01-02T13:00:05+00:00", evaluated=False, epochs=0,
            error="ResourceExhaustedError: out of memory while allocating tensor",
        ),
        "crashed": make_run(
            root, RUN_CRASHED, name="crashed", state="running", created="2024-01-02T14:00:00+00:00",
            finished=None, evaluated=False, epochs=1, pid=999_999,
        ),
    }
    damaged = root / RUN_DAMAGED
    damaged.mkdir()
    (damaged / "status.json").write_text("{not json", encoding="utf-8")
    runs["damaged"] = damaged
    return runs


def read_status(path: Path) -> dict[str, Any]:
    return json.loads((path / "status.json").read_text(encoding="utf-8"))
