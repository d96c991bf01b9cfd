"""Built-in datasets from local files (idx, mnist.npz, CIFAR pickles) and the offline path.

Every test runs with HOME, KERAS_HOME and CNN_TUI_DATA pointed at temp folders, the system
folders emptied and the Keras download replaced by a function that fails like an offline
machine, so nothing here can touch the network.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cnn_tui.core.config import DataConfig
from cnn_tui.core.data import builtin, dataset_info, load_dataset
from cnn_tui.core.data.readers import read_idx
from cnn_tui.core.errors import DataError

SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")


def _offline(name):
    raise Exception(f"URL fetch failure on https://example.invalid/{name}: None -- [Errno -2] Name or service not known")


@pytest.fixture
def env(tmp_path, monkeypatch):
    home, keras_home, data = tmp_path / "home", tmp_path / "keras", tmp_path / "data"
    for p in (home, keras_home / "datasets", data):
        p.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("CNN_TUI_DATA", str(data))
    monkeypatch.setattr(builtin, "SYSTEM_DIRS", [])
    monkeypatch.setattr(builtin, "keras_download", _offline)
    return {"home": home, "keras": keras_home / "datasets", "data": data}


# ---------------------------------------------------------------------------------------
# idx / mnist


def _write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    raw = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def _fake_idx_set(folder: Path, n_train=20, n_test=10, gz=True) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    y = np.arange(n_train) % 10
    suffix = ".gz" if gz else ""
    _write_idx(folder / f"train-images-idx3-ubyte{suffix}", x, gz)
    _write_idx(folder / f"train-labels-idx1-ubyte{suffix}", y, gz)
    _write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", x[:n_test], gz)
    _write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", y[:n_test], gz)
    return x, y


def test_fashion_mnist_from_fake_idx(env):
    x, y = _fake_idx_set(env["data"] / "fashion-mnist")
    d = load_dataset(DataConfig(dataset="fashion_mnist", validation_split=0.0))
    assert d.source == str(env["data"] / "fashion-mnist")
    assert d.class_names[0] == "T-shirt/top" and d.class_names[9] == "Ankle boot"
    assert d.x_train.shape == (20, 28, 28, 1) and d.x_test.shape == (10, 28, 28, 1)
    order = np.argsort(d.y_train, kind="stable")  # the train split is shuffled; compare as sets
    assert sorted(map(bytes, d.x_train.reshape(20, -1))) == sorted(map(bytes, x.reshape(20, -1)))
    assert np.array_equal(np.bincount(d.y_train[order]), np.bincount(y))
    info = dataset_info("fashion_mnist")
    assert info.available_offline and info.location == str(env["data"] / "fashion-mnist")


def test_fashion_mnist_uncompressed_idx_in_keras_home(env):
    _fake_idx_set(env["keras"] / "fashion-mnist", gz=False)
    d = load_dataset(DataConfig(dataset="fashion_mnist"))
    assert d.source == str(env["keras"] / "fashion-mnist")


@pytest.mark.skipif(not (SYSTEM_FASHION / "train-images-idx3-ubyte.gz").exists(), reason="no system Fashion-MNIST")
def test_fashion_mnist_from_system_package(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_TUI_DATA", str(tmp_path))
    monkeypatch.setattr(builtin, "keras_download", _offline)
    d = load_dataset(DataConfig(dataset="fashion_mnist", train_limit=500, test_limit=200))
    assert d.source == str(SYSTEM_FASHION)
    assert len(d.y_train) + len(d.y_val) == 500 and d.x_test.shape == (200, 28, 28, 1)
    assert d.x_train.dtype == np.uint8 and d.num_classes == 10


def test_bad_idx_files_raise(env, tmp_path):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 5, 28, 28) + b"\x00" * 10))
    with pytest.raises(DataError, match="idx header says"):
        read_idx(bad, 3)
    bad.write_bytes(gzip.compress(b"\x12\x34\x08\x03" + b"\x00" * 40))
    with pytest.raises(DataError, match="magic"):
        read_idx(bad, 3)
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read"):
        read_idx(bad, 3)
    folder = env["data"] / "fashion-mnist"
    _fake_idx_set(folder)
    _write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(7, dtype=np.uint8))
    with pytest.raises(DataError, match="20 images but"):
        load_dataset(DataConfig(dataset="fashion_mnist"))


def test_mnist_npz(env):
    rng = np.random.default_rng(1)
    np.savez(
        env["keras"] / "mnist.npz",
        x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_train=np.arange(30, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        y_test=np.arange(10, dtype=np.uint8),
    )
    d = load_dataset(DataConfig(dataset="mnist", validation_split=0.2))
    assert d.source == str(env["keras"] / "mnist.npz")
    assert d.x_train.shape == (24, 28, 28, 1) and d.x_val.shape == (6, 28, 28, 1)
    assert d.x_test.shape == (10, 28, 28, 1) and d.class_names == [str(i) for i in range(10)]


def test_mnist_idx_folder_in_cnn_tui_data(env):
    _fake_idx_set(env["data"] / "mnist")
    assert load_dataset(DataConfig(dataset="mnist")).source == str(env["data"] / "mnist")


# ---------------------------------------------------------------------------------------
# CIFAR


def _batch(n: int, k: int, seed: int, label_key: bytes) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"fake batch",
        label_key: [int(i % k) for i in range(n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [f"img{i}.png".encode() for i in range(n)],
    }


def _dump(obj, path: Path, protocol: int = 2) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def _fake_cifar10(base: Path, protocol: int = 2) -> Path:
    folder = base / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        _dump(_batch(2, 10, i, b"labels") | {b"labels": [2 * i - 2, 2 * i - 1]}, folder / f"data_batch_{i}", protocol)
    _dump(_batch(10, 10, 9, b"labels"), folder / "test_batch", protocol)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    _dump({b"label_names": names, b"num_cases_per_batch": 2}, folder / "batches.meta", protocol)
    return folder


def test_cifar10_fake_folder(env):
    folder = _fake_cifar10(env["keras"])
    d = load_dataset(DataConfig(dataset="cifar10", validation_split=0.0))
    assert d.source == str(folder)
    assert d.x_train.shape == (10, 32, 32, 3) and d.x_test.shape == (10, 32, 32, 3)
    assert sorted(d.y_train.tolist()) == list(range(10)) and d.class_names[3] == "cat"
    # CHW-flattened rows become HWC images
    raw = pickle.load(open(folder / "test_batch", "rb"), encoding="bytes")[b"data"]
    assert np.array_equal(d.x_test[0], raw[0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert dataset_info("cifar10").available_offline


def test_cifar10_highest_protocol_and_tar_archive(env, tmp_path):
    folder = _fake_cifar10(tmp_path / "src", protocol=pickle.HIGHEST_PROTOCOL)
    with tarfile.open(env["data"] / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    d = load_dataset(DataConfig(dataset="cifar10"))
    assert d.source == str(env["data"] / "cifar-10-python.tar.gz") and d.x_test.shape == (10, 32, 32, 3)


def test_cifar100_fake_folder(env):
    folder = env["data"] / "cifar-100-python"
    folder.mkdir()
    _dump(_batch(10, 100, 1, b"fine_labels") | {b"coarse_labels": [0] * 10}, folder / "train")
    _dump(_batch(10, 100, 2, b"fine_labels"), folder / "test")
    _dump({b"fine_label_names": [f"c{i}".encode() for i in range(100)], b"coarse_label_names": []}, folder / "meta")
    d = load_dataset(DataConfig(dataset="cifar100", validation_split=0.0, test_split=0.5))
    assert d.num_classes == 100 and d.class_names[5] == "c5"
    assert d.x_train.shape == (10, 32, 32, 3) and d.x_test.shape == (10, 32, 32, 3)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_os_system(env, tmp_path):
    folder = _fake_cifar10(env["data"])
    marker = tmp_path / "pwned"
    _dump({b"data": _Evil(marker), b"labels": [0, 1]}, folder / "data_batch_3")
    with pytest.raises(DataError, match="refusing to load the global") as exc:
        load_dataset(DataConfig(dataset="cifar10"))
    assert "system" in str(exc.value) and "\n" not in str(exc.value)
    assert not marker.exists()


def test_cifar_bad_contents(env):
    folder = _fake_cifar10(env["data"])
    _dump({b"data": np.zeros((2, 100), dtype=np.uint8), b"labels": [0, 1]}, folder / "data_batch_2")
    with pytest.raises(DataError, match="N x 3072"):
        load_dataset(DataConfig(dataset="cifar10"))
    (folder / "data_batch_2").unlink()
    with pytest.raises(DataError, match="data_batch_2"):
        load_dataset(DataConfig(dataset="cifar10"))


# ---------------------------------------------------------------------------------------
# Offline


@pytest.mark.parametrize(
    ("name", "expect"),
    [
        ("cifar10", "cifar10: not available offline; put the extracted cifar-10-batches-py/ folder in "),
        ("cifar100", "cifar100: not available offline; put the extracted cifar-100-python/ folder in "),
        ("mnist", "mnist: not available offline; put mnist.npz in "),
        ("fashion_mnist", "fashion_mnist: not available offline; put train-images-idx3-ubyte.gz"),
    ],
)
def test_offline_missing_says_where_to_put_files(env, name, expect):
    with pytest.raises(DataError) as exc:
        load_dataset(DataConfig(dataset=name))
    msg = str(exc.value)
    assert msg.startswith(expect) and "\n" not in msg
    assert str(env["keras"]) in msg and "$CNN_TUI_DATA" in msg
    info = dataset_info(name)
    assert not info.available_offline and info.hint in msg


def test_download_result_is_used(env, monkeypatch):
    rng = np.random.default_rng(0)

    def fake(name):
        assert name == "cifar10"
        x = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
        return (x, (np.arange(20) % 10).reshape(-1, 1)), (x[:10], np.arange(10).reshape(-1, 1))

    monkeypatch.setattr(builtin, "keras_download", fake)
    d = load_dataset(DataConfig(dataset="cifar10"))
    assert d.source.startswith("keras.datasets.cifar10") and d.y_test.shape == (10,)
