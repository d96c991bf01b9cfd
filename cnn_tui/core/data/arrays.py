"""``arrays:PATH`` datasets: a ``.npz`` with x_train, y_train[, x_test, y_test], or a folder
holding ``x_train.npy``, ``y_train.npy`` [, ``x_test.npy``, ``y_test.npy``].

Always ``np.load(allow_pickle=False)``. Images may be (N, H, W) or (N, H, W, C) with C in
1, 3, 4; uint8 is kept, other integer types must hold 0..255, floats in [0, 1] are scaled
to 0..255 (floats in 0..255 are rounded). Labels may be (N,), (N, 1) or one-hot (N, K).
An optional ``class_names`` string array names the classes (default "0" .. "K-1").
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cnn_tui.core.errors import DataError

from .split import expected_test_count, finalize
from .types import Dataset, DatasetInfo

KEYS = ("x_train", "y_train", "x_test", "y_test")


def _where(spec: str, path: str) -> Path:
    p = Path(path).expanduser()
    if not path:
        raise DataError(f"{spec}: give a .npz file or a folder of .npy files, e.g. arrays:~/data/set.npz")
    if not p.exists():
        raise DataError(f"{spec}: no such file or folder: {p}")
    return p


def _reader(spec: str, p: Path) -> tuple[set[str], Callable[[str], np.ndarray], Callable[[], None]]:
    """(available keys, get(key) -> array, close) for a .npz file or a folder of .npy files."""

    def wrap(key: str, fn: Callable[[], np.ndarray]) -> np.ndarray:
        try:
            return fn()
        except ValueError as exc:
            if "pickle" in str(exc).lower():
                raise DataError(f"{spec}: {key} contains pickled objects, which are refused") from None
            raise DataError(f"{spec}: cannot read {key} ({exc})") from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"{spec}: cannot read {key} ({exc})") from None

    if p.is_dir():
        keys = {f.stem for f in p.glob("*.npy") if f.is_file()}
        return keys, lambda k: wrap(k, lambda: np.load(p / f"{k}.npy", allow_pickle=False)), lambda: None
    try:
        f = np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{spec}: {p.name} contains pickled objects, which are refused") from None
        raise DataError(f"{spec}: {p} is not a .npz or .npy file ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{spec}: cannot read {p} ({exc})") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise DataError(f"{spec}: {p} holds a single array; expected a .npz with x_train and y_train")
    return set(f.files), lambda k: wrap(k, lambda: f[k]), f.close


def _check_keys(spec: str, keys: set[str]) -> bool:
    missing = [k for k in ("x_train", "y_train") if k not in keys]
    if missing:
        raise DataError(f"{spec}: missing {', '.join(missing)} (found: {', '.join(sorted(keys)) or 'nothing'})")
    has_test = "x_test" in keys or "y_test" in keys
    if has_test and not ("x_test" in keys and "y_test" in keys):
        raise DataError(f"{spec}: give both x_test and y_test, or neither")
    return has_test


def _shape_ok(spec: str, key: str, shape: tuple[int, ...]) -> None:
    if len(shape) == 4 and shape[3] not in (1, 3, 4) or len(shape) not in (3, 4):
        raise DataError(f"{spec}: {key} must be (N, H, W) or (N, H, W, C) with C in 1, 3, 4; found {shape}")
    if shape[0] == 0:
        raise DataError(f"{spec}: {key} holds no images")


def _dtype_ok(spec: str, key: str, dtype: np.dtype) -> None:
    if not (np.issubdtype(dtype, np.bool_) or np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise DataError(f"{spec}: {key} has unsupported dtype {dtype} (use uint8, integers or floats)")


def _images(spec: str, key: str, x: np.ndarray, scale: float | None) -> tuple[np.ndarray, float]:
    """uint8 (N, H, W, C) and the float scale used (decided from x_train, reused for x_test)."""
    _shape_ok(spec, key, x.shape)
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype == np.uint8:
        return x, scale or 1.0
    if x.dtype == bool:
        return x.astype(np.uint8) * 255, scale or 1.0
    if np.issubdtype(x.dtype, np.integer):
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise DataError(f"{spec}: {key} values must be 0..255 for {x.dtype} images, found {lo}..{hi}")
        return x.astype(np.uint8), scale or 1.0
    _dtype_ok(spec, key, x.dtype)
    if not np.isfinite(x).all():
        raise DataError(f"{spec}: {key} contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if scale is None:
        scale = 255.0 if hi <= 1.0 else 1.0
    top = 255.0 / scale
    if lo < 0 or hi > top + 1e-6:
        rng = "[0, 1]" if scale == 255.0 else "[0, 255]"
        raise DataError(f"{spec}: {key} float values must lie in {rng} (as in x_train), found {lo:g}..{hi:g}")
    return np.rint(x.astype(np.float32) * scale).clip(0, 255).astype(np.uint8), scale


def _labels(spec: str, key: str, y: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """int64 (N,) labels and the class count they imply (one-hot width or max + 1)."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    width = 0
    if y.ndim == 2 and y.shape[1] > 1:
        width = y.shape[1]
        ok = np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()
        if not ok:
            raise DataError(f"{spec}: {key} looks one-hot {y.shape} but rows are not exactly one 1 and zeros")
        y = np.argmax(y, axis=1)
    if y.ndim != 1:
        raise DataError(f"{spec}: {key} must be (N,), (N, 1) or one-hot (N, K); found {y.shape}")
    if len(y) != n:
        raise DataError(f"{spec}: x_{key[2:]} has {n} images but {key} has {len(y)} labels")
    if y.dtype == bool or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise DataError(f"{spec}: {key} must hold integer class labels, found dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.isfinite(y).all():
            raise DataError(f"{spec}: {key} contains NaN or infinite labels")
        if not (y == np.round(y)).all():
            raise DataError(f"{spec}: {key} must hold integer class labels, found fractional values")
    y = y.astype(np.int64)
    if len(y) and y.min() < 0:
        raise DataError(f"{spec}: {key} has negative labels (min {int(y.min())}); labels must be 0..K-1")
    return y, max(width, int(y.max()) + 1 if len(y) else 0)


def _class_names(spec: str, keys: set[str], get: Callable[[str], np.ndarray], k: int) -> list[str]:
    if "class_names" not in keys:
        return [str(i) for i in range(k)]
    raw = get("class_names")
    if raw.ndim != 1 or raw.dtype.kind not in "US":
        raise DataError(f"{spec}: class_names must be a 1-D string array with at least {k} names")
    if len(raw) < k:
        raise DataError(
            f"{spec}: labels go up to label {k - 1} but class_names has only {len(raw)} names "
            f"(labels must be 0..{len(raw) - 1})"
        )
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in raw.tolist()]


