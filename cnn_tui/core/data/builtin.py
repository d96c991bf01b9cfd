"""The five built-in datasets: where their files are looked for, how they load, their facts.

Search order (first hit wins; a hit that is broken is an error, never a silent download):
``$CNN_TUI_DATA`` -> system dirs (``/usr/share/datasets``, Debian packages) ->
``$KERAS_HOME/datasets`` -> ``~/.keras/datasets`` -> ``keras.datasets`` download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cnn_tui.core.errors import CnnTuiError, DataError

from . import readers
from .split import expected_test_count, finalize
from .types import Dataset, DatasetInfo

SYSTEM_DIRS: list[Path] = [Path("/usr/share/datasets")]

FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
DIGIT_NAMES = [str(i) for i in range(10)]


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str
    image_shape: tuple[int, int, int]
    num_classes: int
    train_count: int
    test_count: int | None  # None: no official test split (test_split applies)
    class_names: list[str] | None


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("digits", "scikit-learn handwritten digits, 8x8 gray (ships with scikit-learn)",
                (8, 8, 1), 10, 1797, None, DIGIT_NAMES),
        Builtin("fashion_mnist", "Fashion-MNIST: Zalando clothing photos, 28x28 gray",
                (28, 28, 1), 10, 60000, 10000, FASHION_NAMES),
        Builtin("mnist", "MNIST handwritten digits, 28x28 gray", (28, 28, 1), 10, 60000, 10000, DIGIT_NAMES),
        Builtin("cifar10", "CIFAR-10: small color photos of 10 object classes, 32x32 RGB",
                (32, 32, 3), 10, 50000, 10000, readers.CIFAR10_NAMES),
        Builtin("cifar100", "CIFAR-100: small color photos of 100 fine classes, 32x32 RGB",
                (32, 32, 3), 100, 50000, 10000, None),
    )
}  # fmt: skip


# ---------------------------------------------------------------------------------------
# Places


def show_path(p: Path) -> str:
    """A path for messages, with the home folder written as ``~``."""
    try:
        return "~/" + str(p.relative_to(Path.home()))
    except ValueError:
        return str(p)


def data_dirs() -> list[Path]:
    env = os.environ.get("CNN_TUI_DATA")
    return [Path(env).expanduser()] if env else []


def keras_dirs() -> list[Path]:
    out: list[Path] = []
    env = os.environ.get("KERAS_HOME")
    if env:
        out.append(Path(env).expanduser() / "datasets")
    home = Path.home() / ".keras" / "datasets"
    if home not in out:
        out.append(home)
    return out


def _first_dir_for_hint() -> str:
    return show_path(keras_dirs()[0]) + "/"


def hint_for(name: str) -> str:
    kd = _first_dir_for_hint()
    if name == "digits":
        return "ships with scikit-learn; nothing to download"
    if name == "fashion_mnist":
        files = ", ".join(f"{b}.gz" for b in readers.IDX_FILES.values())
        return (
            f"put {files} in {kd}fashion-mnist/ (or $CNN_TUI_DATA/fashion-mnist/), "
            "or install the Debian package dataset-fashion-mnist"
        )
    if name == "mnist":
        return f"put mnist.npz in {kd} (or $CNN_TUI_DATA)"
    folder = readers.CIFAR_LAYOUT[name]["folder"]
    return f"put the extracted {folder}/ folder in {kd} (or $CNN_TUI_DATA)"


def locate(name: str) -> tuple[str, Path] | None:
    """(kind, path) of the first local copy of a built-in, or None. kind: idx|npz|cifar."""
    if name == "fashion_mnist":
        for base in [*data_dirs(), *SYSTEM_DIRS, *keras_dirs()]:
            if readers.find_idx_set(base / "fashion-mnist"):
                return "idx", base / "fashion-mnist"
        return None
    if name == "mnist":
        for base in data_dirs():
            if (base / "mnist.npz").is_file():
                return "npz", base / "mnist.npz"
            if readers.find_idx_set(base / "mnist"):
                return "idx", base / "mnist"
        for base in SYSTEM_DIRS:
            if readers.find_idx_set(base / "mnist"):
                return "idx", base / "mnist"
        for base in keras_dirs():
            if (base / "mnist.npz").is_file():
                return "npz", base / "mnist.npz"
        return None
    if name in readers.CIFAR_LAYOUT:
        lay = readers.CIFAR_LAYOUT[name]
        for base in [*data_dirs(), *keras_dirs()]:
            for folder in (base / lay["folder"], base / lay["keras_dir"] / lay["folder"]):
                if folder.is_dir():
                    return "cifar", folder
            for archive in lay["archives"]:
                if (base / archive).is_file():
                    return "cifar", base / archive
        return None
    return None


# ---------------------------------------------------------------------------------------
# Keras download (the last resort; tests patch this function)


def keras_download(name: str) -> Any:
    """``keras.datasets.<name>.load_data()``: downloads into ``$KERAS_HOME/datasets``."""
    from cnn_tui.core.tfimport import import_tf  # noqa: PLC0415

    import_tf()
    import keras  # noqa: PLC0415

    return getattr(keras.datasets, name).load_data()


_NETWORK_WORDS = ("url fetch failure", "name or service not known", "temporary failure in name resolution",
                  "network is unreachable", "connection", "timed out", "urlopen error", "http error")  # fmt: skip


def _download(name: str, fetch: Callable[[str], Any]) -> tuple[np.ndarray, ...]:
    try:
        (x_train, y_train), (x_test, y_test) = fetch(name)
    except CnnTuiError:
        raise
    except Exception as exc:  # noqa: BLE001 - Keras raises bare Exception for network errors
        text = " ".join(str(exc).split())
        if isinstance(exc, OSError) or any(w in text.lower() for w in _NETWORK_WORDS):
            raise DataError(f"{name}: not available offline; {hint_for(name)}") from None
        raise DataError(f"{name}: download failed ({text[:200]}); {hint_for(name)}") from None
    arrays = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        x = np.asarray(x, dtype=np.uint8)
        arrays += [x[..., None] if x.ndim == 3 else x, np.asarray(y, dtype=np.int64).reshape(-1)]
    return tuple(arrays)


# ---------------------------------------------------------------------------------------
# Loading


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # noqa: PLC0415

    bunch = load_digits()
    x = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return x[..., None], np.asarray(bunch.target, dtype=np.int64)


def _check_labels(name: str, where: str, *ys: np.ndarray) -> None:
    k = BUILTINS[name].num_classes
    for y in ys:
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise DataError(f"{name}: labels in {where} must be 0..{k - 1}, found {y.min()}..{y.max()}")


def load_builtin(name: str, cfg: Any) -> Dataset:
    """Load a built-in dataset by name (see :data:`BUILTINS`), split as ``cfg`` says."""
    b = BUILTINS[name]
    if name == "digits":
        x, y = _load_digits()
        return finalize(name, "scikit-learn load_digits", list(DIGIT_NAMES), x, y, None, None, cfg)
    found = locate(name)
    class_names = list(b.class_names) if b.class_names else None
    if found is None:
        x_train, y_train, x_test, y_test = _download(name, keras_download)
        source = f"keras.datasets.{name} (downloaded to {show_path(keras_dirs()[0])})"
    else:
        kind, path = found
        source = str(path)
        if kind == "idx":
            x_train, y_train, x_test, y_test = readers.load_idx_set(readers.find_idx_set(path) or {})
        elif kind == "npz":
            x_train, y_train, x_test, y_test = readers.load_mnist_npz(path)
        else:
            x_train, y_train, x_test, y_test, class_names = readers.load_cifar(path, name)
    _check_labels(name, source, y_train, y_test)
    if class_names is None:
        class_names = [str(i) for i in range(b.num_classes)]
    return finalize(name, source, class_names, x_train, y_train, x_test, y_test, cfg)


def builtin_info(name: str, cfg: Any = None) -> DatasetInfo:
    """Facts about a built-in without loading it."""
    b = BUILTINS[name]
    shape = b.image_shape
    if cfg is not None and cfg.image_size is not None:
        shape = (int(cfg.image_size[0]), int(cfg.image_size[1]), shape[2])
    if b.test_count is None:
        frac = cfg.test_split if cfg is not None else 0.2
        test = expected_test_count(b.train_count, frac)
        train = b.train_count - test
    else:
        train, test = b.train_count, b.test_count
    if name == "digits":
        location, available = "scikit-learn load_digits", True
    else:
        found = locate(name)
        available = found is not None
        location = str(found[1]) if found else f"keras.datasets.{name} (download to {show_path(keras_dirs()[0])})"
    names = list(b.class_names) if b.class_names else None
    return DatasetInfo(
        name=name,
        description=b.description,
        image_shape=shape,
        num_classes=b.num_classes,
        class_names=names,
        train_count=train,
        test_count=test,
        location=location,
        available_offline=available,
        hint=hint_for(name),
    )
