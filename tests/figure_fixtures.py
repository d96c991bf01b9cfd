"""Stored runs and experiments for the figure and statistics tests, written without TensorFlow.

Runs are made with the store's own writers (history rows, metrics.json with a confusion
matrix, predictions.npz, samples.npz); experiments go through ``run_experiment`` with a
fake ``train_fn`` that writes such runs, scored from the config and the seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cnn_tui.core.config import ExperimentConfig, apply_overrides, config_from_dict
from cnn_tui.core.engine.experiments import run_experiment
from cnn_tui.core.engine.trainer import RunResult
from cnn_tui.core.results.samples import save_samples
from cnn_tui.core.results.store import RunStore, RunWriter

CLASSES = ["zero", "one", "two", "three"]
BASE = config_from_dict({"name": "fig", "data": {"dataset": "digits"}, "train": {"seed": 42, "epochs": 4}})


def confusion_for(seed: int) -> list[list[int]]:
    """A fixed 4x4 confusion matrix (rows true, columns predicted), varied by ``seed``."""
    rng = np.random.default_rng(seed)
    cm = rng.integers(0, 6, size=(4, 4))
    cm[np.diag_indices(4)] += 20 + seed % 3
    return cm.tolist()


def write_run(writer: RunWriter, *, score: float, seed: int, epochs: int = 4, lr_decay: bool = True) -> dict[str, Any]:
    """History, metrics, predictions and samples for ``writer``'s run; returns the metrics."""
    for e in range(1, epochs + 1):
        writer.append_history({
            "epoch": e, "loss": 2.0 / e + 0.01 * seed, "accuracy": score - 0.3 / e,
            "val_loss": 2.2 / e + 0.1 + 0.01 * seed, "val_accuracy": score - 0.35 / e,
            "lr": 0.001 * (0.5 ** (e - 1) if lr_decay else 1.0), "seconds": 1.0,
        })
    cm = confusion_for(seed)
    labels = np.repeat(np.arange(4), [sum(r) for r in cm])
    preds = np.concatenate([np.repeat(np.arange(4), row) for row in cm])
    probs = np.full((len(labels), 4), 0.1, dtype=np.float32)
    probs[np.arange(len(labels)), preds] = 0.7
    wrong = np.flatnonzero(preds != labels)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(len(wrong), 8, 8, 1), dtype=np.uint8)
    conf = np.linspace(0.95, 0.4, len(wrong))
    save_samples(writer.path, images=images, index=wrong, true=labels[wrong], pred=preds[wrong], confidence=conf)
    writer.save_predictions(probs=probs, labels=labels, preds=preds, test_index=np.arange(len(labels)))
    metrics = {
        "test_accuracy": score, "test_loss": 1 - score, "f1_weighted": score - 0.05, "f1_macro": score - 0.06,
        "epochs_completed": epochs, "train_seconds": 0.5, "params": 1234,
        "confusion_matrix": cm, "class_names": CLASSES, "misclassified_count": int(len(wrong)),
    }
    writer.write_metrics(metrics)
    return metrics


def make_run(root: Path, name: str = "run", *, overrides: dict[str, Any] | None = None, score: float = 0.8,
             seed: int = 0) -> Path:
    config = apply_overrides(BASE.model_copy(update={"name": name}), overrides or {})
    writer = RunStore(root).create(config, name=name)
    write_run(writer, score=score, seed=seed)
    writer.finish("completed")
    return writer.path


def score_of(config: ExperimentConfig) -> float:
    spread = 0.02 + config.model.dropout / 5  # groups of different variance: Welch, not Student
    return 0.6 + 0.1 * config.model.batch_norm + config.model.dropout / 5 + spread * ((config.train.seed - 42) % 3)


class FakeTrain:
    """``trainer.train``'s signature: writes a full run folder scored by :func:`score_of`."""

    def __call__(self, config, on_event=None, stop=None, *, runs_dir=None, name=None, pause=None, tags=None):
        writer = RunStore(runs_dir).create(config, name=name, tags=tags)
        metrics = write_run(writer, score=score_of(config), seed=config.train.seed, epochs=config.train.epochs)
        writer.finish("completed")
        return RunResult(writer.run_id, writer.path, "completed", metrics, None)


def make_experiment(root: Path, plan: dict[str, Any]) -> Path:
    return run_experiment(BASE, plan, runs_dir=root, train_fn=FakeTrain())


ABLATION = {
    "kind": "ablation", "repeat": 3, "metric": "test_accuracy",
    "steps": [{"name": "baseline"}, {"name": "+ bn", "set": {"model.batch_norm": True}},
              {"name": "+ dropout", "set": {"model.dropout": 0.25}}],
}
GRID = {"kind": "grid", "repeat": 3, "metric": "test_accuracy", "grid": {"model.dropout": [0.0, 0.1]}}
