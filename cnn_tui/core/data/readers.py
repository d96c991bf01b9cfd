"""Readers for the on-disk formats of the built-in datasets: idx (MNIST family), the
CIFAR python pickles (with a restricted unpickler) and ``mnist.npz``.

Every reader validates what it reads and raises :class:`DataError` with one line that
names the file on anything malformed.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from cnn_tui.core.errors import DataError

# ---------------------------------------------------------------------------------------
# idx files (MNIST / Fashion-MNIST)

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _idx_file(folder: Path, base: str) -> Path | None:
    for name in (base + ".gz", base, base.replace("-idx", ".idx") + ".gz", base.replace("-idx", ".idx")):
        p = folder / name
        if p.is_file():
            return p
    return None


def find_idx_set(folder: Path) -> dict[str, Path] | None:
    """The four idx files in ``folder`` (``.gz`` or not), or None if any is missing."""
    if not folder.is_dir():
        return None
    found = {key: _idx_file(folder, base) for key, base in IDX_FILES.items()}
    if any(p is None for p in found.values()):
        return None
    return found  # type: ignore[return-value]


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read one uint8 idx file (gzip or plain) with ``ndim`` dimensions, validating its header."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read idx file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an idx file (bad magic number)")
    if raw[2] != 0x08:
        raise DataError(f"{path}: idx element type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    if raw[3] != ndim:
        raise DataError(f"{path}: expected an idx file with {ndim} dimensions, found {raw[3]}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated idx header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != size:
        raise DataError(f"{path}: idx header says {dims} ({size} bytes) but the file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def load_idx_set(files: dict[str, Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) from the four idx files; x gets a channel axis."""
    out = []
    for split in ("train", "test"):
        x = read_idx(files[f"{split}_images"], 3)
        y = read_idx(files[f"{split}_labels"], 1)
        if len(x) != len(y):
            raise DataError(
                f"{files[f'{split}_images']}: {len(x)} images but {files[f'{split}_labels'].name} has {len(y)} labels"
            )
        out += [x[..., None], y.astype(np.int64)]
    return out[0], out[1], out[2], out[3]


# ---------------------------------------------------------------------------------------
# Restricted unpickling (CIFAR)

# Plain dicts, lists, bytes, str and ints need no globals at all. Numpy arrays (the
# original CIFAR files hold b"data" as one) need only these reconstruct functions.
_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol-5 pickles of contiguous arrays
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3 (pure function)
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")


def safe_unpickle(fileobj: BinaryIO, what: str) -> Any:
    """Unpickle with ``encoding="bytes"`` allowing only numpy array reconstruction."""
    try:
        return _RestrictedUnpickler(fileobj, encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{what}: unsafe or broken pickle ({exc})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OSError, MemoryError) as exc:
        raise DataError(f"{what}: cannot unpickle ({type(exc).__name__}: {exc})") from None


def _str_keys(d: Any, what: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise DataError(f"{what}: expected a pickled dict, found {type(d).__name__}")
    return {(k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)): v for k, v in d.items()}


CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

CIFAR_LAYOUT = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "archives": ("cifar-10-python.tar.gz", "cifar-10-batches-py-target_archive"),
        "keras_dir": "cifar-10-batches-py-target",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "label_key": "labels",
        "names_key": "label_names",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "archives": ("cifar-100-python.tar.gz", "cifar-100-python-target_archive"),
        "keras_dir": "cifar-100-python-target",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "label_key": "fine_labels",
        "names_key": "fine_label_names",
    },
}


