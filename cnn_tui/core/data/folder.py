"""``folder:PATH`` datasets: a class-per-subfolder tree, or labels from file-name prefixes.

Files with an image extension are candidates. Every candidate's header is opened once
while scanning (cheap: no pixel decoding) to reject zero-byte, non-image, unreadable and
oversized files (> MAX_PIXELS pixels, decompression bombs); files that then fail to
decode (truncated) are dropped too. All of them count in ``Dataset.skipped``; none is
fatal. Images are resized to ``data.image_size`` (default 64x64) with Pillow.

When the decoded set would exceed ``LAZY_BYTES`` the splits hold :class:`FileImages`
instead of arrays: paths plus target size and mode, decoded on access.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from cnn_tui.core.errors import DataError

from .split import expected_test_count, finalize
from .types import Dataset, DatasetInfo

IMAGE_EXTS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm"}
)
MAX_PIXELS = 50_000_000
LAZY_BYTES = 1 << 30
DEFAULT_SIZE = (64, 64)
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
NO_READABLE = "no readable images (all files were corrupt, empty or too large)"
_PREFIX = re.compile(r"[^\W\d_]+")
_CHUNK = 256


def _pil() -> Any:
    from PIL import Image  # noqa: PLC0415

    if Image.MAX_IMAGE_PIXELS != MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        # Files over MAX_PIXELS are refused (skipped and counted) by our own check, so
        # Pillow's warning for 1-2x its limit would only be noise on the terminal.
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    return Image


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def prefix_label(stem: str) -> str | None:
    """``"shine12"`` -> ``"shine"``, ``"cloudy_3"`` -> ``"cloudy"``; None without leading letters."""
    m = _PREFIX.match(stem)
    return m.group(0).lower() if m else None


def decode_image(path: str, size: tuple[int, int], mode: str) -> np.ndarray:
    """Decode one file to a uint8 (H, W, C) array of ``size`` = (H, W) in ``mode`` (L or RGB).

    Raises on any problem (the callers decide whether to skip).
    """
    Image = _pil()
    from PIL import ImageOps  # noqa: PLC0415

    h, w = int(size[0]), int(size[1])
    with Image.open(path) as im:
        if im.size[0] * im.size[1] > MAX_PIXELS:
            raise ValueError(f"{im.size[0]}x{im.size[1]} exceeds {MAX_PIXELS} pixels")
        im.draft(mode, (w, h))  # JPEG: decode at a reduced scale when much larger
        img = ImageOps.exif_transpose(im)
        if img.mode != mode:
            img = img.convert(mode)
        if img.size != (w, h):
            img = img.resize((w, h), Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
    return arr.reshape(h, w, 1 if mode == "L" else 3)


def probe_image(path: str) -> str | None:
    """The file's Pillow mode if its header reads as a sane image, else None (header only)."""
    Image = _pil()
    try:
        if os.path.getsize(path) == 0:
            return None
        with Image.open(path) as im:
            w, h = im.size
            mode = im.mode
    except Exception:  # noqa: BLE001 - any reader failure means "not a usable image"
        return None
    if w <= 0 or h <= 0 or w * h > MAX_PIXELS:
        return None
    return mode


