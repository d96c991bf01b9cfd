"""The files a run's model writes: ``checkpoint.keras`` at epoch ends (for resume) and, once
trained, the test evaluation (metrics.json, predictions.npz, samples.npz) and ``model.keras``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cnn_tui.core.config import ExperimentConfig
from cnn_tui.core.engine.events import Event, Log
from cnn_tui.core.engine.optimizer import compile_model
from cnn_tui.core.fsutil import atomic_write_with
from cnn_tui.core.results.samples import save_samples
from cnn_tui.core.results.store import RunWriter

CHECKPOINT_FILE = "checkpoint.keras"
MODEL_FILE = "model.keras"


def _save_model(model: Any, path: Path) -> None:
    """Save a .keras file atomically (Keras wants the suffix, which the temp file keeps)."""
    atomic_write_with(path, model.save)


def save_inference_model(model: Any, path: Path, config: ExperimentConfig) -> None:
    """Save what ``model.keras`` holds: the trained model minus its augmentation layers
    (identity at inference; some are cnn-tui's own classes, which would keep the file from
    loading in a Python without cnn-tui). Same weights, compiled with the same loss, metrics
    and optimizer state, so ``keras.saving.load_model`` gives a model that predicts,
    evaluates and can be fine-tuned. The checkpoint keeps the complete model for resume."""
    from cnn_tui.core.models import inference_model

    inference = inference_model(model)
    compile_model(inference, config, optimizer=model.optimizer)
    _save_model(inference, path)


def make_checkpoint_callback(writer: RunWriter, epoch_complete: Callable[[], bool], every: float = 0.0):
    """Save model + optimizer state to checkpoint.keras at epoch ends (for resume).

    Saving costs ~0.1 s for a small model, a few % of a short epoch; so a checkpoint is
    written at the first completed epoch end (a run killed early still resumes instead of
    starting over), then at the first one ``every`` seconds after the previous one (0: every
    epoch). The epochs in between are kept as an in-memory snapshot of every variable,
    which :meth:`flush` writes when a run ends early (stop, NaN, error): a stopped run
    resumes after its last completed epoch whatever the interval. A killed process loses at
    most the epochs since the last checkpoint.
    """
    import keras

    class EpochCheckpoint(keras.callbacks.Callback):
        """Atomically write the run's checkpoint and record the epoch in status.json.

        Args:
            writer: the run being trained.
            epoch_complete: False when the epoch just ended was cut short by a stop.
            every: minimum seconds between two checkpoint writes (0 = every epoch).
        """

        async_safe = True

        def __init__(self):
            super().__init__()
            self._last_write = time.monotonic()
            self._written = False  # the first completed epoch is always written
            self._pending: tuple[int, list[Any]] | None = None

        def on_train_begin(self, logs=None):
            self._last_write = time.monotonic()

        def _variables(self) -> list[Any]:
            return list(self.model.variables) + list(self.model.optimizer.variables)

        def _write(self, epoch: int) -> None:
            _save_model(self.model, writer.path / CHECKPOINT_FILE)
            writer.update_status(checkpoint_epoch=epoch)
            self._last_write = time.monotonic()
            self._written = True
            self._pending = None

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            loss = logs.get("loss")
            if (loss is not None and not math.isfinite(float(loss))) or not epoch_complete():
                return
            if every <= 0 or not self._written or time.monotonic() - self._last_write >= every:
                self._write(epoch + 1)
            else:
                self._pending = (epoch + 1, [np.array(v) for v in self._variables()])

        def flush(self) -> None:
            """Write the last completed epoch if only its snapshot holds it; the model's
            own (possibly mid-epoch) state is put back afterwards."""
            if self._pending is None:
                return
            epoch, snapshot = self._pending
            variables = self._variables()
            current = [np.array(v) for v in variables]
            try:
                for variable, value in zip(variables, snapshot):
                    variable.assign(value)
                self._write(epoch)
            finally:
                for variable, value in zip(variables, current):
                    variable.assign(value)

    return EpochCheckpoint()


def evaluate_and_store(
    config: ExperimentConfig,
    prepared: Any,
    writer: RunWriter,
    emit: Callable[[Event], None],
    epochs_done: int,
    train_seconds: float,
    params: int,
) -> dict[str, Any]:
    """Evaluate the trained model of ``prepared`` (the trainer's data, model, device and
    strategy) on the test split and store the results and ``model.keras``; the metrics."""
    from cnn_tui.core.data import make_tf_dataset
    from cnn_tui.core.engine.evaluate import compute_metrics, ranked_mistakes, sample_image_count
    from cnn_tui.core.engine.precise_bn import precise_bn_for_run

    ds, model, t = prepared.dataset, prepared.model, config.train
    precise_bn = precise_bn_for_run(t, ds, model, prepared.strategy, emit)
    emit(Log("info", f"evaluating on {len(ds.y_test)} test images"))
    test_data = make_tf_dataset(ds.x_test, ds.y_test, t.batch_size, shuffle=False, seed=t.seed, repeat=False)
    probs = np.asarray(model.predict(test_data, verbose=0), dtype=np.float32)
    labels = np.asarray(ds.y_test, dtype=np.int64)
    metrics = compute_metrics(probs, labels, list(ds.class_names))
    metrics.update(
        epochs_completed=epochs_done,
        train_seconds=round(train_seconds, 3),
        params=params,
        device=prepared.device,
        dataset=config.data.dataset,
        image_shape=list(ds.image_shape),
        precise_bn=precise_bn,
    )
    preds = probs.argmax(axis=1)
    writer.save_predictions(
        probs=probs,
        logits=np.log(np.clip(probs, 1e-7, 1.0)),
        labels=labels,
        preds=preds.astype(np.int64),
        test_index=np.arange(len(labels), dtype=np.int64),
    )
    # The images of every mistake (most confident first, within a size limit), so the
    # gallery can page through all of them, not only metrics.json's first 256.
    wrong, wrong_pred, confidence = ranked_mistakes(probs, labels)
    keep = sample_image_count(len(wrong), tuple(ds.image_shape), lazy=not isinstance(ds.x_test, np.ndarray))
    if keep:
        wrong, wrong_pred, confidence = wrong[:keep], wrong_pred[:keep], confidence[:keep]
        save_samples(
            writer.path,
            images=np.asarray(ds.x_test[wrong], dtype=np.uint8),
            index=wrong,
            true=labels[wrong],
            pred=wrong_pred,
            confidence=np.round(confidence, 4),
        )
    writer.write_metrics(metrics)
    if t.save_model:
        with prepared.strategy.scope():
            save_inference_model(model, writer.path / MODEL_FILE, config)
    return metrics
