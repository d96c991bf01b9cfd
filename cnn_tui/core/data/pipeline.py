"""tf.data input pipelines and per-channel statistics over uint8 image sets."""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import Any

import numpy as np

from cnn_tui.core.errors import DataError

from .types import ChannelStats

SHUFFLE_BUFFER = 10_000
STATS_SAMPLE = 5_000  # images sampled from a lazy FileImages set for channel_stats
_STATS_CHUNK_VALUES = 1 << 22


class _StreamGuard:
    """Lets a process exit while a streaming (FileImages) pipeline is still being iterated.

    tf.data calls the Pillow decoder from its own threads through ``tf.py_function``. If
    an iterator is still alive when Python finalizes, its destructor waits for calls that
    can no longer take the GIL, and the process hangs. At exit (before finalization) the
    guard makes the decoder return at once and waits until the pipeline's buffers are
    full and no call is in flight, so the destructor has nothing to wait for.
    """

    def __init__(self) -> None:
        self.closing = False
        self.active = 0
        self.last = 0.0
        self.lock = threading.Lock()
        self.registered = False

    def register(self) -> None:
        with self.lock:
            if not self.registered:
                atexit.register(self.drain)
                self.registered = True

    def enter(self) -> bool:
        with self.lock:
            self.active += 1
            self.last = time.monotonic()
            return self.closing

    def leave(self) -> None:
        with self.lock:
            self.active -= 1

    def drain(self, quiet_s: float = 0.2, limit_s: float = 3.0) -> None:
        self.closing = True
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            with self.lock:
                idle = self.active == 0 and time.monotonic() - self.last > quiet_s
            if idle:
                return
            time.sleep(0.02)


_GUARD = _StreamGuard()


