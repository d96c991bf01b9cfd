"""The training engine: config -> stored run, emitting events.

``train(config, on_event, stop)`` loads the data, builds the model, creates the run
folder, fits with cnn-tui's callbacks, evaluates on the test split and stores
everything. Bad input (unknown dataset, architecture too deep for the images...) raises
:class:`~cnn_tui.core.errors.CnnTuiError` before any run folder exists; a failure during
training is stored as a ``failed`` run and returned, not raised.
"""

from __future__ import annotations

import errno
import importlib.util

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cnn_tui.core.config import ExperimentConfig
from cnn_tui.core.engine.events import Evaluated, Event, Log, RunFailed, RunFinished, RunStarted
from cnn_tui.core.errors import CnnTuiError, ConfigError
from cnn_tui.core.fsutil import atomic_write_with
from cnn_tui.core.results.samples import save_samples
from cnn_tui.core.results.store import RunInfo, RunStore, RunWriter, resolve_runs_dir

CHECKPOINT_FILE = "checkpoint.keras"
MODEL_FILE = "model.keras"


@dataclass(frozen=True)
class RunResult:
    """What :func:`train` returns."""

    run_id: str
    run_dir: Path
    status: str  # completed | stopped | failed
    metrics: dict[str, Any] | None
    error: str | None = None


def _safe_emit(on_event: Callable[[Event], None] | None) -> Callable[[Event], None]:
    """A handler that never lets a front end's error kill the run."""
    if on_event is None:
        return lambda event: None

    def emit(event: Event) -> None:
        try:
            on_event(event)
        except Exception:  # noqa: BLE001 - a broken UI must not tear the stored run
            pass

    return emit


def _check_monitors(config: ExperimentConfig) -> None:
    needs_val = [
        f"train.{name}.monitor = {cb.monitor!r}"
        for name, cb in (("reduce_lr", config.train.reduce_lr), ("early_stopping", config.train.early_stopping))
        if cb.enabled and cb.monitor.startswith("val_")
    ]
    if needs_val and config.data.validation_split == 0:
        raise ConfigError(f"{needs_val[0]} needs a validation split: set data.validation_split > 0")


def _lr_schedule(config: ExperimentConfig):
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


def make_optimizer(config: ExperimentConfig):
    """The Keras optimizer named by ``train.optimizer``."""
    import keras

    t = config.train
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=t.learning_rate, momentum=t.momentum)
    if t.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=t.learning_rate, momentum=t.momentum)
    if t.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=t.learning_rate)
    return keras.optimizers.Adam(learning_rate=t.learning_rate)


def compile_model(model: Any, config: ExperimentConfig, optimizer: Any = None) -> None:
    """Compile ``model`` for training as cnn-tui does: ``train.optimizer`` (or ``optimizer``),
    sparse categorical cross-entropy on the softmax output, accuracy."""
    import keras

    model.compile(
        optimizer=optimizer if optimizer is not None else make_optimizer(config),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
        jit_compile=config.train.jit_compile,
    )


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


def train(
    config: ExperimentConfig,
    on_event: Callable[[Event], None] | None = None,
    stop: threading.Event | None = None,
    *,
    runs_dir: str | os.PathLike | None = None,
    name: str | None = None,
    pause: threading.Event | None = None,
    tags: dict[str, Any] | None = None,
) -> RunResult:
    """Train ``config`` to a stored run.

    Args:
        config: the resolved experiment.
        on_event: receives :mod:`~cnn_tui.core.engine.events` as the run goes on.
        stop: when set, training ends after the current batch; the run is evaluated and
            stored as ``stopped``.
        runs_dir: the runs folder (default: ``$CNN_TUI_RUNS_DIR`` or ``./runs``).
        name: run name (default: ``config.name``).
        pause: while set, training waits between batches.
        tags: extra labels stored in status.json (experiment id, group, seed...).
    """
    emit = _safe_emit(on_event)
    stop = stop or threading.Event()
    _check_monitors(config)
    store = RunStore(resolve_runs_dir(runs_dir))
    store.check_writable()  # a read-only or missing runs folder fails before seconds of TF import
    prepared = _prepare(config, emit)
    writer = store.create(config, name=name, tags=tags)
    return _run(config, prepared, writer, emit, stop, pause, initial_epoch=0)


