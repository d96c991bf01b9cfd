"""Block list + toggles -> keras.Model.

The model takes raw images (uint8 or float in 0..255; Keras converts them to float32 at
the input) and carries its own preprocessing, so a saved model needs no other code:

    Input -> augmentation (training only) -> normalization -> blocks -> logits -> probs

Preprocessing layers and the final softmax run in float32 even under a global
mixed-precision policy. Layers are named keras-applications style (``block1_conv1``,
``block1_bn1``, ``block1_act1``, ``block1_pool``, ``fc1``, ``fc1_bn``, ``fc1_act``,
``dropout1``, ``bn1`` for explicit ``bn`` blocks, ``logits``, ``probs``); the block
number goes up after each pool. Every initializer, dropout and augmentation layer gets
its own seed derived from ``seed``, so a build is reproducible.

Augmentation layers are named ``augment_*``; some are cnn-tui's own classes, which plain
Keras cannot load. :func:`inference_model` gives the same model without them (what
``model.keras`` holds), since they are the identity at inference anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnn_tui.core.errors import ModelError
from cnn_tui.core.models.architectures import blocks_source, resolve_blocks
from cnn_tui.core.models.blocks import BatchNorm, Conv, Dense, Dropout, Flatten, GlobalPool, Pool, parse_blocks
from cnn_tui.core.models.layers import custom_layers
from cnn_tui.core.models.shapes import format_shape, plan_blocks


class _Seeds:
    """Distinct, well-mixed per-layer seeds from one run seed."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        state = np.random.SeedSequence([abs(self.seed), self.n, 0 if self.seed >= 0 else 1]).generate_state(1)
        return int(state[0] & 0x7FFFFFFF)


def _initializer(keras, name: str, seed: int):
    if name == "he_normal":
        return keras.initializers.HeNormal(seed=seed)
    if name == "truncated_normal_001":
        return keras.initializers.TruncatedNormal(mean=0.0, stddev=0.01, seed=seed)
    if name == "glorot_uniform":
        return keras.initializers.GlorotUniform(seed=seed)
    raise ModelError(f"model.initializer = {name!r}: unknown (allowed: glorot_uniform, he_normal, truncated_normal_001)")


AUGMENT_PREFIX = "augment_"


def _augmentation(keras, x, aug, input_shape, seeds: _Seeds):
    """Keras preprocessing layers (active only with training=True), in float32."""
    L = keras.layers
    kw: dict[str, Any] = {"dtype": "float32"}
    if aug.hflip or aug.vflip:
        mode = "horizontal_and_vertical" if aug.hflip and aug.vflip else ("horizontal" if aug.hflip else "vertical")
        x = L.RandomFlip(mode, seed=seeds(), name=f"{AUGMENT_PREFIX}flip", **kw)(x)
    if aug.rot90:
        if input_shape[0] != input_shape[1]:
            raise ModelError(
                f"data.augment.rot90 = true needs square images, got {input_shape[0]}x{input_shape[1]} "
                "(set data.image_size to a square size or turn rot90 off)"
            )
        x = custom_layers()["RandomRot90"](seed=seeds(), name=f"{AUGMENT_PREFIX}rot90", **kw)(x)
    if aug.rotation or aug.shift or aug.zoom:
        # one resampling for the three (each Keras layer would resample the batch again)
        x = custom_layers()["RandomAffine"](
            aug.rotation, aug.shift, aug.zoom, seed=seeds(), name=f"{AUGMENT_PREFIX}affine", **kw
        )(x)
    if aug.shear:
        x = custom_layers()["RandomShear"](aug.shear, aug.shear, seed=seeds(), name=f"{AUGMENT_PREFIX}shear", **kw)(x)
    if aug.brightness:
        x = L.RandomBrightness(
            aug.brightness, value_range=(0, 255), seed=seeds(), name=f"{AUGMENT_PREFIX}brightness", **kw
        )(x)
    if aug.contrast:
        x = L.RandomContrast(
            aug.contrast, value_range=(0, 255), seed=seeds(), name=f"{AUGMENT_PREFIX}contrast", **kw
        )(x)
    return x


def _normalization(keras, x, mode: str, stats, channels: int):
    L = keras.layers
    if mode == "none":
        return x
    if mode == "rescale":
        return L.Rescaling(1.0 / 255.0, name="rescale", dtype="float32")(x)
    if mode not in ("zero_center", "standardize"):
        raise ModelError(f"data.normalization = {mode!r}: unknown (allowed: none, rescale, zero_center, standardize)")
    if stats is None:
        raise ModelError(f"data.normalization = {mode!r} needs channel statistics of the training split (got none)")
    mean = [float(m) for m in stats.mean]
    if len(mean) != channels:
        raise ModelError(
            f"data.normalization = {mode!r}: statistics have {len(mean)} channels, the images have {channels}"
        )
    if mode == "zero_center":
        scale = float(stats.max_abs) or 1.0
        variance = [scale * scale] * channels
    else:
        if len(stats.std) != channels:
            raise ModelError(f"data.normalization = 'standardize': std has {len(stats.std)} channels, need {channels}")
        variance = [float(s) ** 2 if float(s) > 0 else 1.0 for s in stats.std]
    return L.Normalization(mean=mean, variance=variance, name="normalize", dtype="float32")(x)


