"""Keras callbacks that connect a training run to cnn-tui: events, stop/pause, NaN guard,
history rows and epoch-level TensorBoard scalars; and the list a run fits with
(:func:`fit_callbacks`: these, the learning-rate schedule, plateau, early stop, checkpoint).

All of them are ``async_safe``: Keras 3 then dispatches their batch-end hooks on a
helper thread, so they never make the training loop wait for the logs. Stop and pause
are handled in ``on_train_batch_begin``, which Keras always calls synchronously.
"""

from __future__ import annotations

import importlib.util
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from cnn_tui.core.engine.events import BatchEnd, EpochEnd, Event, Log

if TYPE_CHECKING:
    from cnn_tui.core.config import ExperimentConfig
    from cnn_tui.core.results.store import RunWriter


def _keras_callback_base():
    import keras

    return keras.callbacks.Callback


def current_lr(model: Any) -> float:
    """The optimizer's current learning rate as a float."""
    import keras

    try:
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return float("nan")


def _floats(logs: dict[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def make_event_callback(
    emit: Callable[[Event], None],
    *,
    epochs: int,
    steps: int,
    initial_epoch: int,
    stop: threading.Event,
    pause: threading.Event | None,
    on_epoch_row: Callable[[dict[str, Any]], None],
    batch_interval: float = 0.1,
):
    """Build the :class:`EventCallback` (a factory so keras is imported lazily)."""
    base = _keras_callback_base()

    class EventCallback(base):
        """Turns Keras hooks into cnn-tui events, and stop/pause flags into Keras actions.

        Args:
            emit: called with each event (BatchEnd throttled to one per ``batch_interval`` s).
            epochs: total epochs of the run (for EpochEnd).
            steps: training steps per epoch.
            initial_epoch: epochs already done (resume), so events stay 1-based and global.
            stop: when set, training ends after the current batch.
            pause: while set, training waits before the next batch.
            on_epoch_row: receives the history row of every finished epoch.
            batch_interval: minimum seconds between two BatchEnd events.
        """

        async_safe = True

        def __init__(self):
            super().__init__()
            self._last_emit = 0.0
            self._epoch_start = 0.0
            self._paused_seconds = 0.0
            self._epoch = initial_epoch
            self._steps_begun = 0
            self.nan_at: tuple[int, int] | None = None
            # False after an epoch that a stop cut short: Keras still calls on_epoch_end
            # for it, but it is no completed epoch (no history row, no checkpoint).
            self.last_epoch_complete = True

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch + 1
            self._epoch_start = time.perf_counter()
            self._paused_seconds = 0.0
            self._steps_begun = 0

        def on_train_batch_begin(self, batch, logs=None):
            self._steps_begun = batch + 1
            if pause is not None and pause.is_set() and not stop.is_set():
                began = time.perf_counter()
                emit(Log("info", f"paused at epoch {self._epoch}, step {batch}"))
                while pause.is_set() and not stop.is_set():
                    time.sleep(0.05)
                self._paused_seconds += time.perf_counter() - began
                emit(Log("info", "resumed"))
            if stop.is_set():
                self.model.stop_training = True

        def on_train_batch_end(self, batch, logs=None):
            # TerminateOnNaN, but remembering where: checked on every batch.
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                if self.nan_at is None:
                    self.nan_at = (self._epoch, batch + 1)
                self.model.stop_training = True
                return
            now = time.monotonic()
            if batch + 1 < steps and now - self._last_emit < batch_interval:
                return
            self._last_emit = now
            values = _floats(logs)
            emit(BatchEnd(epoch=self._epoch, step=batch + 1, steps=steps, logs=values))

        def on_epoch_end(self, epoch, logs=None):
            values = _floats(logs)
            loss = values.get("loss")
            if loss is not None and not math.isfinite(loss):
                if self.nan_at is None:
                    self.nan_at = (epoch + 1, steps)
                self.model.stop_training = True
                return
            self.last_epoch_complete = self._steps_begun >= steps or not self.model.stop_training
            if not self.last_epoch_complete:
                emit(Log("info", f"epoch {epoch + 1} stopped at step {self._steps_begun}/{steps}: not counted"))
                return
            seconds = time.perf_counter() - self._epoch_start - self._paused_seconds
            lr = current_lr(self.model)
            row = {
                "epoch": epoch + 1,
                "loss": values.get("loss"),
                "accuracy": values.get("accuracy"),
                "val_loss": values.get("val_loss"),
                "val_accuracy": values.get("val_accuracy"),
                "lr": lr,
                "seconds": round(seconds, 4),
            }
            on_epoch_row(row)
            emit(EpochEnd(epoch=epoch + 1, epochs=epochs, logs=values, lr=lr, seconds=seconds))

    return EventCallback()


def make_tensorboard_callback(log_dir: str):
    """Epoch-level TensorBoard scalars (train/ and validation/ like Keras' own callback).

    Keras' TensorBoard callback hooks every batch, which turns off async dispatch for the
    whole callback list; this one only writes at epoch ends.
    """
    base = _keras_callback_base()

    class EpochTensorBoard(base):
        """Write loss/accuracy/lr scalars to ``log_dir`` after every epoch.

        Args:
            log_dir: the run's tb/ folder.
        """

        async_safe = True

        def __init__(self):
            super().__init__()
            self._writers: dict[str, Any] = {}

        def _writer(self, name: str):
            import tensorflow as tf

            if name not in self._writers:
                self._writers[name] = tf.summary.create_file_writer(f"{log_dir}/{name}")
            return self._writers[name]

        def on_epoch_end(self, epoch, logs=None):
            import tensorflow as tf

            for key, value in _floats(logs).items():
                split, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
                with self._writer(split).as_default():
                    tf.summary.scalar(f"epoch_{tag}", value, step=epoch)
            with self._writer("train").as_default():
                tf.summary.scalar("epoch_learning_rate", current_lr(self.model), step=epoch)
            for writer in self._writers.values():
                writer.flush()

        def on_train_end(self, logs=None):
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()

    return EpochTensorBoard()


def lr_schedule(config: ExperimentConfig):
    """The ``train.lr_schedule`` callback (None for a constant rate)."""
    import keras

    base, epochs, kind = config.train.learning_rate, config.train.epochs, config.train.lr_schedule
    if kind == "constant":
        return None
    if kind == "cosine":
        return keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: base * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
        )
    decay = config.train.lr_decay
    return keras.callbacks.LearningRateScheduler(lambda epoch, lr: base * decay**epoch)


def fit_callbacks(config: ExperimentConfig, writer: RunWriter, emit: Callable[[Event], None],
                  event_cb: Any) -> tuple[list[Any], Any]:
    """The callbacks ``model.fit`` runs with after ``event_cb`` (from :func:`make_event_callback`),
    as ``config.train`` asks; and the checkpoint callback among them (None without one), whose
    ``flush`` writes the last completed epoch when a run ends early."""
    import keras

    from cnn_tui.core.engine.saving import make_checkpoint_callback

    t = config.train
    callbacks: list[Any] = [event_cb]
    schedule = lr_schedule(config)
    if schedule is not None:
        callbacks.append(schedule)
    if t.reduce_lr.enabled:
        r = t.reduce_lr
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=r.monitor, factor=r.factor, patience=r.patience, cooldown=r.cooldown, min_lr=r.min_lr
            )
        )
    if t.early_stopping.enabled:
        e = t.early_stopping
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor=e.monitor, patience=e.patience, restore_best_weights=e.restore_best)
        )
    if t.tensorboard:
        if importlib.util.find_spec("tensorboard") is None:
            # tf.summary needs the tensorboard package, which TF 2.21 no longer pulls in.
            emit(Log("warning", "tensorboard is not installed: no tb/ logs (pip install tensorboard)"))
        else:
            callbacks.append(make_tensorboard_callback(str(writer.path / "tb")))
    checkpoint_cb = None
    if t.checkpoint:
        checkpoint_cb = make_checkpoint_callback(writer, lambda: event_cb.last_epoch_complete, t.checkpoint_every)
        callbacks.append(checkpoint_cb)
    return callbacks, checkpoint_cb
