"""Benchmark 2 -- input pipeline with augmentation.

Images per second delivered to the model, Fashion-MNIST 28x28, batch 128, with
flip + shift 0.1 + rotation 15 deg + zoom 0.1:

* cnn-tui    -- the product's training input: ``make_tf_dataset`` (uint8 tf.data
                pipeline, shuffle/batch/repeat/prefetch) feeding the model's own
                preprocessing head as ``build_model`` makes it (augmentation layers +
                rescale, the layers in front of the first conv), called with
                ``training=True`` inside a ``tf.function`` -- exactly the part of the
                train step that produces the augmented batch;
* idg        -- Keras' legacy ``ImageDataGenerator`` (keras.src.legacy.preprocessing.image)
                with the same transforms and ``rescale=1/255``, ``.flow(x, y, 128)``;
* no_aug     -- the same cnn-tui path with every augmentation toggle off (rescale only).

Each measurement draws batches for a fixed wall time after a warm-up; the three are
interleaved, and each round gives the ratios cnn-tui/idg and cnn-tui/no_aug.
Target: cnn-tui >= 3 x ImageDataGenerator.
"""

from __future__ import annotations

import time

import _common as C

TARGET = 3.0
AUG = ["data.augment.hflip=true", "data.augment.shift=0.1", "data.augment.rotation=15", "data.augment.zoom=0.1"]
BATCH = 128


def product_source(x, y, cfg):
    """A callable drawing one augmented batch through the product's input path."""
    import tensorflow as tf
    import keras

    from cnn_tui.core.data import make_tf_dataset
    from cnn_tui.core.models import build_model

    import inspect

    model = build_model(cfg.model, cfg.data, x.shape[1:], 10, seed=cfg.train.seed)
    first_conv = next(i for i, layer in enumerate(model.layers) if isinstance(layer, keras.layers.Conv2D))
    head = keras.Model(model.input, model.layers[first_conv - 1].output)
    names = [layer.name for layer in head.layers[1:]]
    kwargs = {}
    if "augment" in inspect.signature(make_tf_dataset).parameters:
        # Should the product move augmentation into the tf.data pipeline, measure it there.
        kwargs["augment"] = cfg.data.augment
    it = iter(make_tf_dataset(x, y, BATCH, shuffle=True, seed=0, repeat=True, **kwargs))

    @tf.function
    def step(images):
        return head(images, training=True)

    def draw() -> int:
        images, _ = next(it)
        out = step(images)
        return int(out.shape[0])

    return draw, names + ["make_tf_dataset(augment=...)"] * bool(kwargs)


def idg_source(x, y):
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    gen = ImageDataGenerator(
        horizontal_flip=True, width_shift_range=0.1, height_shift_range=0.1, rotation_range=15, zoom_range=0.1,
        rescale=1.0 / 255,
    )
    flow = gen.flow(x, y, batch_size=BATCH, shuffle=True, seed=0)

    def draw() -> int:
        images, _ = next(flow)
        return int(images.shape[0])

    return draw


def rate(draw, seconds: float) -> float:
    """Images per second drawing batches for about ``seconds`` (at least 5 batches)."""
    n, batches = 0, 0
    start = time.perf_counter()
    while True:
        n += draw()
        batches += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and batches >= 5:
            return n / elapsed


def main() -> int:
    C.quiet_tf_env()
    p = C.parser(__doc__.splitlines()[1])
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5 quick, 9 full)")
    args = p.parse_args()
    started = time.perf_counter()
    C.require_fashion()
    rounds, seconds = (5, 1.0) if args.quick else (9, 2.5)
    rounds = args.rounds or rounds

    from cnn_tui.core.data import load_dataset
    from cnn_tui.core.tfimport import import_tf

    import_tf()
    aug_cfg = C.config("digits-quick", ["data.dataset=fashion_mnist", "data.train_limit=20000", *AUG])
    plain_cfg = C.config("digits-quick", ["data.dataset=fashion_mnist", "data.train_limit=20000"])
    ds = load_dataset(aug_cfg.data)
    x, y = ds.x_train, ds.y_train
    sources = {}
    sources["cnn_tui"], aug_layers = product_source(x, y, aug_cfg)
    sources["idg"] = idg_source(x, y)
    sources["no_aug"], plain_layers = product_source(x, y, plain_cfg)
    for draw in sources.values():  # warm-up: tracing, first fill of the shuffle buffer
        rate(draw, 0.3)

    rates: dict[str, list[float]] = {k: [] for k in sources}
    over_idg, over_plain = [], []
    for r in range(rounds):
        order = list(sources)
        order = order[r % 3 :] + order[: r % 3]
        got = {k: rate(sources[k], seconds) for k in order}
        for k, v in got.items():
            rates[k].append(v)
        over_idg.append(got["cnn_tui"] / got["idg"])
        over_plain.append(got["cnn_tui"] / got["no_aug"])
        print(f"  round {r + 1}/{rounds}  " + "  ".join(f"{k} {v:8.0f} img/s" for k, v in got.items()), flush=True)

    figures = [
        C.figure("aug_over_idg", "cnn-tui augmented input / ImageDataGenerator", over_idg, target=f">= {TARGET:g} x",
                 met=C.median(over_idg) >= TARGET),
        C.figure("aug_over_no_aug", "cnn-tui augmented / not augmented input", over_plain,
                 note="informational: the cost of the augmentation layers"),
    ]
    for k, label in (("cnn_tui", "cnn-tui augmented img/s"), ("idg", "ImageDataGenerator img/s"),
                     ("no_aug", "cnn-tui not augmented img/s")):
        figures.append(C.figure(f"{k}_img_s", label, rates[k], unit="img/s", digits=0))
    return C.finish("input", figures, args, started, batch_size=BATCH, images=len(y), rounds=rounds,
                    seconds_per_measurement=seconds, transforms="hflip, shift 0.1, rotation 15 deg, zoom 0.1",
                    product_head_layers=aug_layers, product_plain_layers=plain_layers)


if __name__ == "__main__":
    raise SystemExit(main())
