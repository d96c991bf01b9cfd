"""folder:PATH datasets: class sub-folders, prefix labels, skipped files, errors, lazy mode."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnn_tui.core.config import DataConfig
from cnn_tui.core.data import FileImages, channel_stats, dataset_info, load_dataset, make_tf_dataset
from cnn_tui.core.data import folder as folder_mod
from cnn_tui.core.errors import DataError


def _img(path: Path, color, size=(20, 16), mode="RGB", fmt=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path, format=fmt)


def _huge_png_header(path: Path, w=8000, h=8000) -> None:
    """A PNG whose header claims w x h pixels (no real pixel data): a decompression bomb stand-in."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _tree(root: Path, n=6, gray=False) -> Path:
    for i in range(n):
        mode, c1, c2 = ("L", 40 + i, 200 - i) if gray else ("RGB", (200, 10, i), (10, 200, i))
        _img(root / "cats" / f"c{i}.png", c1, mode=mode)
        _img(root / "dogs" / f"d{i}.jpg", c2, mode=mode)
    return root


def test_subfolder_tree_with_skipped_files(tmp_path):
    root = _tree(tmp_path / "pets")
    (root / "cats" / "zero.jpg").write_bytes(b"")
    (root / "cats" / "corrupt.png").write_bytes(b"\x89PNG but not really an image" * 3)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "JPEG")
    (root / "dogs" / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    _huge_png_header(root / "dogs" / "bomb.png")
    (root / "dogs" / "notes.txt").write_text("not an image, and not counted")
    (root / ".hidden").mkdir()
    _img(root / ".hidden" / "x.png", 0)

    d = load_dataset(DataConfig(dataset=f"folder:{root}", image_size=(12, 10), validation_split=0.0,
                                test_split=0.34))  # fmt: skip
    assert d.skipped == 4
    assert d.class_names == ["cats", "dogs"] and d.num_classes == 2
    assert d.image_shape == (12, 10, 3) and d.x_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    assert len(d.y_train) + len(d.y_test) == 12
    assert np.bincount(d.y_test).tolist() == [2, 2]  # stratified per class
    assert d.source == str(root)
    # cats are red, dogs green
    first = d.x_train[d.y_train == 0][0]
    assert first[..., 0].mean() > 150 and first[..., 1].mean() < 50


def test_default_size_and_color_modes(tmp_path):
    root = _tree(tmp_path / "gray", gray=True)
    d = load_dataset(DataConfig(dataset=f"folder:{root}"))
    assert d.image_shape == (64, 64, 1)
    d = load_dataset(DataConfig(dataset=f"folder:{root}", color_mode="rgb", image_size=(8, 8)))
    assert d.image_shape == (8, 8, 3)
    _img(root / "cats" / "colour.png", (255, 0, 0))  # one RGB file -> auto picks RGB
    assert load_dataset(DataConfig(dataset=f"folder:{root}", image_size=(8, 8))).image_shape == (8, 8, 3)
    forced = load_dataset(DataConfig(dataset=f"folder:{root}", image_size=(8, 8), color_mode="grayscale"))
    assert forced.image_shape == (8, 8, 1)


def test_prefix_labels(tmp_path):
    root = tmp_path / "weather"
    names = ["shine12.jpg", "shine3.png", "Shine-7.png", "cloudy_3.png", "cloudy4.jpg", "cloudy 5.png",
             "rain1.png", "rain2.png", "rain3.png", "123.png"]  # fmt: skip
    for i, n in enumerate(names):
        _img(root / n, (i * 20, 100, 50))
    d = load_dataset(DataConfig(dataset=f"folder:{root}", labels_from="prefix", image_size=(8, 8),
                                validation_split=0.0, test_split=0.34))  # fmt: skip
    assert d.class_names == ["cloudy", "rain", "shine"]
    assert d.skipped == 1  # "123.png" has no prefix
    assert len(d.y_train) + len(d.y_test) == 9 and np.bincount(d.y_test).tolist() == [1, 1, 1]
    assert folder_mod.prefix_label("sunrise04") == "sunrise"


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(DataConfig(dataset=f"folder:{tmp_path / 'missing'}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_dataset(DataConfig(dataset=f"folder:{tmp_path / 'empty'}"))
    one = tmp_path / "one"
    for i in range(3):
        _img(one / "cats" / f"{i}.png", (i, i, i))
    with pytest.raises(DataError, match="needs at least 2 classes, found 1: 'cats'"):
        load_dataset(DataConfig(dataset=f"folder:{one}"))
    flat = tmp_path / "flat"
    for i in range(3):
        _img(flat / f"sun{i}.png", (i, i, i))
    with pytest.raises(DataError, match='labels_from = "prefix"'):
        load_dataset(DataConfig(dataset=f"folder:{flat}"))
    bad = tmp_path / "bad"
    for cls in ("a", "b"):
        (bad / cls).mkdir(parents=True)
        (bad / cls / "x.png").write_bytes(b"")
    with pytest.raises(DataError, match="no readable images"):
        load_dataset(DataConfig(dataset=f"folder:{bad}"))


def test_folder_info_scans_without_loading(tmp_path):
    root = _tree(tmp_path / "pets", gray=True)
    info = dataset_info(f"folder:{root}", DataConfig(image_size=(32, 32)))
    assert info.available_offline and info.class_names == ["cats", "dogs"] and info.num_classes == 2
    assert info.image_shape == (32, 32, 1) and info.train_count + info.test_count == 12
    missing = dataset_info(f"folder:{tmp_path / 'nope'}")
    assert not missing.available_offline and "no such folder" in missing.hint


def test_lazy_file_images_stream(tmp_path, monkeypatch):
    root = _tree(tmp_path / "pets", n=8)
    cfg = DataConfig(dataset=f"folder:{root}", image_size=(10, 12), validation_split=0.25)
    eager = load_dataset(cfg)
    monkeypatch.setattr(folder_mod, "LAZY_BYTES", 0)
    lazy = load_dataset(cfg)
    assert isinstance(lazy.x_train, FileImages) and isinstance(lazy.x_test, FileImages) and lazy.lazy
    assert lazy.x_train.shape == eager.x_train.shape and lazy.image_shape == (10, 12, 3)
    assert len(lazy.x_val) == len(eager.x_val) and lazy.x_val.shape[1:] == (10, 12, 3)
    assert np.array_equal(lazy.y_train, eager.y_train)
    assert np.array_equal(lazy.x_train[0], eager.x_train[0])
    assert np.array_equal(lazy.x_test[np.arange(len(lazy.x_test))], eager.x_test)
    assert np.array_equal(lazy.x_train[1:3], eager.x_train[1:3]) and lazy.x_train[-1].shape == (10, 12, 3)
    stats, ref = channel_stats(lazy.x_train), channel_stats(eager.x_train)
    np.testing.assert_allclose(stats.mean, ref.mean)
    ds = make_tf_dataset(lazy.x_train, lazy.y_train, 4, shuffle=True, seed=0, repeat=True)
    xb, yb = next(iter(ds.as_numpy_iterator()))
    assert xb.dtype == np.uint8 and xb.shape == (4, 10, 12, 3) and yb.dtype == np.int64
    assert ds.options().autotune.enabled is False  # see test_make_tf_dataset_runs_no_autotune_model
    ev = make_tf_dataset(lazy.x_test, lazy.y_test, 3, shuffle=False, seed=0, repeat=False)
    got = np.concatenate([b for b, _ in ev.as_numpy_iterator()])
    assert np.array_equal(got, eager.x_test)


def test_lazy_decode_failure_gives_zeros(tmp_path):
    good = tmp_path / "a.png"
    _img(good, (255, 255, 255), size=(4, 4))
    bad = tmp_path / "b.png"
    bad.write_bytes(b"garbage")
    fi = FileImages([good, bad], (4, 4), "RGB")
    out = fi[[0, 1]]
    assert out[0].min() == 255 and out[1].max() == 0 and fi.failed == 1
    with pytest.raises(IndexError):
        fi[2]


def test_skipped_files_are_named_relative_to_the_folder(tmp_path):
    root = _tree(tmp_path / "pets")
    for name in ("cats/zero.jpg", "cats/empty.png", "dogs/a.png", "dogs/b.png", "dogs/c.png"):
        (root / name).write_bytes(b"" if "e" in name else b"\x89PNG not really" * 4)
    d = load_dataset(DataConfig(dataset=f"folder:{root}", image_size=(8, 8)))
    assert d.skipped == 5
    assert sorted(d.skipped_files) == ["cats/empty.png", "cats/zero.jpg", "dogs/a.png", "dogs/b.png", "dogs/c.png"]
    warning = d.skipped_warning()
    assert warning.startswith("5 unreadable image files skipped")
    named = [f for f in d.skipped_files if f in warning]
    assert len(named) == 3 and warning.endswith("and 2 more") and "\n" not in warning
    one = _tree(tmp_path / "one")
    (one / "cats" / "bad.png").write_bytes(b"")
    assert load_dataset(DataConfig(dataset=f"folder:{one}", image_size=(8, 8))).skipped_warning() == (
        "1 unreadable image file skipped (empty, corrupt, truncated or too large): cats/bad.png"
    )
    clean = load_dataset(DataConfig(dataset=f"folder:{_tree(tmp_path / 'clean')}", image_size=(8, 8)))
    assert clean.skipped_warning() is None


def test_prefix_files_without_a_label_are_not_called_unreadable(tmp_path):
    root = tmp_path / "weather"
    for i, n in enumerate(["shine1.png", "shine2.png", "shine3.png", "rain1.png", "rain2.png", "rain3.png", "123.png"]):
        _img(root / n, (i * 20, 100, 50))
    (root / "rain9.png").write_bytes(b"")
    d = load_dataset(DataConfig(dataset=f"folder:{root}", labels_from="prefix", image_size=(8, 8), test_split=0.34))
    assert d.skipped == 2
    warning = d.skipped_warning()
    assert "1 unreadable image file skipped" in warning and "rain9.png" in warning
    assert "1 file without a letter prefix skipped: 123.png" in warning


def test_a_class_with_no_readable_image_is_bad_input(tmp_path):
    root = _tree(tmp_path / "pets")
    for i in range(3):
        (root / "birds" / f"b{i}.png").parent.mkdir(exist_ok=True)
        (root / "birds" / f"b{i}.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"class .birds. has no readable images \(3 files, e.g. birds/b0.png:"):
        load_dataset(DataConfig(dataset=f"folder:{root}", image_size=(8, 8)))
    truncated = _tree(tmp_path / "trunc")
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (9, 90, 200)).save(buf, "PNG")
    for i in range(2):  # headers read fine; decoding fails
        path = truncated / "fish" / f"f{i}.png"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DataError, match="class 'fish' has no readable images"):
        load_dataset(DataConfig(dataset=f"folder:{truncated}", image_size=(8, 8)))