def check_resumable(run: RunInfo) -> int:
    """The number of completed epochs ``run`` would resume after (0: it has no checkpoint and
    starts again from epoch 0); RunStoreError (one line) when it cannot be resumed: damaged,
    still running, completed, or stopped after its last epoch."""
    from cnn_tui.core.errors import RunStoreError

    if run.state == "damaged":
        raise RunStoreError(f"run {run.run_id} is damaged and cannot be resumed: {run.damage}")
    if run.state not in ("crashed", "stopped", "failed"):
        raise RunStoreError(f"run {run.run_id} is {run.state}; only crashed, stopped or failed runs can be resumed")
    config = run.config
    if not (run.path / CHECKPOINT_FILE).exists():
        return 0
    done = int(run.status.get("checkpoint_epoch") or 0)
    if done >= config.train.epochs and run.state == "stopped":
        raise RunStoreError(f"run {run.run_id} already trained all {done} epochs")
    return done


def resume(
    run: RunInfo,
    on_event: Callable[[Event], None] | None = None,
    stop: threading.Event | None = None,
    *,
    runs_dir: str | os.PathLike | None = None,
    pause: threading.Event | None = None,
) -> RunResult:
    """Continue a crashed, stopped or failed run from its last checkpointed epoch, in place.

    A run with no usable checkpoint (killed before its first epoch end, trained with
    ``train.checkpoint = false``, or a checkpoint that does not load) is trained again from
    epoch 0 in the same folder, its history reset; one info line says so.
    """
    from cnn_tui.core.errors import RunStoreError

    emit = _safe_emit(on_event)
    stop = stop or threading.Event()
    done = check_resumable(run)
    config = run.config
    checkpoint = run.path / CHECKPOINT_FILE
    store = RunStore(run.path.parent if runs_dir is None else resolve_runs_dir(runs_dir))
    store.check_writable(run.path)
    has_checkpoint = checkpoint.exists()
    prepared = _prepare(config, emit, checkpoint=checkpoint if has_checkpoint else None)
    why = "no checkpoint"
    if has_checkpoint:
        if prepared.model is None:
            why, done = f"{CHECKPOINT_FILE} does not load ({prepared.load_error})", 0
        else:
            # A kill between saving the checkpoint and recording it in status.json leaves the
            # checkpoint an epoch ahead: the optimizer's step count inside it says how far it got.
            done = max(done, _checkpoint_epochs(prepared, config))
            why = f"{CHECKPOINT_FILE} holds no completed epoch"
        if done == 0:
            _new_model(config, prepared)
    try:
        writer = store.open_writer(run)
        writer.truncate_history(done)
        if done == 0:
            checkpoint.unlink(missing_ok=True)
            writer.update_status(checkpoint_epoch=None)
    except OSError as exc:
        raise RunStoreError(f"{run.path}: cannot write the run's files ({_os_error(exc)})") from None
    if done:
        emit(Log("info", f"resuming {run.run_id} after epoch {done}"))
    else:
        emit(Log("info", f"{why} in {run.run_id}: restarting from epoch 0 (history reset)"))
    return _run(config, prepared, writer, emit, stop, pause, initial_epoch=done)


