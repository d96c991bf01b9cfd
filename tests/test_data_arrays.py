"""arrays:PATH datasets: .npz files and folders of .npy files."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_tui.core.config import DataConfig
from cnn_tui.core.data import dataset_info, load_dataset
from cnn_tui.core.errors import DataError


def _load(path, **kw):
    return load_dataset(DataConfig(dataset=f"arrays:{path}", **kw))


def test_npz_float_images_one_hot_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((40, 6, 5)).astype(np.float32)
    x[0, 0, 0], x[0, 0, 1] = 0.0, 1.0
    y = np.eye(4, dtype=np.float32)[np.arange(40) % 4]
    np.savez(tmp_path / "set.npz", x_train=x, y_train=y)
    d = _load(tmp_path / "set.npz", validation_split=0.0)
    assert d.image_shape == (6, 5, 1) and d.x_train.dtype == np.uint8
    assert d.class_names == ["0", "1", "2", "3"]
    assert len(d.y_test) == 8 and np.bincount(d.y_test).tolist() == [2, 2, 2, 2]
    assert d.source == str(tmp_path / "set.npz")
    merged = np.concatenate([d.x_train, d.x_test])
    assert merged.max() == 255 and merged.min() == 0
    info = dataset_info(f"arrays:{tmp_path / 'set.npz'}")
    assert info.available_offline and info.image_shape == (6, 5, 1) and info.num_classes == 4
    assert info.train_count + info.test_count == 40


def test_npy_folder_with_test_split_and_names(tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "x_train.npy", rng.integers(0, 256, (30, 4, 4, 3), dtype=np.uint8))
    np.save(tmp_path / "y_train.npy", (np.arange(30) % 3).reshape(-1, 1))
    np.save(tmp_path / "x_test.npy", rng.integers(0, 256, (9, 4, 4, 3)).astype(np.int32))
    np.save(tmp_path / "y_test.npy", np.arange(9) % 3)
    np.save(tmp_path / "class_names.npy", np.array(["ant", "bee", "cow"]))
    d = _load(tmp_path, image_size=(8, 8))
    assert d.class_names == ["ant", "bee", "cow"]
    assert d.x_train.shape[1:] == (8, 8, 3) and d.x_test.shape == (9, 8, 8, 3)
    assert len(d.y_train) + len(d.y_val) == 30 and d.y_train.dtype == np.int64


def test_pickled_objects_refused(tmp_path):
    x = np.empty(4, dtype=object)
    x[:] = [np.zeros((2, 2))] * 4
    np.savez(tmp_path / "evil.npz", x_train=x, y_train=np.arange(4))
    with pytest.raises(DataError, match="contains pickled objects, which are refused"):
        _load(tmp_path / "evil.npz")


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x_train": np.zeros((5, 4, 4), np.uint8), "y_train": np.arange(4)}, "5 images but y_train has 4"),
        ({"x_train": np.zeros((5, 4), np.uint8), "y_train": np.arange(5)}, r"must be \(N, H, W\)"),
        ({"x_train": np.zeros((5, 4, 4, 2), np.uint8), "y_train": np.arange(5)}, "C in 1, 3, 4"),
        ({"x_train": np.zeros((5, 4, 4), np.uint8), "y_train": np.array([0, 1, -1, 0, 1])}, "negative labels"),
        ({"x_train": np.zeros((5, 4, 4), np.uint8), "y_train": np.array([0, 1.5, 1, 0, 1])}, "integer class labels"),
        ({"x_train": np.full((5, 4, 4), np.nan), "y_train": np.arange(5) % 2}, "NaN"),
        ({"x_train": np.full((5, 4, 4), 300, np.int32), "y_train": np.arange(5) % 2}, "0..255"),
        ({"x_train": np.zeros((5, 4, 4), np.uint8)}, "missing y_train"),
        ({"x_train": np.zeros((5, 4, 4), np.uint8), "y_train": np.zeros(5, int)}, "at least 2 classes"),
    ],
)
def test_bad_arrays(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=match):
        _load(tmp_path / "bad.npz")


def test_missing_and_non_npz(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        _load(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError):
        _load(tmp_path / "junk.npz")
    assert not dataset_info(f"arrays:{tmp_path / 'nope.npz'}").available_offline


def test_keep_last_dataset_hands_back_the_same_load_while_config_and_file_are_unchanged(tmp_path):
    """A study's worker process trains trial after trial on one dataset: with
    keep_last_dataset() on, an equal data config of an unchanged file is not read again;
    another config or a rewritten file is. Off (the default, and after turning it off),
    every call reads."""
    from cnn_tui.core.data import keep_last_dataset

    path = tmp_path / "set.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (40, 4, 4, 1), dtype=np.uint8), y_train=np.arange(40) % 2)
    assert _load(path) is not _load(path)
    keep_last_dataset()
    try:
        first = _load(path)
        assert _load(path) is first
        assert _load(path, split_seed=1) is not first  # another split of the same file
        again = _load(path)
        assert again is not first and _load(path) is again  # one dataset kept: the last
        np.savez(path, x_train=np.full((50, 4, 4, 1), 7, dtype=np.uint8), y_train=np.arange(50) % 2)
        changed = _load(path)
        assert changed is not again and int(changed.x_train.max()) == 7
    finally:
        keep_last_dataset(False)
    assert _load(path) is not _load(path)


def test_turning_keep_last_dataset_on_again_keeps_what_is_kept(tmp_path):
    """A Ray task calls keep_last_dataset() at the start of each trial it runs in a worker
    process: a second call while it is on must not drop the dataset the trial before loaded."""
    from cnn_tui.core.data import keep_last_dataset

    path = tmp_path / "set.npz"
    np.savez(path, x_train=np.zeros((40, 4, 4, 1), dtype=np.uint8), y_train=np.arange(40) % 2)
    keep_last_dataset()
    try:
        first = _load(path)
        keep_last_dataset()  # the next trial's task
        assert _load(path) is first
    finally:
        keep_last_dataset(False)
    assert _load(path) is not first
