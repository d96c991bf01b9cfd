"""Dataset layer: digits, splits, limits, info, tf.data pipeline, channel stats."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_tui.core.config import DataConfig, ExperimentConfig
from cnn_tui.core.data import (
    ChannelStats,
    channel_stats,
    dataset_info,
    list_datasets,
    load_dataset,
    make_tf_dataset,
)
from cnn_tui.core.data import pipeline, split
from cnn_tui.core.errors import DataError


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig(dataset="digits"))


def test_digits_shapes_and_types(digits):
    d = digits
    assert d.image_shape == (8, 8, 1)
    assert d.num_classes == 10 and d.class_names == [str(i) for i in range(10)]
    assert d.source == "scikit-learn load_digits"
    for x, y in ((d.x_train, d.y_train), (d.x_val, d.y_val), (d.x_test, d.y_test)):
        assert x.dtype == np.uint8 and x.ndim == 4 and y.dtype == np.int64 and len(x) == len(y)
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 1797
    assert len(d.y_test) == round(0.2 * 1797)
    assert len(d.y_val) == round(0.1 * (1797 - 359))
    assert d.x_train.max() == 255 and d.x_train.min() == 0
    assert d.skipped == 0


def test_digits_split_is_stratified(digits):
    from sklearn.datasets import load_digits

    total = np.bincount(load_digits().target, minlength=10)
    test = np.bincount(digits.y_test, minlength=10)
    assert np.all(np.abs(test - 0.2 * total) <= 1)
    val = np.bincount(digits.y_val, minlength=10)
    assert np.all(np.abs(val - 0.1 * (total - test)) <= 1)


def test_split_is_seeded():
    a = load_dataset(DataConfig(dataset="digits", split_seed=3))
    b = load_dataset(DataConfig(dataset="digits", split_seed=3))
    c = load_dataset(DataConfig(dataset="digits", split_seed=4))
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_test, c.x_test)


def test_limits_and_zero_validation():
    d = load_dataset(DataConfig(dataset="digits", train_limit=100, test_limit=50, validation_split=0.0))
    assert len(d.y_train) == 100 and len(d.y_test) == 50
    assert d.x_val.shape == (0, 8, 8, 1) and d.x_val.dtype == np.uint8
    assert d.y_val.shape == (0,) and d.y_val.dtype == np.int64
    assert np.bincount(d.y_train, minlength=10).min() >= 9
    d2 = load_dataset(DataConfig(dataset="digits", train_limit=100, validation_split=0.2))
    assert len(d2.y_train) + len(d2.y_val) == 100 and len(d2.y_val) == 20


def test_train_order_is_mixed(digits):
    # The training split is shuffled once (seeded) so a shuffle buffer is never class-sorted.
    assert len(set(digits.y_train[:30].tolist())) > 3


def test_image_size_resizes_builtin():
    d = load_dataset(DataConfig(dataset="digits", image_size=(16, 12), train_limit=40))
    assert d.x_train.shape[1:] == (16, 12, 1) and d.x_test.shape[1:] == (16, 12, 1)
    assert d.x_val.shape[1:] == (16, 12, 1) and d.x_train.dtype == np.uint8


def test_accepts_experiment_config():
    d = load_dataset(ExperimentConfig(data=DataConfig(dataset="digits", train_limit=30)))
    assert len(d.y_train) + len(d.y_val) == 30


def test_unknown_dataset_lists_allowed():
    with pytest.raises(DataError, match="allowed: digits, fashion_mnist, mnist, cifar10, cifar100"):
        load_dataset(DataConfig(dataset="imagenet"))
    with pytest.raises(DataError, match="folder:PATH"):
        dataset_info("nope")


def test_list_datasets_and_info():
    infos = list_datasets()
    assert [i.name for i in infos] == ["digits", "fashion_mnist", "mnist", "cifar10", "cifar100"]
    dig = dataset_info("digits", DataConfig(test_split=0.25))
    assert dig.available_offline and dig.image_shape == (8, 8, 1) and dig.num_classes == 10
    assert dig.train_count + dig.test_count == 1797 and dig.test_count == round(0.25 * 1797)
    c10 = next(i for i in infos if i.name == "cifar10")
    assert c10.image_shape == (32, 32, 3) and c10.train_count == 50000 and "cifar-10-batches-py" in c10.hint


def test_allocate_exact_and_capped():
    rng = np.random.default_rng(0)
    take = split.allocate(np.array([5, 3, 2]), 5, np.array([4, 2, 1]), rng)
    assert take.sum() == 5 and np.all(take <= [4, 2, 1])
    keep, held = split.stratified_split(np.array([0, 0, 1, 1, 2]), 0.5, seed=1, step=1)
    assert set(keep) | set(held) == set(range(5)) and not set(keep) & set(held)
    assert 4 in keep  # a class with one sample stays in the kept part


def test_make_tf_dataset_uint8_batches(digits):
    ds = make_tf_dataset(digits.x_train, digits.y_train, 32, shuffle=True, seed=1, repeat=True)
    batches = list(ds.take(3).as_numpy_iterator())
    for xb, yb in batches:
        assert xb.dtype == np.uint8 and xb.shape == (32, 8, 8, 1) and yb.dtype == np.int64
    ev = make_tf_dataset(digits.x_test, digits.y_test, 100, shuffle=False, seed=0, repeat=False)
    xs, ys = zip(*ev.as_numpy_iterator())
    assert np.array_equal(np.concatenate(xs), digits.x_test)
    assert np.array_equal(np.concatenate(ys), digits.y_test)
    empty = make_tf_dataset(digits.x_val[:0], digits.y_val[:0], 8, shuffle=True, seed=0, repeat=False)
    assert list(empty.as_numpy_iterator()) == []


@pytest.mark.parametrize("shuffle,repeat", [(True, True), (False, False), (True, False)])
def test_make_tf_dataset_runs_no_autotune_model(digits, shuffle, repeat):
    """tf.data's autotune model thread sleeps up to 10 s between rounds, and destroying an
    iterator waits for that sleep: fit's end (its training iterator destroyed) stalled
    most runs by seconds before evaluation. Every pipeline the engine feeds to fit,
    evaluate or predict must run without it."""
    ds = make_tf_dataset(digits.x_train, digits.y_train, 32, shuffle=shuffle, seed=1, repeat=repeat)
    assert ds.options().autotune.enabled is False
    xb, _ = next(iter(ds.as_numpy_iterator()))  # and it still yields batches
    assert xb.shape == (32, 8, 8, 1)


def test_make_tf_dataset_rejects_mismatch(digits):
    with pytest.raises(DataError):
        make_tf_dataset(digits.x_train[:5], digits.y_train[:4], 2, shuffle=False, seed=0, repeat=False)


def test_channel_stats_matches_numpy(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(37, 5, 6, 3), dtype=np.uint8)
    monkeypatch.setattr(pipeline, "_STATS_CHUNK_VALUES", 200)  # many chunks
    s = channel_stats(x)
    assert isinstance(s, ChannelStats)
    f = x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(s.mean, f.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(s.std, f.std(axis=0), rtol=1e-8)
    assert s.max_abs == pytest.approx(np.abs(f - f.mean(axis=0)).max())
    with pytest.raises(DataError):
        channel_stats(x[:0])


def test_make_tf_dataset_shuffles_whole_epochs_from_the_arrays(digits):
    """In-memory sets feed from the numpy arrays by index: each epoch of a repeated,
    shuffled pipeline is a permutation of every sample (full shuffle), reshuffled per
    epoch, the same for the same seed, with images matching their labels."""
    x, y = digits.x_train[:50], digits.y_train[:50]
    key = {x[i].tobytes(): int(y[i]) for i in range(len(y))}

    def epochs(seed: int) -> list[list[bytes]]:
        ds = make_tf_dataset(x, y, 16, shuffle=True, seed=seed, repeat=True)
        out, cur = [], []
        for xb, yb in ds.take(8).as_numpy_iterator():  # ceil(50 / 16) = 4 batches per epoch
            assert xb.dtype == np.uint8 and xb.shape[1:] == x.shape[1:]
            for img, lab in zip(xb, yb):
                assert key[img.tobytes()] == int(lab)
                cur.append(img.tobytes())
            if len(cur) == len(y):
                out.append(cur)
                cur = []
        return out

    a, b = epochs(3), epochs(3)
    assert len(a) == 2 and all(sorted(e) == sorted(key) for e in a)
    assert a == b and a[0] != a[1]