def _checkpoint_epochs(prepared: "_Prepared", config: ExperimentConfig) -> int:
    """Completed epochs stored in a loaded checkpoint (0 when it cannot tell)."""
    import keras

    steps = max(1, math.ceil(len(prepared.dataset.y_train) / config.train.batch_size))
    try:
        iterations = int(keras.ops.convert_to_numpy(prepared.model.optimizer.iterations))
    except (AttributeError, TypeError, ValueError):
        return 0
    # Checkpoints are written at epoch ends only, so anything else is not ours to trust.
    if iterations % steps:
        return 0
    return min(iterations // steps, config.train.epochs)


@dataclass
class _Prepared:
    dataset: Any
    model: Any  # None when a checkpoint was asked for and did not load (see load_error)
    device: str
    strategy: Any
    stats: Any = None
    load_error: str | None = None


def _prepare(config: ExperimentConfig, emit: Callable[[Event], None], checkpoint: Path | None = None) -> _Prepared:
    """Load data and build (or load) the model; CnnTuiError on bad input. A checkpoint that
    does not load leaves ``model`` None and the reason in ``load_error``."""
    from cnn_tui.core.data import channel_stats, load_dataset
    from cnn_tui.core.engine.device import configure_devices, describe_device, strategy_for
    from cnn_tui.core.models import load_model
    from cnn_tui.core.models.memory import check_memory
    from cnn_tui.core.tfimport import import_tf

    dataset = load_dataset(config.data)
    if dataset.skipped:
        emit(Log("warning", dataset.skipped_warning()))
    check_memory(config, dataset.image_shape, dataset.num_classes)  # plans the model; the images are loaded
    import_tf()
    import keras

    configure_devices()
    device = describe_device()
    keras.utils.set_random_seed(config.train.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if config.train.mixed_precision else "float32")
    strategy = strategy_for(config.train.distribute)
    stats = None
    if config.data.normalization in ("zero_center", "standardize"):
        stats = channel_stats(dataset.x_train)
    prepared = _Prepared(dataset=dataset, model=None, device=device, strategy=strategy, stats=stats)
    if checkpoint is None:
        _new_model(config, prepared)
        return prepared
    try:
        with strategy.scope():
            # cnn-tui's load_model registers its custom (augmentation) layers first.
            prepared.model = load_model(checkpoint)
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint: resume starts over
        prepared.load_error = _one_line(exc)
    return prepared


def _new_model(config: ExperimentConfig, prepared: _Prepared) -> None:
    """Build and compile a fresh model for ``config`` into ``prepared`` (seeded as a new run)."""
    import keras

    from cnn_tui.core.models import build_model

    keras.utils.set_random_seed(config.train.seed)
    ds = prepared.dataset
    with prepared.strategy.scope():
        model = build_model(config.model, config.data, ds.image_shape, ds.num_classes, prepared.stats,
                            seed=config.train.seed)  # fmt: skip
        compile_model(model, config)
    prepared.model = model


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, CnnTuiError) else text


