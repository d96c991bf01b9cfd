"""Precise batch norm: re-estimate BN moving statistics with the trained weights.

A batch-norm layer normalises with the statistics of the batch while training and with
``moving_mean`` / ``moving_variance`` (an exponential average over training steps, momentum
0.99 by default) at inference. After a few hundred steps that average still remembers the
first, very different weights: assignment-3layer on 5,000 Fashion-MNIST images, 2 epochs,
x/255 input scored 0.528 on the test set with its moving statistics and 0.664 with
statistics re-estimated on 2,048 training images, same weights. So before evaluation the
engine runs the trained model once over a bounded sample of training batches and replaces
each BN layer's moving statistics with the average of its per-batch mean and variance --
"precise BN" (Wu & Johnson 2021; pycls, detectron2's ``PreciseBN`` hook).

As in those references, BN layers run as in training, with the final weights: each one
normalises with the statistics of the batch it sees, so a later layer sees what it saw in
training. Augmentation is off and Dropout is in inference mode, as at test time (the
references leave dropout on): a BN layer after a dropout layer then gets the variance of
its test-time input, not the larger one dropout gives in training (the "variance shift" of
Li et al. 2019). Each BN layer is run through its own ``call`` with its moving statistics
set to the batch's, which normalises exactly as training mode does, without the layer's
momentum update, under any tf.distribute strategy or mixed-precision policy.

The walk needs the model to be a chain (each layer feeding the next), which is what
:func:`cnn_tui.core.models.build_model` builds; anything else is left alone and says why.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np


@dataclass(frozen=True)
class PreciseBNResult:
    """What a pass did; :meth:`record` is what metrics.json stores under ``precise_bn``."""

    images: int = 0
    batches: int = 0
    layers: int = 0
    seconds: float = 0.0
    skipped: str | None = None
    """Why the statistics were left as trained (no BN layer, not a chain, no images...)."""

    def record(self) -> dict[str, Any]:
        if self.skipped:
            return {"done": False, "skipped": self.skipped}
        return {
            "done": True,
            "images": self.images,
            "batches": self.batches,
            "layers": self.layers,
            "seconds": round(self.seconds, 3),
        }


def _is_bn(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.layers.BatchNormalization)


def chain_layers(model: Any) -> list[Any] | None:
    """The model's layers from input to output when each one feeds the next (None otherwise)."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(model.inputs) != 1 or len(model.outputs) != 1 or not layers:
        return None
    previous = model.inputs[0]
    for layer in layers:
        try:
            if layer.input is not previous:
                return None
            previous = layer.output
        except (AttributeError, ValueError):  # a layer used more than once, or never
            return None
    return layers if previous is model.outputs[0] else None


def estimatable_bn_layers(model: Any) -> list[Any]:
    """The BN layers whose moving statistics a pass re-estimates: trainable ones (a frozen
    BN layer normalises with its moving statistics even in training), not renorm."""
    return [layer for layer in model.layers if _is_bn(layer) and layer.trainable and not layer.renorm]


def recompute_bn_statistics(model: Any, batches: Iterable[Any]) -> PreciseBNResult:
    """Set each BN layer's moving mean/variance to the average over ``batches`` of the
    statistics of the batch it sees in a training-mode pass (weighted by batch size, so
    equal weights for full batches), with augmentation and Dropout off.

    ``batches`` yields image batches (or (images, labels) pairs) as the model takes them.
    Nothing but the BN moving statistics changes; on an error they are put back and the
    error is raised.
    """
    started = time.perf_counter()
    chain = chain_layers(model)
    if chain is None:
        return PreciseBNResult(skipped="the model is not a chain of layers")
    targets = [layer for layer in estimatable_bn_layers(model) if layer in chain]
    if not targets:
        return PreciseBNResult(skipped="the model has no batch-norm layer")
    saved = [(np.array(layer.moving_mean), np.array(layer.moving_variance)) for layer in targets]
    sums = [(np.zeros_like(m, dtype=np.float64), np.zeros_like(v, dtype=np.float64)) for m, v in saved]
    forward = _forward_fn(model, chain, targets)
    images = n_batches = 0
    try:
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            size = int(x.shape[0])
            if size == 0:
                continue
            for (mean_sum, var_sum), (mean, variance) in zip(sums, forward(x)):
                mean_sum += size * np.asarray(mean, dtype=np.float64)
                var_sum += size * np.asarray(variance, dtype=np.float64)
            images += size
            n_batches += 1
    except BaseException:
        _assign(targets, saved)
        raise
    if not images:
        _assign(targets, saved)
        return PreciseBNResult(skipped="no training images to estimate from")
    _assign(targets, [(m / images, v / images) for m, v in sums])
    return PreciseBNResult(
        images=images, batches=n_batches, layers=len(targets), seconds=time.perf_counter() - started
    )