class _CifarSource:
    """Opens member files of an extracted CIFAR folder or of its .tar.gz archive."""

    def __init__(self, path: Path, folder_name: str) -> None:
        self.path = path
        self.folder_name = folder_name
        self._tar: tarfile.TarFile | None = None

    def __enter__(self) -> "_CifarSource":
        if self.path.is_file():
            try:
                self._tar = tarfile.open(self.path, "r:*")
            except (tarfile.TarError, OSError) as exc:
                raise DataError(f"{self.path}: cannot open archive ({exc})") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._tar is not None:
            self._tar.close()

    def exists(self, name: str) -> bool:
        if self._tar is None:
            return (self.path / name).is_file()
        try:
            self._tar.getmember(f"{self.folder_name}/{name}")
            return True
        except KeyError:
            return False

    def load(self, name: str) -> Any:
        what = f"{self.path}/{name}" if self._tar is None else f"{self.path}:{self.folder_name}/{name}"
        if self._tar is None:
            try:
                with open(self.path / name, "rb") as f:
                    return safe_unpickle(f, what)
            except FileNotFoundError:
                raise DataError(f"{what}: missing (expected the files of {self.folder_name}/)") from None
            except OSError as exc:
                raise DataError(f"{what}: cannot read ({exc})") from None
        try:
            member = self._tar.extractfile(f"{self.folder_name}/{name}")
        except KeyError:
            member = None
        except (tarfile.TarError, OSError) as exc:
            raise DataError(f"{what}: cannot read ({exc})") from None
        if member is None:
            raise DataError(f"{what}: missing from the archive")
        try:
            return safe_unpickle(io.BytesIO(member.read()), what)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{what}: cannot read ({exc})") from None


def _cifar_batch(d: Any, what: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    d = _str_keys(d, what)
    if "data" not in d or label_key not in d:
        raise DataError(f"{what}: expected keys 'data' and '{label_key}', found {sorted(d)[:6]}")
    data = d["data"]
    if isinstance(data, (bytes, bytearray)):
        data = np.frombuffer(data, dtype=np.uint8)
        data = data.reshape(-1, 3072) if data.size % 3072 == 0 else data
    if not isinstance(data, np.ndarray) or data.dtype == object or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", type(data).__name__)
        raise DataError(f"{what}: 'data' must be an N x 3072 uint8 array, found {shape}")
    if data.dtype != np.uint8:
        if not np.issubdtype(data.dtype, np.integer) or (data.size and (data.min() < 0 or data.max() > 255)):
            raise DataError(f"{what}: 'data' must hold uint8 pixel values, found {data.dtype}")
        data = data.astype(np.uint8)
    try:
        labels = np.asarray(d[label_key], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"{what}: '{label_key}' must be a list of integers") from None
    if len(labels) != len(data):
        raise DataError(f"{what}: {len(data)} images but {len(labels)} labels")
    x = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, labels


def load_cifar(path: Path, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(x_train, y_train, x_test, y_test, class_names) from an extracted folder or a .tar.gz."""
    lay = CIFAR_LAYOUT[kind]
    n_classes = 10 if kind == "cifar10" else 100
    with _CifarSource(path, lay["folder"]) as src:
        parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for split in ("train", "test"):
            xs, ys = [], []
            for name in lay[split]:
                x, y = _cifar_batch(src.load(name), f"{path}/{name}", lay["label_key"])
                xs.append(x)
                ys.append(y)
            parts[split] = (np.concatenate(xs), np.concatenate(ys))
        names: list[str] | None = None
        if src.exists(lay["meta"]):
            meta = _str_keys(src.load(lay["meta"]), f"{path}/{lay['meta']}")
            raw = meta.get(lay["names_key"])
            if isinstance(raw, (list, tuple)) and len(raw) == n_classes:
                names = [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in raw]
    if names is None:
        names = CIFAR10_NAMES if kind == "cifar10" else [str(i) for i in range(n_classes)]
    for split, (_, y) in parts.items():
        if len(y) and (y.min() < 0 or y.max() >= n_classes):
            raise DataError(f"{path}: {split} labels must be 0..{n_classes - 1}, found {y.min()}..{y.max()}")
    return parts["train"][0], parts["train"][1], parts["test"][0], parts["test"][1], names


# ---------------------------------------------------------------------------------------
# mnist.npz


def load_mnist_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test) from Keras' mnist.npz; x gets a channel axis."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as exc:
        raise DataError(f"{path}: missing array {exc} (expected x_train, y_train, x_test, y_test)") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(f"{path}: contains pickled objects, which are refused") from None
        raise DataError(f"{path}: cannot read ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    out = []
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.dtype != np.uint8:
            raise DataError(f"{path}: x_{split} must be uint8 (N, 28, 28), found {x.dtype} {x.shape}")
        if not np.issubdtype(y.dtype, np.integer) or len(y.reshape(-1)) != len(x):
            raise DataError(f"{path}: y_{split} must hold {len(x)} integer labels, found {y.dtype} {y.shape}")
        out += [x[..., None], y.reshape(-1).astype(np.int64)]
    return out[0], out[1], out[2], out[3]