def _run(
    config: ExperimentConfig,
    prepared: _Prepared,
    writer: RunWriter,
    emit: Callable[[Event], None],
    stop: threading.Event,
    pause: threading.Event | None,
    *,
    initial_epoch: int,
) -> RunResult:
    import keras

    from cnn_tui.core.data import make_tf_dataset
    from cnn_tui.core.engine.callbacks import make_event_callback, make_tensorboard_callback

    ds, model, t = prepared.dataset, prepared.model, config.train
    n_train, n_val = len(ds.y_train), len(ds.y_val)
    steps = max(1, math.ceil(n_train / t.batch_size))
    params = int(model.count_params())
    writer.update_status(device=prepared.device, params=params, dataset=config.data.dataset)
    # A resumed run: its earlier epochs count in train_seconds, and front ends draw them.
    earlier = tuple(_history_epochs(writer)[:initial_epoch]) if initial_epoch else ()
    earlier_seconds = sum(float(row.get("seconds") or 0.0) for row in earlier)
    emit(
        RunStarted(
            run_id=writer.run_id,
            run_dir=writer.path,
            name=writer.status.get("name", config.name),
            device=prepared.device,
            params=params,
            epochs=t.epochs,
            steps_per_epoch=steps,
            train_size=n_train,
            val_size=n_val,
            test_size=len(ds.y_test),
            class_names=tuple(ds.class_names),
            initial_epoch=initial_epoch,
            history=earlier,
        )
    )
    event_cb = make_event_callback(
        emit,
        epochs=t.epochs,
        steps=steps,
        initial_epoch=initial_epoch,
        stop=stop,
        pause=pause,
        on_epoch_row=writer.append_history,
    )
    callbacks: list[Any] = [event_cb]
    schedule = _lr_schedule(config)
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

    started = time.perf_counter()
    status, error = "completed", None
    try:
        with prepared.strategy.scope():
            train_data = make_tf_dataset(ds.x_train, ds.y_train, t.batch_size, shuffle=True, seed=t.seed, repeat=True)
            val_data = (
                make_tf_dataset(ds.x_val, ds.y_val, t.batch_size, shuffle=False, seed=t.seed, repeat=False)
                if n_val
                else None
            )
        if initial_epoch < t.epochs and not stop.is_set():
            model.fit(
                train_data,
                validation_data=val_data,
                epochs=t.epochs,
                initial_epoch=initial_epoch,
                steps_per_epoch=steps,
                callbacks=callbacks,
                shuffle=False,
                verbose=0,
            )
        if event_cb.nan_at is not None:
            epoch, step = event_cb.nan_at
            status, error = "failed", f"loss became NaN/inf at epoch {epoch}, batch {step} (try a lower train.learning_rate)"
        elif stop.is_set():
            status = "stopped"
    except Exception as exc:  # noqa: BLE001 - stored as a failed run, reported as one line
        status, error = "failed", _training_error(exc, params, t.batch_size, writer.path)
    train_seconds = time.perf_counter() - started + earlier_seconds
    if checkpoint_cb is not None and status != "completed":
        try:
            checkpoint_cb.flush()
        except Exception as exc:  # noqa: BLE001 - the run's outcome matters more than its checkpoint
            reason = _os_error(exc) if isinstance(exc, OSError) else _one_line(exc)
            emit(Log("warning", f"could not write the checkpoint of the last completed epoch ({reason})"))
    epochs_done = len(_history_epochs(writer))

    if status == "failed":
        _finish_failed(writer, error, emit)
        emit(Log("error", error or "failed"))
        emit(RunFailed(run_id=writer.run_id, run_dir=writer.path, error=error or "failed"))
        return RunResult(writer.run_id, writer.path, "failed", None, error)

    try:
        metrics = _evaluate_and_store(config, prepared, writer, emit, epochs_done, train_seconds, params)
    except Exception as exc:  # noqa: BLE001
        error = f"evaluation failed: {_training_error(exc, params, t.batch_size, writer.path)}"
        _finish_failed(writer, error, emit)
        emit(RunFailed(run_id=writer.run_id, run_dir=writer.path, error=error))
        return RunResult(writer.run_id, writer.path, "failed", None, error)
    try:
        writer.finish(status)
    except OSError as exc:
        error = f"cannot write the run's status ({_os_error(exc)})"
        emit(RunFailed(run_id=writer.run_id, run_dir=writer.path, error=error))
        return RunResult(writer.run_id, writer.path, "failed", None, error)
    if status == "completed":
        # Only resume reads the checkpoint, and a completed run cannot be resumed: for a big
        # model it would double the run's size on disk (model.keras holds the final state).
        try:
            (writer.path / CHECKPOINT_FILE).unlink(missing_ok=True)
        except OSError:
            pass
    emit(Evaluated(metrics))
    emit(RunFinished(run_id=writer.run_id, run_dir=writer.path, status=status, metrics=metrics))
    return RunResult(writer.run_id, writer.path, status, metrics, None)


def _history_epochs(writer: RunWriter) -> list[dict[str, Any]]:
    from cnn_tui.core.results.store import read_history

    return read_history(writer.path)


def _os_error(exc: OSError, folder: Path | None = None) -> str:
    where = exc.filename or folder
    return f"{exc.strerror or exc}" + (f": {where}" if where else "")


def _finish_failed(writer: RunWriter, error: str | None, emit: Callable[[Event], None]) -> None:
    """Mark the run failed; if even status.json cannot be written (disk full), say so and go on:
    the run then reads as crashed once this process has ended."""
    try:
        writer.finish("failed", error=error)
    except OSError as exc:
        emit(Log("warning", f"could not record the failure in status.json ({_os_error(exc)})"))


def _training_error(exc: BaseException, params: int, batch_size: int, folder: Path | None = None) -> str:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT):
        return f"cannot write the run's files ({_os_error(exc, folder)})"
    text = _one_line(exc)
    if "ResourceExhausted" in type(exc).__name__ or "OOM" in text or "out of memory" in text.lower():
        return f"out of memory training {params:,} parameters at batch size {batch_size}: lower train.batch_size or use a smaller model ({text[:120]})"
    return text


def _evaluate_and_store(
    config: ExperimentConfig,
    prepared: _Prepared,
    writer: RunWriter,
    emit: Callable[[Event], None],
    epochs_done: int,
    train_seconds: float,
    params: int,
) -> dict[str, Any]:
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