def _forward_fn(model: Any, chain: list[Any], targets: list[Any]) -> Callable[[Any], list[tuple[Any, Any]]]:
    """A compiled training-mode pass over one batch that returns each target BN layer's
    batch (mean, variance), with Dropout and augmentation in inference mode."""
    from keras import ops

    from cnn_tui.core.tfimport import import_tf

    tf = import_tf()
    index = {id(layer): i for i, layer in enumerate(targets)}
    input_dtype = model.inputs[0].dtype

    @tf.function(reduce_retracing=True)
    def forward(x):
        x = ops.cast(x, input_dtype)
        moments: list[tuple[Any, Any]] = [None] * len(targets)  # type: ignore[list-item]
        for layer in chain:
            i = index.get(id(layer))
            if i is None:
                x = layer(x, training=False)
                continue
            ndim = len(x.shape)
            axes = [a for a in range(ndim) if a != layer.axis % ndim]
            # As BN computes them in training mode: in float32 (it upcasts float16), biased variance.
            mean, variance = ops.moments(ops.cast(x, "float32"), axes=axes)
            moments[i] = (mean, variance)
            # With the moving statistics set to the batch's, inference mode normalises exactly
            # as training mode does, minus the momentum update.
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
            x = layer(x, training=False)
        return moments

    return forward


def _assign(layers: list[Any], stats: list[tuple[np.ndarray, np.ndarray]]) -> None:
    for layer, (mean, variance) in zip(layers, stats):
        layer.moving_mean.assign(np.asarray(mean, dtype=np.float32))
        layer.moving_variance.assign(np.asarray(variance, dtype=np.float32))


def precise_bn(model: Any, x_train: Any, y_train: Any, *, images: int, batch_size: int, seed: int) -> PreciseBNResult:
    """Re-estimate ``model``'s BN statistics on ``images`` shuffled training images (rounded
    up to whole batches of ``batch_size``, at most the whole split), read through the
    training pipeline (:func:`~cnn_tui.core.data.make_tf_dataset`: in-memory arrays or a
    lazily decoded image folder alike)."""
    from cnn_tui.core.data import make_tf_dataset

    if not estimatable_bn_layers(model):
        return PreciseBNResult(skipped="the model has no batch-norm layer")
    n = min(int(images), len(y_train))
    if n < 1:
        return PreciseBNResult(skipped="no training images to estimate from")
    batches = math.ceil(n / batch_size)
    data = make_tf_dataset(x_train, y_train, batch_size, shuffle=True, seed=seed, repeat=False).take(batches)
    return recompute_bn_statistics(model, data)


def precise_bn_for_run(train_cfg: Any, dataset: Any, model: Any, strategy: Any, emit: Callable[[Any], None]) -> dict:
    """The engine's step before evaluation: re-estimate when ``train.precise_bn`` is on, say
    what was done, and return the ``precise_bn`` record of metrics.json. A failure leaves
    the trained statistics in place and is reported as a warning, not a failed run."""
    from cnn_tui.core.engine.events import Log

    if not train_cfg.precise_bn:
        return PreciseBNResult(skipped="train.precise_bn = false").record()
    try:
        with strategy.scope():
            result = precise_bn(
                model, dataset.x_train, dataset.y_train,
                images=train_cfg.precise_bn_images, batch_size=train_cfg.batch_size, seed=train_cfg.seed,
            )
    except Exception as exc:  # noqa: BLE001 - evaluating with the trained statistics beats no result
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        emit(Log("warning", f"precise BN failed, evaluating with the trained statistics ({reason})"))
        return PreciseBNResult(skipped=f"failed: {reason}").record()
    if not result.skipped:
        emit(Log("info", f"precise BN: re-estimated {result.layers} batch-norm layer(s) on {result.images} "
                         f"training images in {result.seconds:.1f} s"))
    return result.record()
