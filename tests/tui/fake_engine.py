"""A scripted stand-in for ``cnn_tui.core.engine.train`` for the TUI tests.

It has train's signature, emits the same events in the same order (RunStarted, BatchEnd...,
EpochEnd..., Evaluated, RunFinished) with small sleeps, honours ``stop`` (ends after the
current batch, evaluates, status ``stopped``) and ``pause`` (waits while set), and writes a
real run folder through RunStore: config.toml, status.json, history.csv, metrics.json,
predictions.npz and samples.npz, so the Results screen can open it. Numbers are a pure
function of epoch and step, so snapshots are stable.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from textual.app import App
from textual.screen import Screen

from cnn_tui.core.engine import RunResult
from cnn_tui.core.engine.events import BatchEnd, EpochEnd, Evaluated, Log, RunFinished, RunStarted
from cnn_tui.core.errors import CnnTuiError
from cnn_tui.core.results.store import RunStore


SIZE = (120, 40)
"""Terminal size of every TUI test (snapshots need a fixed one)."""

CLASSES = [str(i) for i in range(10)]
TEST_SIZE = 30


def loss_at(epoch: int, step: int, steps: int) -> float:
    return round(2.0 / (epoch + step / steps), 4)


def acc_at(epoch: int, step: int, steps: int) -> float:
    return round(0.9 - 0.5 / (epoch + step / steps), 4)


class FakeEngine:
    """Callable like ``train``; records its calls and the stop/pause events it got."""

    def __init__(
        self,
        *,
        steps: int = 5,
        step_delay: float = 0.01,
        raise_error: Exception | None = None,
        fail_with: str | None = None,
        run_id: str | None = None,
        device: str = "CPU (fake)",
        warn: str | None = "fake engine: no real training",
        wait_seen: Any = None,
    ) -> None:
        self.steps = steps
        self.step_delay = step_delay
        self.raise_error = raise_error
        self.fail_with = fail_with
        self.shown_run_id = run_id
        self.device = device
        self.warn = warn
        self.wait_seen = wait_seen
        """Optional ``f(epoch, step) -> bool``: after each batch, wait (<= 2 s) until the UI
        has seen it, so no batch message is merged away (deterministic snapshots)."""
        self.calls: list[dict[str, Any]] = []
        self.paused_seen = threading.Event()
        """Set once the engine has waited on the pause event."""
        self.batches_emitted = 0
        self.started = threading.Event()

    def __call__(
        self,
        config: Any,
        on_event: Any = None,
        stop: threading.Event | None = None,
        *,
        runs_dir: Path | None = None,
        name: str | None = None,
        pause: threading.Event | None = None,
        tags: dict | None = None,
    ) -> Any:
        emit = on_event or (lambda e: None)
        stop = stop or threading.Event()
        self.calls.append({"config": config, "runs_dir": runs_dir, "name": name, "stop": stop, "pause": pause})
        if self.raise_error is not None:
            raise self.raise_error  # like a bad dataset: before any run folder exists
        writer = RunStore(runs_dir or Path("runs")).create(config, name=name)
        run_id = self.shown_run_id or writer.run_id
        epochs, steps = config.train.epochs, self.steps
        self.started.set()
        emit(RunStarted(run_id=run_id, run_dir=writer.path, name=name or config.name, device=self.device,
                        params=12_345, epochs=epochs, steps_per_epoch=steps, train_size=1437, val_size=160,
                        test_size=TEST_SIZE, class_names=tuple(CLASSES)))
        if self.warn:
            emit(Log("warning", self.warn))
        done = 0
        for epoch in range(1, epochs + 1):
            if stop.is_set():
                break
            for step in range(1, steps + 1):
                if pause is not None and pause.is_set() and not stop.is_set():
                    # the real engine's log lines (callbacks.py; tests/test_engine.py checks them)
                    emit(Log("info", f"paused at epoch {epoch}, step {step - 1}"))
                    while pause.is_set() and not stop.is_set():
                        self.paused_seen.set()
                        time.sleep(0.01)
                    emit(Log("info", "resumed"))
                if stop.is_set():
                    break
                time.sleep(self.step_delay)
                emit(BatchEnd(epoch, step, steps, {"loss": loss_at(epoch, step, steps),
                                                   "accuracy": acc_at(epoch, step, steps)}))
                self.batches_emitted += 1
                if self.wait_seen is not None:
                    deadline = time.monotonic() + 2.0
                    while not self.wait_seen(epoch, step) and time.monotonic() < deadline:
                        time.sleep(0.005)
            else:
                logs = {"loss": loss_at(epoch, steps, steps), "accuracy": acc_at(epoch, steps, steps),
                        "val_loss": round(loss_at(epoch, steps, steps) + 0.1, 4),
                        "val_accuracy": round(acc_at(epoch, steps, steps) - 0.05, 4)}
                row = {"epoch": epoch, **logs, "lr": 0.001, "seconds": 0.5}
                writer.append_history(row)
                emit(EpochEnd(epoch, epochs, logs, 0.001, 0.5))
                done = epoch
                continue
            break
        if self.fail_with:
            writer.finish("failed", error=self.fail_with)
            from cnn_tui.core.engine.events import RunFailed

            emit(RunFailed(run_id, writer.path, self.fail_with))
            return RunResult(run_id, writer.path, "failed", None, self.fail_with)
        status = "stopped" if stop.is_set() else "completed"
        metrics = self._evaluate(writer, done, config)
        writer.finish(status)
        emit(Evaluated(metrics))
        emit(RunFinished(run_id, writer.path, status, metrics))
        return RunResult(run_id, writer.path, status, metrics, None)

    def _evaluate(self, writer: Any, epochs_done: int, config: Any) -> dict[str, Any]:
        labels = np.arange(TEST_SIZE, dtype=np.int64) % len(CLASSES)
        preds = labels.copy()
        preds[::7] = (labels[::7] + 1) % len(CLASSES)  # a few mistakes
        probs = np.full((TEST_SIZE, len(CLASSES)), 0.02, dtype=np.float32)
        probs[np.arange(TEST_SIZE), preds] = 0.82
        k = len(CLASSES)
        cm = np.zeros((k, k), dtype=int)
        for t, p in zip(labels, preds):
            cm[t, p] += 1
        wrong = np.flatnonzero(preds != labels)
        metrics = {
            "test_loss": 0.4321,
            "test_accuracy": round(float((preds == labels).mean()), 4),
            "f1_weighted": 0.85,
            "f1_macro": 0.84,
            "per_class": [
                {"class": c, "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": int((labels == i).sum())}
                for i, c in enumerate(CLASSES)
            ],
            "confusion_matrix": cm.tolist(),
            "class_names": CLASSES,
            "misclassified": [
                {"index": int(i), "true": int(labels[i]), "pred": int(preds[i]), "confidence": 0.82} for i in wrong
            ],
            "epochs_completed": epochs_done,
            "train_seconds": 0.5 * epochs_done,
            "params": 12_345,
            "device": self.device,
            "dataset": config.data.dataset,
            "image_shape": [8, 8, 1],
        }
        writer.write_metrics(metrics)
        writer.save_predictions(probs=probs, labels=labels, preds=preds, test_index=np.arange(TEST_SIZE))
        try:
            from cnn_tui.core.results.samples import save_samples

            images = (np.arange(64, dtype=np.uint8).reshape(8, 8, 1) * 4)[None].repeat(len(wrong), axis=0)
            save_samples(writer.path, images=images, index=wrong, true=labels[wrong], pred=preds[wrong],
                         confidence=np.full(len(wrong), 0.82))
        except ImportError:
            pass
        return metrics


def bad_dataset_error() -> CnnTuiError:
    """What the real engine raises for a missing folder dataset (before a run folder exists)."""
    from cnn_tui.core.errors import DataError

    return DataError("data.dataset = 'folder:/nope': no such folder")


async def wait_for(condition: Any, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``condition()`` with asyncio.sleep until it is true or ``timeout`` passes.

    (``pilot.pause()`` waits for an idle CPU, which never comes while a run trains.)
    """
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(interval)
    return bool(condition())


class ScreenApp(App):
    """Pushes one screen over the default one (so Back has somewhere to go)."""

    def __init__(self, make: Callable[[], Screen]):
        super().__init__()
        self._make = make

    def on_mount(self) -> None:
        self.push_screen(self._make())


async def train_four_epochs(app: Any, pilot: Any) -> None:
    """F5 on a Setup screen that is ready: a 4-epoch fake run to its end, every batch drawn,
    the end-of-run toast cleared and the Training screen synced (a stable picture)."""
    setup = app.setup_screen
    setup.field("train.epochs").control.value = "4"
    assert await wait_for(lambda: setup.config is not None and setup.config.train.epochs == 4)
    await pilot.press("f5")
    assert await wait_for(lambda: app.session.monitor is not None and app.session.monitor.status == "completed",
                          timeout=20)
    assert await wait_for(lambda: not app.training_active)
    # The end-of-run toast comes from the worker's state change, which may land after the
    # above: wait for it, then clear it, so it is never half in the picture.
    assert await wait_for(lambda: any("press r" in str(n.message) for n in app._notifications))
    app.clear_notifications()
    app.training_screen.sync(force=True)
    await pilot.pause()
