"""Import TensorFlow quietly and once.

TF 2.21 writes oneDNN/absl lines straight to file descriptor 2 while it imports;
``TF_CPP_MIN_LOG_LEVEL`` does not remove them, and on a terminal app they land on the
screen. So the first import runs with fd 2 pointed at /dev/null (restored after).
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType

_lock = threading.Lock()


def import_tf() -> ModuleType:
    """Return the ``tensorflow`` module, importing it with fd 2 silenced the first time."""
    if "tensorflow" in sys.modules and hasattr(sys.modules["tensorflow"], "data"):
        return sys.modules["tensorflow"]
    with _lock:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        saved = None
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError):
            pass
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            saved = os.dup(2)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            saved = None
        try:
            import tensorflow as tf  # noqa: PLC0415 - deliberately lazy
            import keras  # noqa: F401, PLC0415

            tf.get_logger().setLevel("ERROR")
            # The standard wheel probes CUDA on the first device query and, without a GPU,
            # logs "failed call to cuInit" to fd 2: make that first query here, silenced.
            tf.config.list_physical_devices("GPU")
        finally:
            if saved is not None:
                os.dup2(saved, 2)
                os.close(saved)
        return tf