def make_tf_dataset(x: Any, y: Any, batch_size: int, *, shuffle: bool, seed: int, repeat: bool) -> Any:
    """A ``tf.data.Dataset`` of (uint8 image batch, int64 label batch).

    In-memory ``x`` (a uint8 numpy array) is not copied into TensorFlow: the pipeline
    runs over *indices* -- ``Dataset.range(N)``, ``.shuffle(N, seed,
    reshuffle_each_iteration=True)`` when ``shuffle`` (a full shuffle of the indices, no
    image buffer), ``.batch()``, ``.repeat()`` when ``repeat`` (infinite: give ``fit`` a
    ``steps_per_epoch``) -- and each index batch is gathered from the numpy arrays in a
    ``tf.numpy_function``, then ``.prefetch(AUTOTUNE)``. (``from_tensor_slices((x, y))``
    held a second full copy of every split plus a 10,000-image shuffle buffer.) Images
    stay uint8 (the model casts). A lazy FileImages ``x`` streams: file paths are
    shuffled (buffer ``min(N, 10000)``), each file is decoded with Pillow inside a
    ``tf.py_function`` in a parallel ``map``.
    """
    from cnn_tui.core.tfimport import import_tf  # noqa: PLC0415

    tf = import_tf()
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    n = len(y)
    if len(x) != n:
        raise DataError(f"make_tf_dataset: {len(x)} images but {n} labels")
    if batch_size < 1:
        raise DataError(f"make_tf_dataset: batch_size must be >= 1, got {batch_size}")
    lazy = not isinstance(x, np.ndarray)
    if lazy:
        paths = np.array([os.fsencode(p) for p in x.paths], dtype=object) if n else np.zeros((0,), dtype=bytes)
        ds = tf.data.Dataset.from_tensor_slices((tf.constant(paths, dtype=tf.string), y))
    else:
        if x.dtype != np.uint8:
            raise DataError(f"make_tf_dataset: images must be uint8, got {x.dtype}")
        return _in_memory(tf, x, y, batch_size, shuffle=shuffle, seed=seed, repeat=repeat)
    if shuffle:
        ds = ds.shuffle(max(1, min(n, SHUFFLE_BUFFER)), seed=seed, reshuffle_each_iteration=True)
    if lazy:
        shape = tuple(int(d) for d in x.shape[1:])

        _GUARD.register()

        def _decode(path: Any) -> np.ndarray:
            try:
                if _GUARD.enter():
                    return np.zeros(shape, dtype=np.uint8)
                return x.decode_path(os.fsdecode(path.numpy()))
            finally:
                _GUARD.leave()

        def _load(path: Any, label: Any) -> tuple[Any, Any]:
            img = tf.py_function(_decode, [path], Tout=tf.uint8)
            img.set_shape(shape)
            return img, label

        ds = ds.map(_load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    if repeat:
        ds = ds.repeat()
    return _without_autotune_model(tf, ds.prefetch(tf.data.AUTOTUNE))


def _without_autotune_model(tf: Any, ds: Any) -> Any:
    """``ds`` with tf.data's autotuning model switched off (``options.autotune.enabled``).

    With it on, every iterator runs a model thread (``Model::OptimizeLoop``) that sleeps
    between optimisation rounds, the sleep doubling up to 10 s; destroying the iterator
    waits for that sleep to end. ``fit`` destroys its (infinite, repeated) training
    iterator when it returns, so most runs stalled 1-10 s between the last epoch and the
    evaluation (measured: ``train_seconds`` 21.0 s against 12-14 s of epochs; a native
    stack showed the main thread in ``~RootDataset::Iterator`` waiting for the thread in
    ``OptimizeLoop``). Without the model, ``AUTOTUNE`` still means something: a parallel
    ``map`` runs as many calls as there are cores, and ``prefetch`` grows its buffer with
    its own (legacy) autotuner -- all this pipeline needs, since a batch is one numpy
    gather or a few Pillow decodes.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.with_options(options)


def _in_memory(tf: Any, x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool, seed: int,
               repeat: bool) -> Any:
    """Index pipeline + gather from the numpy arrays (see :func:`make_tf_dataset`)."""
    n = len(y)
    shape = tuple(int(d) for d in x.shape[1:])
    _GUARD.register()

    def _take(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # numpy fancy indexing: one small copy of the batch, never of the split.
        try:
            if _GUARD.enter():
                return np.zeros((len(idx), *shape), dtype=np.uint8), np.zeros((len(idx),), dtype=np.int64)
            return x[idx], y[idx]
        finally:
            _GUARD.leave()

    def _gather(idx: Any) -> tuple[Any, Any]:
        images, labels = tf.numpy_function(_take, [idx], (tf.uint8, tf.int64), stateful=False)
        images.set_shape((None, *shape))
        labels.set_shape((None,))
        return images, labels

    ds = tf.data.Dataset.range(n)
    if shuffle and n:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(_gather, num_parallel_calls=tf.data.AUTOTUNE)
    return _without_autotune_model(tf, ds.prefetch(tf.data.AUTOTUNE))


def channel_stats(x: Any) -> ChannelStats:
    """Per-channel mean and std and ``max_abs = max |x - mean|`` of a uint8 (N, H, W, C) set.

    Accumulates in float64 over chunks (never a float copy of the whole set). For a lazy
    FileImages set, a seeded sample of at most STATS_SAMPLE images is used.
    """
    n = len(x)
    if n == 0:
        raise DataError("channel_stats: the image set is empty")
    idx: np.ndarray | None = None
    if not isinstance(x, np.ndarray):
        if n > STATS_SAMPLE:
            idx = np.sort(np.random.default_rng(0).choice(n, STATS_SAMPLE, replace=False))
            n = STATS_SAMPLE
    elif x.ndim != 4:
        raise DataError(f"channel_stats: expected (N, H, W, C) images, got shape {x.shape}")
    _, h, w, c = (int(d) for d in x.shape)
    chunk = max(1, _STATS_CHUNK_VALUES // max(1, h * w * c))
    total = np.zeros(c, dtype=np.float64)
    total_sq = np.zeros(c, dtype=np.float64)
    lo = np.full(c, np.inf)
    hi = np.full(c, -np.inf)
    for start in range(0, n, chunk):
        a = x[start : start + chunk] if idx is None else x[idx[start : start + chunk]]
        a = np.asarray(a).reshape(-1, c)
        af = a.astype(np.float64)
        total += af.sum(axis=0)
        total_sq += np.einsum("ij,ij->j", af, af)
        lo = np.minimum(lo, a.min(axis=0))
        hi = np.maximum(hi, a.max(axis=0))
    count = float(n * h * w)
    mean = total / count
    var = np.maximum(total_sq / count - mean * mean, 0.0)
    max_abs = float(np.max(np.maximum(hi - mean, mean - lo)))
    return ChannelStats(mean=[float(v) for v in mean], std=[float(v) for v in np.sqrt(var)], max_abs=max_abs)
