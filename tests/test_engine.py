"""The engine with real TensorFlow on the digits dataset (tiny runs, a few seconds each)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from cnn_tui.core.config import apply_overrides
from cnn_tui.core.engine import BatchEnd, EpochEnd, Evaluated, Log, RunFailed, RunFinished, RunStarted, resume, train
from cnn_tui.core.engine.evaluate import compute_metrics
from cnn_tui.core.errors import DataError, ModelError
from cnn_tui.core.presets import load_preset
from cnn_tui.core.results.store import RunStore

QUICK = ["train.epochs=2", "data.train_limit=400", "data.test_limit=200", "train.batch_size=32"]


def quick_config(*extra: str):
    return apply_overrides(load_preset("digits-quick"), [*QUICK, *extra])


def test_digits_run_end_to_end(tmp_path):
    events = []
    result = train(quick_config(), events.append, runs_dir=tmp_path, name="e2e")
    assert result.status == "completed", result.error
    run_dir = result.run_dir
    for name in ("config.toml", "status.json", "history.csv", "metrics.json", "predictions.npz", "model.keras"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tb").rglob("events.out.tfevents*")), "no TensorBoard logs"
    assert not list(run_dir.glob(".*tmp*")), "temp files left behind"

    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("test_loss", "test_accuracy", "f1_weighted", "f1_macro", "per_class", "confusion_matrix",
                "epochs_completed", "train_seconds", "params"):
        assert key in metrics, key
    assert metrics["epochs_completed"] == 2
    assert np.array(metrics["confusion_matrix"]).sum() == metrics["test_size"] == 200
    assert 0.0 <= metrics["test_accuracy"] <= 1.0

    run = RunStore(tmp_path).get(result.run_id)
    history = run.history()
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(row["val_accuracy"] is not None and row["lr"] > 0 for row in history)
    preds = run.predictions()
    assert preds["probs"].shape == (200, 10)
    np.testing.assert_allclose(preds["probs"].sum(axis=1), 1.0, atol=1e-4)

    kinds = [type(e) for e in events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    assert kinds.count(EpochEnd) == 2 and Evaluated in kinds and BatchEnd in kinds
    started = events[0]
    assert started.device.startswith(("CPU", "GPU")) and started.params == metrics["params"]

    import keras

    model = keras.models.load_model(run_dir / "model.keras", safe_mode=True)
    assert model.output_shape[-1] == 10


def test_stop_keeps_a_stopped_evaluated_run(tmp_path):
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, BatchEnd):
            stop.set()

    result = train(quick_config("train.epochs=5"), on_event, stop, runs_dir=tmp_path)
    assert result.status == "stopped"
    run = RunStore(tmp_path).get(result.run_id)
    assert run.state == "stopped"
    assert run.metrics is not None and run.metrics["epochs_completed"] < 5


def test_pause_waits_then_resumes(tmp_path):
    pause = threading.Event()
    paused_logs = []

    def on_event(event):
        if isinstance(event, EpochEnd) and event.epoch == 1:
            pause.set()
        if isinstance(event, Log) and event.message.startswith(("paused", "resumed")):
            paused_logs.append(event.message)
            if event.message.startswith("paused"):
                # Released once training has seen the pause: a timer started at the epoch end
                # could run out during epoch 1's checkpoint write on a busy host, unseen.
                threading.Timer(0.5, pause.clear).start()

    result = train(quick_config(), on_event, pause=pause, runs_dir=tmp_path)
    assert result.status == "completed"
    assert [m.split()[0] for m in paused_logs] == ["paused", "resumed"]


def test_nan_loss_fails_with_epoch_and_batch_and_keeps_history(tmp_path, monkeypatch):
    import keras

    import cnn_tui.core.engine.optimizer as optimizer

    monkeypatch.setattr(optimizer, "make_optimizer", lambda config: keras.optimizers.SGD(learning_rate=1e38))
    events = []
    result = train(quick_config("train.epochs=3"), events.append, runs_dir=tmp_path)
    assert result.status == "failed"
    assert "NaN" in result.error and "epoch 1" in result.error and "batch" in result.error
    run = RunStore(tmp_path).get(result.run_id)
    assert run.state == "failed" and "NaN" in run.error
    assert isinstance(events[-1], RunFailed)


def test_bad_dataset_raises_before_any_run_folder(tmp_path):
    with pytest.raises(DataError):
        train(quick_config("data.dataset=no_such_set"), runs_dir=tmp_path)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_too_deep_architecture_raises_model_error(tmp_path):
    with pytest.raises(ModelError) as info:
        train(quick_config("model.architecture=vgg10"), runs_dir=tmp_path)
    assert "8x8" in str(info.value)
    assert not any(tmp_path.iterdir())


def test_resume_continues_a_stopped_run_without_duplicate_epochs(tmp_path):
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, EpochEnd) and event.epoch == 1:
            stop.set()

    first = train(quick_config("train.epochs=3"), on_event, stop, runs_dir=tmp_path)
    assert first.status == "stopped"
    run = RunStore(tmp_path).get(first.run_id)
    events = []
    second = resume(run, events.append)
    assert second.status == "completed" and second.run_id == first.run_id
    history = RunStore(tmp_path).get(first.run_id).history()
    assert [row["epoch"] for row in history] == [1, 2, 3]
    epochs = [e.epoch for e in events if isinstance(e, EpochEnd)]
    assert epochs == [2, 3]
    # the continuation knows the epoch before it (front ends draw the whole run) and counts its time
    (started,) = [e for e in events if isinstance(e, RunStarted)]
    assert started.initial_epoch == 1 and [row["epoch"] for row in started.history] == [1]
    metrics = RunStore(tmp_path).get(first.run_id).metrics
    assert metrics["train_seconds"] >= sum(row["seconds"] for row in history) * 0.95, (metrics, history)


def test_resume_trusts_the_checkpoint_over_a_status_that_lags_behind(tmp_path):
    """Killed after the checkpoint was saved but before status.json said so."""
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, EpochEnd) and event.epoch == 2:
            stop.set()

    first = train(quick_config("train.epochs=3"), on_event, stop, runs_dir=tmp_path)
    status_file = tmp_path / first.run_id / "status.json"
    status = json.loads(status_file.read_text())
    assert status["checkpoint_epoch"] == 2
    status["checkpoint_epoch"] = 1
    status_file.write_text(json.dumps(status))
    events = []
    second = resume(RunStore(tmp_path).get(first.run_id), events.append)
    assert second.status == "completed", second.error
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [3]
    assert [row["epoch"] for row in RunStore(tmp_path).get(first.run_id).history()] == [1, 2, 3]


@pytest.mark.parametrize("state", ["stopped", "failed", "unloadable"])
def test_resume_without_a_checkpoint_restarts_from_epoch_0(tmp_path, state):
    """No usable checkpoint (train.checkpoint = false here; or killed before the first epoch
    end; or a checkpoint.keras that does not load): resume trains the run again from epoch 0
    in place, says so in one line, and resets the history instead of refusing."""
    stop = threading.Event()

    def on_event(event):
        if isinstance(event, EpochEnd) and event.epoch == 2:
            stop.set()

    first = train(quick_config("train.epochs=3", "train.checkpoint=false"), on_event, stop, runs_dir=tmp_path)
    assert first.status == "stopped" and not (first.run_dir / "checkpoint.keras").exists()
    if state == "failed":
        RunStore(tmp_path).open_writer(RunStore(tmp_path).get(first.run_id)).finish("failed", error="boom")
    why = "no checkpoint"
    if state == "unloadable":
        (first.run_dir / "checkpoint.keras").write_bytes(b"not a zip file")
        status_file = first.run_dir / "status.json"
        status_file.write_text(json.dumps({**json.loads(status_file.read_text()), "checkpoint_epoch": 2}))
        state, why = "stopped", "checkpoint.keras does not load ("
    run = RunStore(tmp_path).get(first.run_id)
    assert run.state == state and [row["epoch"] for row in run.history()] == [1, 2]
    events = []
    second = resume(run, events.append)
    assert second.status == "completed" and second.run_id == first.run_id, second.error
    infos = [e.message for e in events if isinstance(e, Log) and e.level == "info"]
    restart = [m for m in infos if m.endswith(f" in {first.run_id}: restarting from epoch 0 (history reset)")]
    assert len(restart) == 1 and restart[0].startswith(why), infos
    assert not any("resuming" in m for m in infos)
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2, 3]
    assert next(e for e in events if isinstance(e, RunStarted)).initial_epoch == 0
    after = RunStore(tmp_path).get(first.run_id)
    assert after.state == "completed" and after.status.get("error") is None
    assert after.status.get("checkpoint_epoch") is None
    assert [row["epoch"] for row in after.history()] == [1, 2, 3]
    assert after.metrics["epochs_completed"] == 3


def _optimizer_steps(path) -> int:
    import keras

    return int(keras.ops.convert_to_numpy(keras.models.load_model(path, safe_mode=True).optimizer.iterations))


def test_checkpoint_interval_skips_writes_on_short_epochs(tmp_path, monkeypatch):
    """checkpoint_every: a write every epoch at 0; at an hour, only the first epoch's (so a run
    killed before the interval has passed still resumes rather than starting over)."""
    import cnn_tui.core.engine.saving as saving

    written = []
    save = saving._save_model
    monkeypatch.setattr(saving, "_save_model", lambda model, path: (written.append(path.name), save(model, path)))
    hourly = train(quick_config("train.epochs=3", "train.checkpoint_every=3600"), runs_dir=tmp_path / "b")
    assert hourly.status == "completed", hourly.error
    assert written == ["checkpoint.keras", "model.keras"]
    assert json.loads((hourly.run_dir / "status.json").read_text())["checkpoint_epoch"] == 1

    written.clear()
    done = train(quick_config("train.epochs=3", "train.checkpoint_every=0"), runs_dir=tmp_path / "c")
    assert written == ["checkpoint.keras"] * 3 + ["model.keras"]
    assert not (done.run_dir / "checkpoint.keras").exists(), "a completed run keeps no checkpoint"


@pytest.mark.parametrize("every", [0, 3600])
def test_stop_in_epoch_3_leaves_the_checkpoint_of_epoch_2(tmp_path, every):
    """Written at epoch 2's end (every=0) or from its snapshot when the stop comes (every=3600);
    either way the evaluated model is the one trained into epoch 3, not rolled back."""
    stop = threading.Event()
    steps = []

    def on_event(event):
        if isinstance(event, RunStarted):
            steps.append(event.steps_per_epoch)
        # EpochEnd is emitted synchronously, so epoch 3 sees the stop at its first batch
        # (a BatchEnd of epoch 3 may come only after its last batch: they are throttled).
        if isinstance(event, EpochEnd) and event.epoch == 2:
            stop.set()

    result = train(quick_config("train.epochs=5", f"train.checkpoint_every={every}"), on_event, stop, runs_dir=tmp_path)
    assert result.status == "stopped"
    assert json.loads((result.run_dir / "status.json").read_text())["checkpoint_epoch"] == 2
    assert _optimizer_steps(result.run_dir / "checkpoint.keras") == 2 * steps[0]
    assert _optimizer_steps(result.run_dir / "model.keras") > 2 * steps[0]
    second = resume(RunStore(tmp_path).get(result.run_id))
    assert second.status == "completed", second.error
    assert [row["epoch"] for row in RunStore(tmp_path).get(result.run_id).history()] == [1, 2, 3, 4, 5]


def test_mixed_precision_option_trains(tmp_path):
    result = train(quick_config("train.epochs=1", "train.mixed_precision=true", "train.save_model=false"),
                   runs_dir=tmp_path)
    assert result.status == "completed", result.error
    import keras

    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    keras.mixed_precision.set_global_policy("float32")


def test_compute_metrics_known_values():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], dtype=np.float32)
    labels = np.array([0, 1, 1, 1])
    m = compute_metrics(probs, labels, ["a", "b"])
    assert m["test_accuracy"] == pytest.approx(0.75)
    assert m["confusion_matrix"] == [[1, 0], [1, 2]]
    expected_loss = -np.mean(np.log([0.9, 0.8, 0.4, 0.7]))
    assert m["test_loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert m["misclassified"] == [{"index": 2, "true": 1, "pred": 0, "confidence": 0.6}]
    assert m["per_class"][1]["recall"] == pytest.approx(2 / 3)
    # weighted F1: class a f1 = 2*(0.5*1)/(1.5) = 0.667 (support 1), class b f1 = 0.8 (support 3)
    assert m["f1_weighted"] == pytest.approx((2 / 3 * 1 + 0.8 * 3) / 4)


MIRRORED_SCRIPT = r"""
import sys
from cnn_tui.core.tfimport import import_tf
tf = import_tf()
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from cnn_tui.core.config import apply_overrides
from cnn_tui.core.engine import train
from cnn_tui.core.presets import load_preset
cfg = apply_overrides(load_preset("digits-quick"), [
    "train.epochs=1", "data.train_limit=256", "data.test_limit=64", "train.batch_size=32",
    "train.distribute=mirrored", "train.save_model=false", "train.tensorboard=false"])
