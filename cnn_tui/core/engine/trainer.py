"""The training engine: config -> stored run, emitting events.

``train(config, on_event, stop)`` loads the data, builds the model, creates the run
folder, fits with cnn-tui's callbacks, evaluates on the test split and stores
everything. Bad input (unknown dataset, architecture too deep for the images...) raises
:class:`~cnn_tui.core.errors.CnnTuiError` before any run folder exists; a failure during
training is stored as a ``failed`` run and returned, not raised.

The fit loop is here; the optimizer is made in :mod:`.optimizer`, the callbacks a run fits
with in :func:`.callbacks.fit_callbacks`, the checkpoint, evaluation and ``model.keras`` are
written by :mod:`.saving`.
"""

from __future__ import annotations

import errno
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cnn_tui.core.config import ExperimentConfig
from cnn_tui.core.engine.events import Evaluated, Event, Log, RunFailed, RunFinished, RunStarted
from cnn_tui.core.errors import CnnTuiError, ConfigError
from cnn_tui.core.engine.optimizer import compile_model
from cnn_tui.core.engine.saving import CHECKPOINT_FILE, evaluate_and_store
from cnn_tui.core.results.store import RunInfo, RunStore, RunWriter, resolve_runs_dir



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
    from cnn_tui.core.data import make_tf_dataset
    from cnn_tui.core.engine.callbacks import fit_callbacks, make_event_callback

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
    callbacks, checkpoint_cb = fit_callbacks(config, writer, emit, event_cb)

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
        metrics = evaluate_and_store(config, prepared, writer, emit, epochs_done, train_seconds, params)
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
    from cnn_tui.core.results.history import read_history

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
