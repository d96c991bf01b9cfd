"""The bare-Keras baseline of ``bench_whole_run.py``: what a notebook user's script does.

Imports only TensorFlow/Keras and NumPy (never cnn_tui): reads Fashion-MNIST's idx files,
takes a seeded subset of the training images and carves a validation split, builds the
model from a Keras JSON (the same architecture cnn-tui trains, written by the bench once),
then ``fit`` (validation every epoch), ``evaluate`` and ``predict`` on the uint8 arrays, and
saves the model. Prints one ``BARE{json}`` line with its phases' timings, including the gap
between the last epoch's end and ``fit`` returning.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()


def _idx(path: Path):
    import numpy as np

    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--model-json", type=Path, required=True)
    p.add_argument("--train-limit", type=int, required=True)
    p.add_argument("--validation-split", type=float, default=0.1)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--learning-rate", type=float, required=True)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()

    import numpy as np
    import keras

    t_import = time.perf_counter()
    x = _idx(args.data / "train-images-idx3-ubyte.gz")[..., None]
    y = _idx(args.data / "train-labels-idx1-ubyte.gz").astype(np.int64)
    x_test = _idx(args.data / "t10k-images-idx3-ubyte.gz")[..., None]
    y_test = _idx(args.data / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    rng = np.random.default_rng(args.seed)
    idx = rng.permutation(len(y))[: args.train_limit]
    n_val = int(round(len(idx) * args.validation_split))
    val_idx, train_idx = idx[:n_val], idx[n_val:]
    x_train, y_train, x_val, y_val = x[train_idx], y[train_idx], x[val_idx], y[val_idx]
    t_data = time.perf_counter()

    keras.utils.set_random_seed(args.seed)
    model = keras.models.model_from_json(args.model_json.read_text())
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=args.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends: list[float] = []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

    clock = Clock()
    t_fit = time.perf_counter()
    model.fit(
        x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
        batch_size=args.batch_size, callbacks=[clock], verbose=0,
    )  # fmt: skip
    t_fit_end = time.perf_counter()
    loss, acc = model.evaluate(x_test, y_test, batch_size=args.batch_size, verbose=0)
    probs = model.predict(x_test, batch_size=args.batch_size, verbose=0)
    t_eval = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model.save(os.path.join(tmp, "model.keras"))
    t_end = time.perf_counter()
    print("BARE" + json.dumps({
        "import_s": t_import - T0,
        "data_s": t_data - t_import,
        "fit_s": t_fit_end - t_fit,
        "epoch_s": [b - a for a, b in zip([t_fit] + clock.ends, clock.ends)],
        "gap_s": t_fit_end - clock.ends[-1] if clock.ends else None,
        "eval_s": t_eval - t_fit_end,
        "save_s": t_end - t_eval,
        "test_accuracy": float(acc),
        "test_loss": float(loss),
        "predictions": int(probs.shape[0]),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
