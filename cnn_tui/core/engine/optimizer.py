"""The optimizer and the compile step of a cnn-tui model (training and the saved inference model)."""

from __future__ import annotations

from typing import Any

from cnn_tui.core.config import ExperimentConfig


def make_optimizer(config: ExperimentConfig):
    """The Keras optimizer named by ``train.optimizer``."""
    import keras

    t = config.train
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=t.learning_rate, momentum=t.momentum)
    if t.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=t.learning_rate, momentum=t.momentum)
    if t.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=t.learning_rate)
    return keras.optimizers.Adam(learning_rate=t.learning_rate)


def compile_model(model: Any, config: ExperimentConfig, optimizer: Any = None) -> None:
    """Compile ``model`` for training as cnn-tui does: ``train.optimizer`` (or ``optimizer``),
    sparse categorical cross-entropy on the softmax output, accuracy."""
    import keras

    model.compile(
        optimizer=optimizer if optimizer is not None else make_optimizer(config),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
        jit_compile=config.train.jit_compile,
    )
