"""Pre-flight memory estimate of a run, in pure Python (no TensorFlow).

A run whose images, weights or one batch of activations cannot fit in memory would
otherwise allocate until the operating system kills the process (or the machine swaps to
a halt), long after the user pressed enter. :func:`check_memory` refuses it first with
one line naming the sizes and the keys to change.

The estimate is a floor, not a forecast, so that it never refuses a run that would fit:

* images: ``N x H x W x C`` bytes (uint8, as the data layer holds them; at most the
  1 GB above which an image folder is decoded on demand);
* weights: 4 bytes per parameter for the weights, their gradients, the optimizer's
  slots (Adam: 2) and the checkpoint's in-memory snapshot;
* activations: 4 bytes per value of the input and of every block's output, for one
  batch, twice (kept for the backward pass, and their gradients) -- on a CPU only: with an
  NVIDIA GPU they live in GPU memory, which this check does not see.

It is compared with the memory available now (``MemAvailable`` on Linux, else the
physical memory); when neither can be read, nothing is refused.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from cnn_tui.core.errors import ConfigError
from cnn_tui.core.models.shapes import ShapeRow, plan_shapes, total_params

_FLOAT = 4  # bytes per float32 value
_SLOTS = {"adam": 2, "adamw": 2, "rmsprop": 1, "sgd": 0}


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (None if unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def gpu_present() -> bool:
    """An NVIDIA device node exists (then batches live in GPU memory, not in this RAM)."""
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KB"``; ``3.2e12`` -> ``"3.2 TB"`` (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"  # pragma: no cover


@dataclass(frozen=True)
class MemoryEstimate:
    """A floor of what a run holds in memory at once, in bytes."""

    images: int
    params: int
    weights: int
    activations: int

    @property
    def total(self) -> int:
        return self.images + self.weights + self.activations


def estimate_memory(config: Any, rows: list[ShapeRow], input_shape, images: int = 0) -> MemoryEstimate:
    """The estimate for ``config`` with the planned ``rows`` on ``input_shape`` (H, W, C)
    and ``images`` images held in memory (0 when they are already loaded or streamed)."""
    params = total_params(rows)
    slots = _SLOTS.get(config.train.optimizer, 2) + (1 if getattr(config.train, "momentum", 0) else 0)
    weights = params * _FLOAT * (3 + slots)  # weights, gradients, slots, checkpoint snapshot
    per_image = math.prod(int(d) for d in input_shape) + sum(math.prod(r.output_shape) for r in rows)
    activations = 2 * _FLOAT * int(config.train.batch_size) * per_image
    if gpu_present():
        activations = 0  # in GPU memory, which this check does not see (TF reports its own OOM)
    data = int(images) * math.prod(int(d) for d in input_shape)
    if str(config.data.dataset).strip().startswith("folder:"):
        from cnn_tui.core.data.folder import LAZY_BYTES  # larger image folders are decoded on demand

        data = min(data, LAZY_BYTES)
    return MemoryEstimate(images=data, params=params, weights=weights, activations=activations)


def check_memory(config: Any, input_shape, num_classes: int, *, images: int = 0, rows: list[ShapeRow] | None = None,
                 available: int | None = None) -> list[ShapeRow]:  # fmt: skip
    """Plan the model (see :func:`plan_shapes`) and refuse, with one ConfigError line, a run
    whose estimate exceeds ``available`` bytes (default: :func:`available_memory`).

    Returns the planned rows.
    """
    from cnn_tui.core.data.split import check_image_size

    check_image_size(getattr(config.data, "image_size", None))
    if rows is None:
        rows = plan_shapes(config.model, input_shape, num_classes)
    limit = available_memory() if available is None else available
    if not limit:
        return rows
    est = estimate_memory(config, rows, input_shape, images)
    if est.total <= limit:
        return rows
    h, w = int(input_shape[0]), int(input_shape[1])
    parts = [f"{what} {fmt_bytes(size)}" for what, size in (
        ("images", est.images), (f"weights and optimizer state of {est.params:,} parameters", est.weights),
        (f"one batch of activations at train.batch_size = {config.train.batch_size}", est.activations),
    ) if size]  # fmt: skip
    biggest = max((est.images, "data.image_size or data.train_limit"), (est.weights, "the model (model.architecture "
                  "or model.blocks) or data.image_size"), (est.activations, "train.batch_size or data.image_size"))
    raise ConfigError(
        f"not enough memory for this run: it needs at least {fmt_bytes(est.total)} ({'; '.join(parts)}) on "
        f"{h}x{w} images, and {fmt_bytes(limit)} is available; lower {biggest[1]}"
    )