result = train(cfg, runs_dir=sys.argv[1])
strategy_devices = len(tf.config.list_logical_devices("CPU"))
print(result.status, strategy_devices)
"""


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT, str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["completed", "2"]


def test_samples_keep_every_mistake_not_only_the_first_256(tmp_path):
    """The gallery could page through only metrics.json's 256 most confident mistakes (6 of 773
    T-shirt mistakes): samples.npz now holds the images of every mistake, most confident first."""
    import numpy as np

    from cnn_tui.core.results.samples import load_misclassified

    config = apply_overrides(load_preset("digits-quick"), [  # all 359 test images of digits
        "train.epochs=1", "data.train_limit=300", "train.learning_rate=1e-6", "train.precise_bn=false"])
    result = train(config, runs_dir=tmp_path)
    run = RunStore(tmp_path).get(result.run_id)
    metrics = run.metrics
    assert metrics["misclassified_count"] > 256, metrics["test_accuracy"]  # an untrained model
    assert len(metrics["misclassified"]) == 256
    with np.load(run.path / "samples.npz") as samples:
        assert len(samples["index"]) == metrics["misclassified_count"]
        assert list(samples["index"][:256]) == [m["index"] for m in metrics["misclassified"]]
        assert np.all(np.diff(samples["confidence"]) <= 1e-6)  # most confident first
    with np.load(run.path / "predictions.npz") as predictions:
        wrong = np.flatnonzero(predictions["preds"] != predictions["labels"])
    assert sorted(s.index for s in load_misclassified(run)) == sorted(wrong.tolist())