class FileImages:
    """Images decoded from files on demand: ``len()``, ``.shape``, ``[i | slice | idx]``.

    A file that fails to decode at read time yields an all-zero image and increments
    :attr:`failed` (header checks during scanning already removed the usual bad files).
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, paths: Iterable[str], size: tuple[int, int], mode: str) -> None:
        self.paths = [str(p) for p in paths]
        self.size = (int(size[0]), int(size[1]))
        self.mode = mode
        self.failed = 0
        self._lock = threading.Lock()

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.paths), self.size[0], self.size[1], self.channels)

    @property
    def nbytes(self) -> int:
        n, h, w, c = self.shape
        return n * h * w * c

    def __len__(self) -> int:
        return len(self.paths)

    def __repr__(self) -> str:
        return f"FileImages(n={len(self)}, size={self.size}, mode={self.mode!r})"

    def decode_path(self, path: str) -> np.ndarray:
        try:
            return decode_image(path, self.size, self.mode)
        except Exception:  # noqa: BLE001
            with self._lock:
                self.failed += 1
            return np.zeros((*self.size, self.channels), dtype=np.uint8)

    def _indices(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            return np.arange(len(self))[key]
        idx = np.asarray(key)
        if idx.dtype == bool:
            return np.flatnonzero(idx)
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"FileImages indices must be integers, not {idx.dtype}")
        return np.where(idx < 0, idx + len(self), idx).reshape(-1)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            i = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"index {key} out of range for {len(self)} images")
            return self.decode_path(self.paths[i])
        idx = self._indices(key)
        out = np.empty((len(idx), *self.shape[1:]), dtype=np.uint8)
        paths = [self.paths[int(i)] for i in idx]
        if len(paths) <= 4:
            for j, p in enumerate(paths):
                out[j] = self.decode_path(p)
            return out
        with ThreadPoolExecutor(_workers()) as ex:
            for j, arr in enumerate(ex.map(self.decode_path, paths)):
                out[j] = arr
        return out

    def subset(self, idx: Any) -> "FileImages":
        sub = FileImages([self.paths[int(i)] for i in self._indices(idx)], self.size, self.mode)
        return sub


# ---------------------------------------------------------------------------------------
# Scanning


def _visible_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in IMAGE_EXTS:
                out.append(Path(dirpath) / f)
    return out


def _root(spec: str, path: str) -> Path:
    root = Path(path).expanduser()
    if not path:
        raise DataError(f"{spec}: give a folder, e.g. folder:~/data/weather")
    if not root.exists():
        raise DataError(f"{spec}: no such folder: {root}")
    if not root.is_dir():
        raise DataError(f"{spec}: {root} is not a folder")
    return root


def scan(spec: str, path: str, labels_from: str) -> tuple[Path, list[tuple[str, str]], list[str]]:
    """(root, [(file, class name)], [unlabeled file]) without opening any file."""
    root = _root(spec, path)
    entries: list[tuple[str, str]] = []
    unlabeled: list[str] = []
    exts = "/".join(sorted(e.lstrip(".") for e in IMAGE_EXTS))
    if labels_from == "prefix":
        for f in _visible_files(root):
            label = prefix_label(f.stem)
            if label is None:
                unlabeled.append(str(f))
            else:
                entries.append((str(f), label))
        if not entries:
            raise DataError(f"{spec}: no images with a letter prefix found in {root} (looked for {exts})")
        return root, entries, unlabeled
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for sub in subdirs:
        entries += [(str(f), sub.name) for f in _visible_files(sub)]
    if not entries:
        top = sum(1 for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        if top:
            raise DataError(
                f"{spec}: no class sub-folders with images in {root} ({top} images at the top level; "
                'set data.labels_from = "prefix" to take labels from file names)'
            )
        raise DataError(f"{spec}: no images found in {root} (expected one sub-folder per class with {exts} files)")
    return root, entries, unlabeled


def _relative(root: Path, path: str) -> str:
    """``path`` relative to the dataset folder, with '/' separators (for messages)."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _check_classes(spec: str, root: Path, entries: list[tuple[str, str]], ok: list[bool]) -> list[str]:
    """The sorted class names of the readable files; DataError when none is readable, when a
    class found in the tree has no readable file left, or when fewer than 2 classes remain."""
    names = sorted({lab for (_, lab), good in zip(entries, ok) if good})
    if not names:
        raise DataError(f"{spec}: {NO_READABLE}")
    for cls in sorted({lab for _, lab in entries} - set(names)):
        files = [p for p, lab in entries if lab == cls]
        raise DataError(
            f"{spec}: class '{cls}' has no readable images ({len(files)} file{'s' if len(files) != 1 else ''}, "
            f"e.g. {_relative(root, files[0])}: empty, corrupt, truncated or too large)"
        )
    if len(names) < 2:
        raise DataError(f"{spec}: needs at least 2 classes, found 1: '{names[0]}'")
    return names


def _pick_mode(color_mode: str, modes: Iterable[str]) -> str:
    if color_mode == "grayscale":
        return "L"
    if color_mode == "rgb":
        return "RGB"
    return "L" if all(m in GRAY_MODES for m in modes) else "RGB"


def _probe_all(paths: list[str]) -> list[str | None]:
    if len(paths) < 64:
        return [probe_image(p) for p in paths]
    with ThreadPoolExecutor(_workers()) as ex:
        return list(ex.map(probe_image, paths, chunksize=64))


