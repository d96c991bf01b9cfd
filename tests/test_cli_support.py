"""A fake engine for the CLI tests: it stores a real run folder through RunStore and emits
the engine's events, without TensorFlow. Used in-process (monkeypatched over
``cnn_tui.core.engine.train``) and in subprocesses (``python tests/test_cli_support.py ARGS``).

Modes (``mode=`` or ``$FAKE_ENGINE_MODE``): ok, fail, slow (sleeps, honours stop),
stubborn (sleeps, ignores stop).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnn_tui.core.engine.events import BatchEnd, EpochEnd, Evaluated, Log, RunFailed, RunFinished, RunStarted
from cnn_tui.core.results.store import RunStore, resolve_runs_dir

CLASS_NAMES = ("zero", "one", "two")


@dataclass
class FakeRunResult:
    run_id: str | None
    run_dir: Path | None
    status: str
    metrics: dict | None
    error: str | None


def fake_metrics(epochs: int, accuracy: float = 0.9123456) -> dict[str, Any]:
    return {
        "test_loss": 0.3333333,
        "test_accuracy": accuracy,
        "f1_weighted": accuracy - 0.01,
        "f1_macro": accuracy - 0.02,
        "per_class": [
            {"class": c, "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 10} for c in CLASS_NAMES
        ],
        "confusion_matrix": [[9, 1, 0], [1, 8, 1], [0, 0, 10]],
        "class_names": list(CLASS_NAMES),
        "misclassified": [],
        "epochs_completed": epochs,
        "train_seconds": 1.234,
        "params": 1234,
        "device": "CPU (fake)",
        "dataset": "digits",
        "image_shape": [8, 8, 1],
    }


def fake_train(config, on_event=None, stop=None, *, runs_dir=None, name=None, pause=None, tags=None, mode=None):
    mode = mode or os.environ.get("FAKE_ENGINE_MODE", "ok")
    emit = on_event or (lambda event: None)
    writer = RunStore(resolve_runs_dir(runs_dir)).create(config, name=name, tags=tags)
    epochs = config.train.epochs
    emit(RunStarted(writer.run_id, writer.path, writer.status["name"], "CPU (fake)", 1234, epochs, 4, 100, 10, 30, CLASS_NAMES))
    emit(Log("info", "fake engine: no TensorFlow here"))
    done = 0
    for epoch in range(1, epochs + 1):
        if stop is not None and stop.is_set() and mode != "stubborn":
            break
        for step in range(1, 5):
            emit(BatchEnd(epoch, step, 4, {"loss": 1.0 / epoch, "accuracy": 0.5}))
        if mode in ("slow", "stubborn"):
            time.sleep(0.3)
        if mode == "fail" and epoch == 2:
            writer.finish("failed", error="loss became NaN at epoch 2")
            emit(RunFailed(writer.run_id, writer.path, "loss became NaN at epoch 2"))
            return FakeRunResult(writer.run_id, writer.path, "failed", None, "loss became NaN at epoch 2")
        logs = {"loss": 1.0 / epoch, "accuracy": 0.5 + epoch / 100, "val_loss": 1.1 / epoch, "val_accuracy": 0.6}
        writer.append_history({"epoch": epoch, **logs, "lr": 1e-3, "seconds": 0.5})
        emit(EpochEnd(epoch, epochs, logs, 1e-3, 0.5))
        done = epoch
    status = "stopped" if stop is not None and stop.is_set() else "completed"
    metrics = fake_metrics(done)
    writer.write_metrics(metrics)
    emit(Evaluated(metrics))
    writer.finish(status)
    emit(RunFinished(writer.run_id, writer.path, status, metrics))
    return FakeRunResult(writer.run_id, writer.path, status, metrics, None)


def install() -> None:
    """Put the fake over the engine's train (in this process), also for experiments' trials."""
    import cnn_tui.core.engine as engine
    import cnn_tui.core.engine.trainer as trainer

    engine.train = fake_train
    trainer.train = fake_train


if __name__ == "__main__":
    install()
    from cnn_tui.cli import main

    sys.exit(main(sys.argv[1:]))