def load_arrays(spec: str, path: str, cfg: Any) -> Dataset:
    """Load an ``arrays:PATH`` dataset."""
    p = _where(spec, path)
    keys, get, close = _reader(spec, p)
    try:
        has_test = _check_keys(spec, keys)
        x_train, scale = _images(spec, "x_train", get("x_train"), None)
        y_train, k = _labels(spec, "y_train", get("y_train"), len(x_train))
        x_test = y_test = None
        if has_test:
            x_test, _ = _images(spec, "x_test", get("x_test"), scale)
            y_test, k_test = _labels(spec, "y_test", get("y_test"), len(x_test))
            k = max(k, k_test)
            if x_test.shape[1:] != x_train.shape[1:]:
                raise DataError(
                    f"{spec}: x_test images are {x_test.shape[1:]} but x_train images are {x_train.shape[1:]}"
                )
        names = _class_names(spec, keys, get, k)
    finally:
        close()
    return finalize(spec, str(p), names, x_train, y_train, x_test, y_test, cfg)


def _npy_header(fileobj: Any) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fileobj)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fileobj)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(fileobj)
    return tuple(shape), dtype


def _x_header(p: Path, key: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """Shape and dtype of an image array from its .npy header (no data read)."""
    try:
        if p.is_dir():
            with open(p / f"{key}.npy", "rb") as f:
                return _npy_header(f)
        with zipfile.ZipFile(p) as z, z.open(f"{key}.npy") as f:
            return _npy_header(f)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def _header_ok(spec: str, key: str, header: tuple[tuple[int, ...], np.dtype] | None) -> None:
    """What :func:`_images` would refuse that the header already shows: the shape, the dtype."""
    if header is None:
        return
    shape, dtype = header
    if dtype.hasobject:
        raise DataError(f"{spec}: {key} contains pickled objects, which are refused")
    _shape_ok(spec, key, shape)
    _dtype_ok(spec, key, dtype)


def arrays_info(spec: str, path: str, cfg: Any = None) -> DatasetInfo:
    """Shapes from the .npy headers and class count from the labels (no image data read)."""
    description = "NumPy arrays (.npz or a folder of .npy)"
    location = str(Path(path).expanduser())
    try:
        p = _where(spec, path)
        keys, get, close = _reader(spec, p)
        try:
            has_test = _check_keys(spec, keys)
            header = _x_header(p, "x_train")
            _header_ok(spec, "x_train", header)
            if has_test:
                _header_ok(spec, "x_test", _x_header(p, "x_test"))
            shape = header[0] if header else None
            y_raw = get("y_train")
            y_train, k = _labels(spec, "y_train", y_raw, shape[0] if shape else len(y_raw))
            n_test = None
            if has_test:
                y_test = get("y_test")
                n_test = int(y_test.shape[0])
                k = max(k, _labels(spec, "y_test", y_test, n_test)[1])
            names = _class_names(spec, keys, get, k)
        finally:
            close()
    except DataError as exc:
        return DatasetInfo(spec, description, None, None, None, None, None, location, False, str(exc))
    image_shape = None
    if shape is not None and len(shape) in (3, 4):
        c = shape[3] if len(shape) == 4 else 1
        hw = tuple(cfg.image_size) if cfg is not None and cfg.image_size else shape[1:3]
        image_shape = (int(hw[0]), int(hw[1]), int(c))
    n_train = len(y_train)
    if n_test is None:
        n_test = expected_test_count(n_train, cfg.test_split if cfg is not None else 0.2)
        n_train -= n_test
    return DatasetInfo(spec, description, image_shape, k, names[:k], n_train, n_test, str(p), True,
                       "x_train, y_train[, x_test, y_test] arrays; loaded with allow_pickle=False")  # fmt: skip
