"""What TensorFlow runs on, and the per-run device settings."""

from __future__ import annotations

import os
import threading

_configured = False
_lock = threading.Lock()


def configure_devices() -> None:
    """Turn on GPU memory growth (once per process, before any GPU is used)."""
    global _configured
    from cnn_tui.core.tfimport import import_tf

    tf = import_tf()
    with _lock:
        if _configured:
            return
        for gpu in tf.config.list_physical_devices("GPU"):
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except (RuntimeError, ValueError):
                # Already initialised (e.g. by an earlier run in this process): keep going.
                pass
        _configured = True


def describe_device() -> str:
    """"GPU: <name>" (with a count when several) or "CPU (<n> cores)"."""
    from cnn_tui.core.tfimport import import_tf

    tf = import_tf()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name") or gpus[0].name
        except (RuntimeError, ValueError, AttributeError):
            name = gpus[0].name
        return f"GPU: {name}" + (f" (x{len(gpus)})" if len(gpus) > 1 else "")
    return f"CPU ({os.cpu_count() or 1} cores)"


def strategy_for(distribute: str):
    """The tf.distribute strategy for ``train.distribute`` (default strategy for none)."""
    from cnn_tui.core.tfimport import import_tf

    tf = import_tf()
    if distribute == "mirrored":
        # All local GPUs; without any, every logical CPU device (one unless configured).
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()
