"""cnn_tui.core.results.samples: misclassified samples from samples.npz or a reload of the test split."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "tui"))
from canned import RUN_A, canned_images, make_run  # noqa: E402

from cnn_tui.core.errors import RunStoreError
from cnn_tui.core.results.samples import SAMPLES_FILE, Sample, load_misclassified, save_samples
from cnn_tui.core.results.store import RunStore


@pytest.fixture()
def run(tmp_path):
    make_run(tmp_path, RUN_A, name="baseline")
    return RunStore(tmp_path).get(RUN_A)


def test_reads_samples_npz(run):
    samples = load_misclassified(run)
    wrong = run.metrics["misclassified"]
    assert len(samples) == len(wrong) > 12
    first = samples[0]
    assert isinstance(first, Sample)
    assert (first.index, first.true, first.pred) == (wrong[0]["index"], wrong[0]["true"], wrong[0]["pred"])
    assert first.confidence == pytest.approx(wrong[0]["confidence"])
    assert first.image.dtype == np.uint8 and first.image.shape == (8, 8, 1)
    assert np.array_equal(first.image, canned_images()[first.index])
    assert len(load_misclassified(run, limit=3)) == 3


def test_fallback_reloads_test_split(run, monkeypatch):
    (run.path / SAMPLES_FILE).unlink()
    calls = []

    def fake_load(cfg):
        calls.append(cfg.dataset)
        return SimpleNamespace(x_test=canned_images())

    monkeypatch.setattr("cnn_tui.core.data.load_dataset", fake_load)
    samples = load_misclassified(run)
    assert calls == ["digits"]
    assert len(samples) == len(run.metrics["misclassified"])
    # most confident mistake first, as the engine writes them
    confs = [s.confidence for s in samples]
    assert confs == sorted(confs, reverse=True)
    for s in samples:
        assert s.true != s.pred
        assert np.array_equal(s.image, canned_images()[s.index])


def test_fallback_from_metrics_when_no_predictions(run, monkeypatch):
    (run.path / SAMPLES_FILE).unlink()
    (run.path / "predictions.npz").unlink()
    monkeypatch.setattr("cnn_tui.core.data.load_dataset", lambda cfg: SimpleNamespace(x_test=canned_images()))
    samples = load_misclassified(run, limit=5)
    wrong = run.metrics["misclassified"][:5]
    assert [(s.index, s.true, s.pred) for s in samples] == [(m["index"], m["true"], m["pred"]) for m in wrong]


def test_fallback_index_outside_the_split(run, monkeypatch):
    (run.path / SAMPLES_FILE).unlink()
    monkeypatch.setattr("cnn_tui.core.data.load_dataset", lambda cfg: SimpleNamespace(x_test=canned_images()[:3]))
    with pytest.raises(RunStoreError, match="outside the test split"):
        load_misclassified(run)


def test_fallback_with_the_real_digits_dataset(run):
    (run.path / SAMPLES_FILE).unlink()
    from cnn_tui.core.data import load_dataset

    x_test = load_dataset(run.config.data).x_test
    samples = load_misclassified(run, limit=4)
    assert len(samples) == 4
    for s in samples:
        assert s.image.shape == tuple(x_test.shape[1:]) and np.array_equal(s.image, x_test[s.index])


def test_run_without_evaluation_has_no_samples(tmp_path):
    make_run(tmp_path, "20240101-000000-x-abcdef", name="x", state="stopped", evaluated=False)
    assert load_misclassified(RunStore(tmp_path).get("abcdef")) == []


def test_damaged_samples_file(run):
    (run.path / SAMPLES_FILE).write_bytes(b"not a zip")
    with pytest.raises(RunStoreError, match="samples.npz"):
        load_misclassified(run)
    np.savez(run.path / SAMPLES_FILE, images=np.zeros((1, 8, 8, 1), np.uint8))
    with pytest.raises(RunStoreError, match="missing arrays"):
        load_misclassified(run)


def test_save_samples_round_trip(tmp_path):
    images = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)  # gray without channel axis
    path = save_samples(tmp_path, images=images, index=[5, 7], true=[1, 2], pred=[2, 1], confidence=[0.9, 0.6])
    assert path.name == SAMPLES_FILE
    with np.load(path) as data:
        assert data["images"].shape == (2, 4, 4, 1)
        assert data["index"].tolist() == [5, 7]
    with pytest.raises(ValueError):
        save_samples(tmp_path, images=images, index=[1], true=[1, 2], pred=[2, 1], confidence=[0.9, 0.6])
