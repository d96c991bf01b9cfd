"""The misclassified test samples of a run, with their images.

The engine saves ``samples.npz`` in the run folder (see :func:`save_samples`): the
misclassified test images (uint8 ``(M, H, W, C)``) and, per image, its index into the
test split, the true class, the predicted class and the confidence of the prediction.
Runs without that file (older runs, or an engine that skipped it) fall back to the
predictions or ``metrics.json``'s ``misclassified`` list plus a reload of the test split
through the data layer — slow for big datasets, so front ends call this off their UI
thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnn_tui.core.errors import RunStoreError
from cnn_tui.core.fsutil import atomic_write_with

if TYPE_CHECKING:  # pragma: no cover
    from cnn_tui.core.results.store import RunInfo

SAMPLES_FILE = "samples.npz"
SAMPLE_KEYS = ("images", "index", "true", "pred", "confidence")


@dataclass(frozen=True)
class Sample:
    """One misclassified test image."""

    index: int
    """Position in the run's test split (``x_test[index]``)."""
    true: int
    pred: int
    confidence: float
    """Softmax probability of ``pred``."""
    image: Any = None
    """uint8 array (H, W, C)."""


def save_samples(
    run_dir: str | os.PathLike,
    *,
    images: Any,
    index: Any,
    true: Any,
    pred: Any,
    confidence: Any,
) -> Path:
    """Write ``samples.npz`` into ``run_dir`` (temp file + rename); returns its path."""
    import numpy as np

    images = np.asarray(images, dtype=np.uint8)
    if images.ndim == 3:  # (M, H, W) gray: add the channel axis
        images = images[..., None]
    arrays = {
        "images": images,
        "index": np.asarray(index, dtype=np.int64),
        "true": np.asarray(true, dtype=np.int64),
        "pred": np.asarray(pred, dtype=np.int64),
        "confidence": np.asarray(confidence, dtype=np.float32),
    }
    count = len(arrays["index"])
    if any(len(a) != count for a in arrays.values()):
        raise ValueError("samples: images, index, true, pred and confidence must have the same length")
    return atomic_write_with(Path(run_dir) / SAMPLES_FILE, lambda tmp: np.savez_compressed(tmp, **arrays))


def load_misclassified(run: RunInfo, limit: int | None = None) -> list[Sample]:
    """The run's misclassified test samples with images, most confident mistakes first
    in the order the engine saved them.

    Reads ``samples.npz`` when present; otherwise reloads the test split with
    ``cnn_tui.core.data.load_dataset(run.config.data)`` (may take seconds) and picks
    the misclassified entries of ``predictions.npz`` (or ``metrics.json``).
    Returns [] when the run has no evaluation. Raises RunStoreError for damaged files
    and DataError when the dataset cannot be reloaded.
    """
    saved = _read_samples_file(Path(run.path) / SAMPLES_FILE, limit)
    if saved is not None:
        return saved
    entries = _misclassified_entries(run)
    if limit is not None:
        entries = entries[: max(0, limit)]
    if not entries:
        return []

    import numpy as np

    from cnn_tui.core.data import load_dataset

    dataset = load_dataset(run.config.data)
    x_test = dataset.x_test
    count = len(x_test)
    bad = [e[0] for e in entries if not 0 <= e[0] < count]
    if bad:
        raise RunStoreError(
            f"{run.path}: misclassified index {bad[0]} is outside the test split of {count} images "
            "(the dataset changed since the run?)"
        )
    images = np.asarray(x_test[np.asarray([e[0] for e in entries], dtype=np.int64)], dtype=np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    return [Sample(i, t, p, c, img) for (i, t, p, c), img in zip(entries, images)]


def _read_samples_file(file: Path, limit: int | None) -> list[Sample] | None:
    import numpy as np

    if not file.exists():
        return None
    try:
        with np.load(file, allow_pickle=False) as data:
            missing = [k for k in SAMPLE_KEYS if k not in data.files]
            if missing:
                raise RunStoreError(f"{file}: missing arrays {', '.join(missing)} (expected {', '.join(SAMPLE_KEYS)})")
            arrays = {k: data[k] for k in SAMPLE_KEYS}
    except (OSError, ValueError, EOFError) as exc:
        raise RunStoreError(f"{file}: cannot read samples ({exc})") from None
    images = arrays["images"]
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise RunStoreError(f"{file}: images must be (M, H, W, C), got shape {images.shape}")
    images = images.astype(np.uint8, copy=False)
    count = min(len(images), *(len(arrays[k]) for k in SAMPLE_KEYS[1:]))
    if limit is not None:
        count = min(count, max(0, limit))
    return [
        Sample(
            int(arrays["index"][i]),
            int(arrays["true"][i]),
            int(arrays["pred"][i]),
            float(arrays["confidence"][i]),
            images[i],
        )
        for i in range(count)
    ]


def _misclassified_entries(run: RunInfo) -> list[tuple[int, int, int, float]]:
    """(test index, true, pred, confidence) of each mistake: from predictions.npz, else metrics.json."""
    import numpy as np

    preds = run.predictions()
    if preds is not None and {"probs", "labels"} <= set(preds):
        probs = np.asarray(preds["probs"])
        labels = np.asarray(preds["labels"]).astype(np.int64)
        predicted = np.asarray(preds["preds"]).astype(np.int64) if "preds" in preds else probs.argmax(axis=1)
        test_index = np.asarray(preds.get("test_index", np.arange(len(labels)))).astype(np.int64)
        wrong = np.flatnonzero(predicted != labels)
        conf = probs[wrong, predicted[wrong]] if len(wrong) else np.zeros(0)
        order = np.argsort(-conf, kind="stable")  # most confident mistakes first
        return [
            (int(test_index[wrong[k]]), int(labels[wrong[k]]), int(predicted[wrong[k]]), float(conf[k]))
            for k in order
        ]
    metrics = run.metrics or {}
    out = []
    for item in metrics.get("misclassified") or []:
        try:
            out.append((int(item["index"]), int(item["true"]), int(item["pred"]), float(item["confidence"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out
