"""``model.keras`` opens in the user's own Python: ``keras.saving.load_model`` with only
Keras installed (cnn_tui never imported) loads the model of every built-in preset, and
predicts what cnn-tui's trained model predicts.

The models are built untrained on random images (no dataset needed), one per kind of
model (see ``_kind``), and saved through the engine's own :func:`save_inference_model`;
one isolated subprocess loads them all (~15 models, mostly 9M-parameter VGGs: ~30 s).
"""

from __future__ import annotations

import json

import numpy as np
from plain_keras import assert_all_load, check_in_plain_keras

from cnn_tui.core.config import apply_overrides
from cnn_tui.core.engine.plan import expand
from cnn_tui.core.presets import list_presets, load_preset

FOLDER_CLASSES = 4  # the weather presets' folder (cloudy, rain, shine, sunrise)
FOLDER_SIZE = 64  # their 256x256 builds the same layers, 16x slower to save and run


def _shape(data) -> tuple[tuple[int, int, int], int]:
    """Image shape and class count of a preset's dataset, without loading it."""
    if data.dataset.startswith("folder:"):
        channels = 1 if data.color_mode == "grayscale" else 3
        return (FOLDER_SIZE, FOLDER_SIZE, channels), FOLDER_CLASSES
    from cnn_tui.core.data import dataset_info

    info = dataset_info(data.dataset, data)
    return tuple(info.image_shape), info.num_classes


def _configs():
    """Each built-in preset's base config and the groups of its experiment plan (first seed)."""
    out = []
    for info in list_presets():
        if not info.builtin:
            continue
        base = load_preset(info.name)
        if base.data.dataset.startswith("folder:"):
            base = apply_overrides(base, {"data.image_size": [FOLDER_SIZE, FOLDER_SIZE]})
        out.append((info.name, base))
        if base.experiment:
            trials = expand(base.experiment, base)
            out += [(f"{info.name} [{t.group}]", t.config) for t in trials if t.seed == base.train.seed]
    return out


def _kind(config, model) -> str:
    """What decides how a model serializes: its architecture, layer classes, input handling
    (normalization, augmentation), regularizer and optimizer. Dropout rates, activations or
    initializer seeds are numbers in the same configs: one model per kind is enough."""
    layers = sorted({type(layer).__name__ for layer in model.layers})
    return json.dumps([config.model.architecture, config.model.blocks, layers, config.data.normalization,
                       config.data.augment.model_dump(mode="json"), bool(config.model.l2), config.train.optimizer,
                       config.train.mixed_precision])  # fmt: skip


def test_every_builtin_preset_model_loads_in_plain_keras(tmp_path):
    from cnn_tui.core.data.types import ChannelStats
    from cnn_tui.core.engine.optimizer import compile_model
    from cnn_tui.core.engine.saving import save_inference_model
    from cnn_tui.core.models import build_model

    configs = _configs()
    assert len({label.split(" [")[0] for label, _ in configs}) >= 20, [label for label, _ in configs]
    assert any(c.data.augment.rot90 for _, c in configs) and any(c.data.augment.shear for _, c in configs)
    rng = np.random.default_rng(0)
    cases, labels, kinds = [], {}, set()
    for i, (label, config) in enumerate(configs):
        shape, classes = _shape(config.data)
        channels = shape[2]
        stats = ChannelStats(mean=[120.0] * channels, std=[60.0] * channels, max_abs=135.0)
        model = build_model(config.model, config.data, shape, classes, stats, seed=config.train.seed)
        kind = _kind(config, model)
        if kind in kinds:
            continue
        kinds.add(kind)
        compile_model(model, config)
        x = rng.integers(0, 256, size=(4, *shape), dtype=np.uint8)
        probs = np.asarray(model.predict(x, verbose=0))
        path = tmp_path / f"m{i:02d}.keras"
        save_inference_model(model, path, config)
        cases.append((path, x, probs, 1e-5))
        labels[str(path)] = label
    result = check_in_plain_keras(cases, tmp_path / "plain")
    for row in result["report"]:
        row["model"] = labels[row["model"]]
    assert_all_load(result)


def test_trained_model_with_mixed_precision_and_mirrored_strategy_loads_in_plain_keras(tmp_path):
    """A real (tiny) augmented run under mixed precision and MirroredStrategy: the saved model
    loads in plain Keras, predicts what predictions.npz holds and evaluates (it is compiled)."""
    from cnn_tui.core.data import load_dataset
    from cnn_tui.core.engine import train
    from cnn_tui.core.results.store import RunStore

    config = apply_overrides(load_preset("digits-quick"), [
        "train.epochs=1", "data.train_limit=300", "data.test_limit=100", "data.augment.rot90=true",
        "data.augment.rotation=10", "data.augment.hflip=true", "train.mixed_precision=true",
        "train.distribute=mirrored",
    ])  # fmt: skip
    try:
        result = train(config, runs_dir=tmp_path / "runs")
    finally:
        import keras

        keras.mixed_precision.set_global_policy("float32")
    assert result.status == "completed", result.error
    preds = RunStore(tmp_path / "runs").get(result.run_id).predictions()
    x = load_dataset(config.data).x_test[preds["test_index"]]
    case = (result.run_dir / "model.keras", x, preds["probs"], 2e-3, preds["labels"])
    assert_all_load(check_in_plain_keras([case], tmp_path / "plain"))


def test_inference_model_drops_only_augmentation_and_shares_the_weights():
    from cnn_tui.core.models import build_model, inference_model

    config = apply_overrides(load_preset("digits-quick"), [
        "data.augment.rot90=true", "data.augment.rotation=10", "data.augment.shear=0.1", "data.augment.hflip=true",
        "data.augment.brightness=0.1", "data.augment.contrast=0.1",
    ])  # fmt: skip
    model = build_model(config.model, config.data, (8, 8, 1), 10, seed=1)
    inference = inference_model(model)
    names = [layer.name for layer in model.layers]
    assert [n for n in names if n.startswith("augment_")] == [
        "augment_flip", "augment_rot90", "augment_affine", "augment_shear", "augment_brightness", "augment_contrast"
    ]
    assert [layer.name for layer in inference.layers] == [n for n in names if not n.startswith("augment_")]
    shared = {id(v) for v in inference.weights}
    assert shared == {id(v) for v in model.weights if not v.path.startswith("augment_")}  # the same variables
    assert {id(v) for v in model.trainable_weights} <= shared
    x = np.random.default_rng(0).integers(0, 256, size=(5, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(np.asarray(inference(x)), np.asarray(model(x, training=False)))
