"""The few custom Keras layers cnn-tui needs, registered for safe loading.

Keras is imported lazily, so the classes are created (and registered under the
``cnn_tui`` package) the first time :func:`custom_layers` runs. They are augmentation
layers, so only the training model (``checkpoint.keras``) holds them; ``model.keras`` is
saved without them and loads in plain Keras. Anything in cnn-tui that loads a checkpoint
goes through :func:`load_model`, which registers them first.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any

_lock = threading.Lock()
_classes: dict[str, type] | None = None


def custom_layers() -> dict[str, type]:
    """Create and register the custom layer classes once; return them by name."""
    global _classes
    if _classes is not None:
        return _classes
    with _lock:
        if _classes is not None:
            return _classes
        from cnn_tui.core.tfimport import import_tf  # noqa: PLC0415

        import_tf()
        import keras  # noqa: PLC0415

        class _SeededAugmentation(keras.layers.Layer):
            """A per-image random transform applied in training only (identity otherwise).

            Args:
                seed: seed of the per-image draws.
            """

            def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.seed = seed
                self.seed_generator = keras.random.SeedGenerator(seed)
                self.supports_masking = True

            def call(self, inputs, training=None):
                return self.augment(inputs) if training else inputs

            def augment(self, inputs):
                raise NotImplementedError

            def compute_output_shape(self, input_shape):
                return input_shape

            def get_config(self) -> dict[str, Any]:
                return {**super().get_config(), "seed": self.seed}

        @keras.saving.register_keras_serializable(package="cnn_tui")
        class RandomRot90(_SeededAugmentation):
            """Rotate each image by a random multiple of 90 degrees, in training only.

            Args:
                seed: seed of the per-image rotation choice.
            """

            def augment(self, inputs):
                ops = keras.ops
                k = keras.random.randint((ops.shape(inputs)[0], 1, 1, 1), 0, 4, seed=self.seed_generator)
                transposed = ops.transpose(inputs, (0, 2, 1, 3))
                rot90 = ops.flip(transposed, axis=1)
                rot180 = ops.flip(ops.flip(inputs, axis=1), axis=2)
                rot270 = ops.flip(transposed, axis=2)
                return ops.where(
                    k == 0, inputs, ops.where(k == 1, rot90, ops.where(k == 2, rot180, rot270))
                )

        @keras.saving.register_keras_serializable(package="cnn_tui")
        class RandomShear(keras.layers.RandomShear):
            """keras.layers.RandomShear whose config round-trips (Keras 3.15 saves the
            expanded (-f, f) range, which its own constructor then rejects)."""

            def __init__(self, x_factor: float = 0.0, y_factor: float = 0.0, **kwargs: Any) -> None:
                super().__init__(x_factor=x_factor, y_factor=y_factor, **kwargs)
                self._factor_args = (x_factor, y_factor)

            def get_config(self) -> dict[str, Any]:
                config = super().get_config()
                config["x_factor"], config["y_factor"] = self._factor_args
                return config

        @keras.saving.register_keras_serializable(package="cnn_tui")
        class RandomAffine(_SeededAugmentation):
            """Random rotation, shift and zoom as ONE affine resampling, in training only.

            Keras' RandomRotation, RandomTranslation and RandomZoom each resample the whole
            batch (bilinear, reflect fill); composing the three into one transform per
            image does one pass instead of three (what ImageDataGenerator does too), and
            blurs the image once. The ranges mean what they mean for those layers.

            Args:
                rotation: up to +/- this many degrees.
                shift: up to +/- this fraction of the height (vertically) and width.
                zoom: scale drawn from [1 - zoom, 1 + zoom], the same for both axes.
                seed: seed of the per-image draws.
            """

            def __init__(self, rotation: float = 0.0, shift: float = 0.0, zoom: float = 0.0,
                         seed: int | None = None, **kwargs: Any) -> None:
                super().__init__(seed=seed, **kwargs)
                self.rotation = float(rotation)
                self.shift = float(shift)
                self.zoom = float(zoom)

            def augment(self, inputs):
                ops = keras.ops
                images = ops.cast(inputs, self.compute_dtype)
                shape = ops.shape(images)
                n = shape[0]
                h = ops.cast(shape[1], "float32")
                w = ops.cast(shape[2], "float32")

                def draw(limit: float):
                    if not limit:
                        return ops.zeros((n,), dtype="float32")
                    return keras.random.uniform((n,), -limit, limit, seed=self.seed_generator)

                angle = draw(math.radians(self.rotation))
                scale = 1.0 + draw(self.zoom)
                tx = draw(self.shift) * w
                ty = draw(self.shift) * h
                cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
                # output pixel p -> input pixel A (p - c) + c - t, about the image centre c
                cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
                zeros = ops.zeros_like(angle)
                transform = ops.stack(
                    [cos, -sin, cx - cos * cx + sin * cy - tx,
                     sin, cos, cy - sin * cx - cos * cy - ty,
                     zeros, zeros],
                    axis=1,
                )  # fmt: skip
                out = ops.image.affine_transform(
                    images, transform, interpolation="bilinear", fill_mode="reflect", data_format="channels_last"
                )
                return ops.cast(out, self.compute_dtype)

            def get_config(self) -> dict[str, Any]:
                return {**super().get_config(), "rotation": self.rotation, "shift": self.shift, "zoom": self.zoom}

        _classes = {"RandomRot90": RandomRot90, "RandomShear": RandomShear, "RandomAffine": RandomAffine}
        return _classes


def load_model(path: str | os.PathLike, *, compile: bool = True):
    """Load a ``.keras`` file saved by cnn-tui (safe mode, custom layers registered)."""
    custom_layers()
    import keras  # noqa: PLC0415

    return keras.models.load_model(os.fspath(path), safe_mode=True, compile=compile)