def _decode_all(paths: list[str], size: tuple[int, int], mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode into one preallocated array; returns (images, ok mask)."""
    c = 1 if mode == "L" else 3
    out = np.zeros((len(paths), size[0], size[1], c), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)

    def work(start: int) -> None:
        for i in range(start, min(start + _CHUNK, len(paths))):
            try:
                out[i] = decode_image(paths[i], size, mode)
                ok[i] = True
            except Exception:  # noqa: BLE001 - truncated/corrupt: skip and count
                ok[i] = False

    starts = range(0, len(paths), _CHUNK)
    if len(paths) <= _CHUNK:
        for s in starts:
            work(s)
    else:
        with ThreadPoolExecutor(_workers()) as ex:
            list(ex.map(work, starts))
    return out, ok


def load_folder(spec: str, path: str, cfg: Any) -> Dataset:
    """Load a ``folder:PATH`` dataset and split it per class (seeded)."""
    root, entries, unlabeled = scan(spec, path, cfg.labels_from)
    modes = _probe_all([p for p, _ in entries])
    readable = [m is not None for m in modes]
    _check_classes(spec, root, entries, readable)
    bad = [p for (p, _), ok in zip(entries, readable) if not ok]
    entries = [e for e, ok in zip(entries, readable) if ok]
    mode = _pick_mode(cfg.color_mode, (m for m in modes if m is not None))
    size = tuple(int(v) for v in (cfg.image_size or DEFAULT_SIZE))
    paths = [p for p, _ in entries]
    labels = [lab for _, lab in entries]
    c = 1 if mode == "L" else 3
    if len(paths) * size[0] * size[1] * c > LAZY_BYTES:
        x: Any = FileImages(paths, size, mode)  # type: ignore[arg-type]
    else:
        x, ok = _decode_all(paths, size, mode)  # type: ignore[arg-type]
        if not ok.all():
            _check_classes(spec, root, entries, ok.tolist())
            bad += [p for p, k in zip(paths, ok) if not k]
            x = x[ok]
            labels = [lab for lab, k in zip(labels, ok) if k]
    names = sorted(set(labels))
    index = {n: i for i, n in enumerate(names)}
    y = np.array([index[lab] for lab in labels], dtype=np.int64)
    skipped_files = sorted(_relative(root, p) for p in bad)
    unlabeled_files = sorted(_relative(root, p) for p in unlabeled)
    return finalize(spec, str(root), names, x, y, None, None, cfg, skipped=len(bad) + len(unlabeled),
                    skipped_files=skipped_files, unlabeled_files=unlabeled_files, resize=False)  # fmt: skip


def folder_info(spec: str, path: str, cfg: Any = None) -> DatasetInfo:
    """Scan the tree (no decoding; a few headers for the color mode) and report its facts."""
    labels_from = cfg.labels_from if cfg is not None else "subfolder"
    how = "labels from file-name prefixes" if labels_from == "prefix" else "one sub-folder per class"
    description = f"image folder ({how})"
    try:
        root, entries, _ = scan(spec, path, labels_from)
    except DataError as exc:
        return DatasetInfo(spec, description, None, None, None, None, None, str(Path(path).expanduser()),
                           False, str(exc))  # fmt: skip
    names = sorted({lab for _, lab in entries})
    step = max(1, len(entries) // 32)
    sample = [p for p, _ in entries[::step][:32]]
    modes = [m for m in (probe_image(p) for p in sample) if m is not None]
    if not modes:  # no readable header in the sample: look on until one reads (headers only)
        first = next((m for m in (probe_image(p) for p, _ in entries) if m is not None), None)
        if first is None:
            return DatasetInfo(spec, description, None, None, None, None, None, str(root), False,
                               f"{spec}: {NO_READABLE}")  # fmt: skip
        modes = [first]
    color = cfg.color_mode if cfg is not None else "auto"
    size = tuple(cfg.image_size) if cfg is not None and cfg.image_size else DEFAULT_SIZE
    channels = 1 if _pick_mode(color, modes or ["RGB"]) == "L" else 3
    frac = cfg.test_split if cfg is not None else 0.2
    test = expected_test_count(len(entries), frac)
    hint = "" if len(names) >= 2 else f"needs at least 2 classes, found {len(names)}: '{names[0]}'"
    return DatasetInfo(
        name=spec,
        description=description,
        image_shape=(int(size[0]), int(size[1]), channels),
        num_classes=len(names),
        class_names=names,
        train_count=len(entries) - test,
        test_count=test,
        location=str(root),
        available_offline=len(names) >= 2,
        hint=hint or f"{len(entries)} image files; corrupt ones are skipped when loading",
    )