def placeholder_stats(channels: int):
    """Stand-in channel statistics (mid-gray mean) for building a model only to summarize it,
    when the training split has not been loaded; never use them for training."""
    from cnn_tui.core.data.types import ChannelStats  # noqa: PLC0415 - plain dataclass, no TF

    return ChannelStats(mean=[127.5] * channels, std=[64.0] * channels, max_abs=127.5)


def build_model(model_cfg, data_cfg, input_shape, num_classes: int, stats=None, *, seed: int = 42):
    """Build the Keras model for ``model_cfg`` on images of ``input_shape`` (H, W, C).

    ``data_cfg`` supplies the normalization mode and the augmentation toggles; ``stats``
    (a ChannelStats with mean/std/max_abs per channel in 0..255 units) is required for
    zero_center and standardize. Raises :class:`ModelError` (never a Keras error) when the
    architecture does not fit the input or the blocks do not parse.
    """
    where = blocks_source(model_cfg)
    texts = resolve_blocks(model_cfg)
    blocks = parse_blocks(texts, where)
    plan_blocks(blocks, model_cfg, input_shape, num_classes, where, texts)
    input_shape = tuple(int(d) for d in input_shape)
    # Fail on bad normalization input before importing TF.
    if data_cfg.normalization in ("zero_center", "standardize") and stats is None:
        raise ModelError(
            f"data.normalization = {data_cfg.normalization!r} needs channel statistics of the training split (got none)"
        )

    custom_layers()  # imports TF quietly, registers custom layers
    import keras  # noqa: PLC0415

    L = keras.layers
    seeds = _Seeds(seed)
    act_name = model_cfg.activation
    bn_auto = bool(model_cfg.batch_norm)
    pre = bn_auto and model_cfg.bn_order == "pre"
    reg = keras.regularizers.L2(model_cfg.l2) if model_cfg.l2 else None
    bias_init = float(model_cfg.bias_init)
    bn_momentum = float(model_cfg.bn_momentum)

    def dense_kwargs() -> dict[str, Any]:
        return {
            "kernel_initializer": _initializer(keras, model_cfg.initializer, seeds()),
            "bias_initializer": keras.initializers.Constant(bias_init),
            "kernel_regularizer": reg,
        }

    inputs = keras.Input(shape=input_shape, name="image")
    x = _augmentation(keras, inputs, data_cfg.augment, input_shape, seeds)
    x = _normalization(keras, x, data_cfg.normalization, stats, input_shape[2])

    def activate_and_norm(x, act: str, act_layer: str, bn_layer: str):
        if bn_auto and pre:
            x = L.BatchNormalization(momentum=bn_momentum, name=bn_layer)(x)
        x = L.Activation(act, name=act_layer)(x)
        if bn_auto and not pre:
            x = L.BatchNormalization(momentum=bn_momentum, name=bn_layer)(x)
        return x

    used: set[str] = set()

    def unique(base: str) -> str:
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}{n}"
        used.add(name)
        return name

    block_no, conv_no, fc_no, drop_no, bn_no = 1, 0, 0, 0, 0
    for block in blocks:
        if isinstance(block, Conv):
            conv_no += 1
            tag = f"block{block_no}"
            x = L.Conv2D(
                block.filters, block.kernel, strides=block.stride, padding=block.padding, use_bias=not pre,
                name=f"{tag}_conv{conv_no}", **dense_kwargs(),
            )(x)
            x = activate_and_norm(x, act_name, f"{tag}_act{conv_no}", f"{tag}_bn{conv_no}")
        elif isinstance(block, Pool):
            cls = L.MaxPooling2D if block.mode == "max" else L.AveragePooling2D
            x = cls(block.size, strides=block.stride, padding="same", name=f"block{block_no}_pool")(x)
            block_no, conv_no = block_no + 1, 0
        elif isinstance(block, GlobalPool):
            x = L.GlobalAveragePooling2D(name=unique("gap"))(x)
        elif isinstance(block, Flatten):
            x = L.Flatten(name=unique("flatten"))(x)
        elif isinstance(block, Dense):
            fc_no += 1
            x = L.Dense(block.units, use_bias=not pre, name=f"fc{fc_no}", **dense_kwargs())(x)
            x = activate_and_norm(x, block.activation or act_name, f"fc{fc_no}_act", f"fc{fc_no}_bn")
        elif isinstance(block, Dropout):
            rate = model_cfg.dropout if block.rate is None else block.rate
            if rate > 0:
                drop_no += 1
                x = L.Dropout(rate, seed=seeds(), name=f"dropout{drop_no}")(x)
        elif isinstance(block, BatchNorm):
            bn_no += 1
            x = L.BatchNormalization(momentum=bn_momentum, name=f"bn{bn_no}")(x)

    x = L.Dense(num_classes, name="logits", **dense_kwargs())(x)
    outputs = L.Activation("softmax", dtype="float32", name="probs")(x)
    name = model_cfg.architecture if model_cfg.blocks is None else "custom"
    return keras.Model(inputs, outputs, name=f"cnn_{name}_{format_shape(input_shape)}")


def inference_model(model):
    """``model`` without its augmentation (``augment_*``) layers, on a fresh input.

    The other layers are the same objects, so the two models share every weight; the result
    is uncompiled and holds only Keras' own layer classes, so ``keras.saving.load_model``
    opens it without cnn-tui. It computes what ``model`` computes at inference.
    """
    import keras  # noqa: PLC0415

    def call(layer, *args, **kwargs):
        if layer.name.startswith(AUGMENT_PREFIX):
            return args[0]  # identity outside training
        return layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
