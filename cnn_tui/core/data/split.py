"""Seeded, stratified splits and subsets, resizing, and assembling a Dataset.

Every split is per class: each class contributes its share (largest-remainder rounding,
ties broken by the seeded generator), so small classes keep their proportion. The same
``split_seed`` always gives the same split; each step (test, limits, validation) draws
from its own generator so changing one fraction does not reshuffle the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_tui.core.errors import DataError

from .types import Dataset

# Steps of the pipeline, each with its own generator stream.
STEP_TEST, STEP_TRAIN_LIMIT, STEP_TEST_LIMIT, STEP_VAL, STEP_ORDER = 1, 2, 3, 4, 5


def rng_for(seed: int, step: int) -> np.random.Generator:
    """A generator for one split step (negative seeds are fine)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, step])


def allocate(counts: np.ndarray, target: int, caps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How many to take from each class: proportional to ``counts``, summing to ``target``.

    Largest-remainder rounding; no class gets more than its cap. Returns an int array.
    """
    counts = np.asarray(counts, dtype=np.int64)
    caps = np.minimum(np.asarray(caps, dtype=np.int64), counts)
    total = int(counts.sum())
    target = int(min(max(target, 0), int(caps.sum())))
    if total == 0 or target == 0:
        return np.zeros_like(counts)
    exact = counts * (target / total)
    take = np.minimum(np.floor(exact).astype(np.int64), caps)
    remainder = exact - take
    while int(take.sum()) < target:
        room = take < caps
        if not room.any():
            break
        # Largest fractional part first; random tie-breaking by the seeded generator.
        order = np.lexsort((rng.random(len(counts)), -np.where(room, remainder, -np.inf)))
        need = target - int(take.sum())
        for c in order:
            if need == 0:
                break
            if take[c] < caps[c]:
                take[c] += 1
                remainder[c] -= 1.0
                need -= 1
    return take


def _per_class(y: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    classes = np.unique(y)
    return classes, [np.flatnonzero(y == c) for c in classes]


def stratified_split(y: np.ndarray, fraction: float, seed: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held) with about ``fraction`` of every class held out.

    Every class keeps at least one sample in the kept part. Both index arrays are sorted.
    """
    y = np.asarray(y)
    n = len(y)
    if n == 0 or fraction <= 0:
        return np.arange(n), np.arange(0)
    rng = rng_for(seed, step)
    _, groups = _per_class(y)
    counts = np.array([len(g) for g in groups])
    take = allocate(counts, int(round(fraction * n)), np.maximum(counts - 1, 0), rng)
    held = [rng.permutation(g)[:k] for g, k in zip(groups, take)]
    held_idx = np.sort(np.concatenate(held)) if held else np.arange(0)
    mask = np.ones(n, dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask), held_idx.astype(np.int64)


def stratified_subset(y: np.ndarray, limit: int | None, seed: int, step: int) -> np.ndarray | None:
    """Sorted indices of a stratified subset of at most ``limit`` samples (None = keep all)."""
    y = np.asarray(y)
    if limit is None or limit >= len(y):
        return None
    rng = rng_for(seed, step)
    _, groups = _per_class(y)
    counts = np.array([len(g) for g in groups])
    take = allocate(counts, limit, counts, rng)
    chosen = [rng.permutation(g)[:k] for g, k in zip(groups, take)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def take(x: Any, idx: np.ndarray) -> Any:
    """``x[idx]`` for numpy arrays; a lazy subset for FileImages."""
    if isinstance(x, np.ndarray):
        return x[idx]
    return x.subset(idx)


def expected_test_count(n: int, fraction: float) -> int:
    """The size of a ``test_split`` hold-out of ``n`` samples (as the split makes it, up to class caps)."""
    return int(round(fraction * n))


def planned_counts(train_count: int | None, test_count: int | None, cfg: Any) -> tuple[int, int, int] | None:
    """(train, validation, test) image counts a run of ``cfg`` (a DataConfig) will use, from
    a source's train/test counts as :class:`DatasetInfo` gives them (the test hold-out
    already taken): the limits, then the validation carved from the limited train part,
    as :func:`finalize` does (a stratified split can differ by a few images from the
    rounding when classes are tiny). None when the source's counts are unknown."""
    if train_count is None or test_count is None:
        return None
    train = train_count if cfg.train_limit is None else min(train_count, int(cfg.train_limit))
    test = test_count if cfg.test_limit is None else min(test_count, int(cfg.test_limit))
    val = int(round(cfg.validation_split * train)) if cfg.validation_split > 0 else 0
    return train - val, val, test


def check_image_size(image_size: Any) -> None:
    """DataError unless ``data.image_size`` is None or two sizes of at least 1 pixel."""
    if image_size is None:
        return
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        return  # the config schema reports a value of the wrong type
    if h < 1 or w < 1:
        raise DataError(f"data.image_size = [{h}, {w}]: height and width must be at least 1 pixel")


def _check_fits(n: int, h: int, w: int, c: int) -> None:
    """DataError when ``n`` resized images would not fit in the memory available now."""
    from cnn_tui.core.models import memory  # noqa: PLC0415 - pure Python, no TensorFlow

    need, limit = n * h * w * c, memory.available_memory()
    if limit and need > limit:
        raise DataError(
            f"data.image_size = [{h}, {w}]: {n} resized images need {memory.fmt_bytes(need)} of memory, and "
            f"{memory.fmt_bytes(limit)} is available; lower data.image_size or data.train_limit"
        )


def resize_images(x: np.ndarray, size: tuple[int, int] | None, chunk: int = 4096) -> np.ndarray:
    """Resize a uint8 (N, H, W, C) array to ``size`` = (H, W) with Pillow (bilinear), in chunks.

    DataError (before allocating) when the result would not fit in the memory available.
    """
    if size is None or not isinstance(x, np.ndarray) or x.ndim != 4 or tuple(x.shape[1:3]) == tuple(size):
        return x
    from PIL import Image  # noqa: PLC0415

    check_image_size(size)
    h, w = int(size[0]), int(size[1])
    n, _, _, c = x.shape
    _check_fits(n, h, w, c)
    out = np.empty((n, h, w, c), dtype=np.uint8)
    modes = {1: "L", 3: "RGB", 4: "RGBA"}
    for start in range(0, n, chunk):
        block = np.ascontiguousarray(x[start : start + chunk])
        for i in range(len(block)):
            if c in modes:
                img = Image.fromarray(np.ascontiguousarray(block[i, :, :, 0]) if c == 1 else block[i])
                res = np.asarray(img.resize((w, h), Image.Resampling.BILINEAR))
                out[start + i] = res.reshape(h, w, c)
            else:
                for ch in range(c):
                    img = Image.fromarray(np.ascontiguousarray(block[i, :, :, ch]))
                    out[start + i, :, :, ch] = np.asarray(img.resize((w, h), Image.Resampling.BILINEAR))
    return out


def finalize(
    spec: str,
    source: str,
    class_names: list[str],
    x_train: Any,
    y_train: np.ndarray,
    x_test: Any | None,
    y_test: np.ndarray | None,
    cfg: Any,
    *,
    skipped: int = 0,
    skipped_files: tuple[str, ...] = (),
    unlabeled_files: tuple[str, ...] = (),
    resize: bool = True,
) -> Dataset:
    """Split (test if needed, limits, validation), optionally resize, and build the Dataset.

    Order: test hold-out (sources without an official test split) -> ``train_limit`` /
    ``test_limit`` stratified subsets -> validation carved from the (limited) train part.
    The training split comes out in a seeded random order (sources such as folders are
    sorted by class, and a shuffle buffer alone would not mix them); validation and test
    keep the source order. Each image array is indexed once (one copy).
    """
    y_all = np.asarray(y_train, dtype=np.int64).reshape(-1)
    if len(class_names) < 2:
        raise DataError(f"{spec}: needs at least 2 classes, found {len(class_names)}")
    seed = cfg.split_seed
    train_idx = np.arange(len(y_all))
    if x_test is None:
        keep, held = stratified_split(y_all, cfg.test_split, seed, STEP_TEST)
        x_test_src, y_test_all, test_idx = x_train, y_all, held
        train_idx = keep
    else:
        y_test_all = np.asarray(y_test, dtype=np.int64).reshape(-1)
        x_test_src, test_idx = x_test, np.arange(len(y_test_all))
    sub = stratified_subset(y_all[train_idx], cfg.train_limit, seed, STEP_TRAIN_LIMIT)
    if sub is not None:
        train_idx = train_idx[sub]
    sub = stratified_subset(y_test_all[test_idx], cfg.test_limit, seed, STEP_TEST_LIMIT)
    if sub is not None:
        test_idx = test_idx[sub]
    val_idx = np.arange(0)
    if cfg.validation_split > 0:
        keep, held = stratified_split(y_all[train_idx], cfg.validation_split, seed, STEP_VAL)
        train_idx, val_idx = train_idx[keep], train_idx[held]
    train_idx = rng_for(seed, STEP_ORDER).permutation(train_idx)
    if len(train_idx) == 0:
        raise DataError(f"{spec}: no training images left after the splits (too few images)")
    if len(test_idx) == 0:
        raise DataError(f"{spec}: test split is empty (too few images for data.test_split = {cfg.test_split})")
    xs = [take(x_train, train_idx), take(x_train, val_idx), take(x_test_src, test_idx)]
    if resize and cfg.image_size is not None:
        xs = [resize_images(a, tuple(cfg.image_size)) for a in xs]
    return Dataset(
        name=spec,
        source=source,
        class_names=list(class_names),
        x_train=xs[0],
        y_train=y_all[train_idx],
        x_val=xs[1],
        y_val=y_all[val_idx],
        x_test=xs[2],
        y_test=y_test_all[test_idx],
        skipped=int(skipped),
        skipped_files=tuple(skipped_files),
        unlabeled_files=tuple(unlabeled_files),
    )
