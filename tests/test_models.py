"""Model layer: block parser, shape planning, the Keras builder, summary, save/load."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cnn_tui.core.config import AugmentConfig, DataConfig, ModelConfig
from cnn_tui.core.data.types import ChannelStats
from cnn_tui.core.errors import ModelError
from cnn_tui.core.models import (
    ARCHITECTURES,
    build_model,
    load_model,
    parse_block,
    placeholder_stats,
    parse_blocks,
    plan_shapes,
    resolve_blocks,
    summarize,
    total_params,
)
from cnn_tui.core.models.blocks import BatchNorm, Conv, Dense, Dropout, Flatten, GlobalPool, Pool


@pytest.fixture(scope="module")
def keras():
    from cnn_tui.core.tfimport import import_tf

    import_tf()
    import keras as _keras

    return _keras


@pytest.fixture(autouse=True)
def _fresh_session(request):
    yield
    if "keras" in request.fixturenames:
        import keras as _keras

        _keras.backend.clear_session()


def custom(*blocks: str, **toggles) -> ModelConfig:
    return ModelConfig(architecture="custom", blocks=tuple(blocks), **toggles)


def layer_names(model) -> list[str]:
    return [layer.name for layer in model.layers]


# ---------------------------------------------------------------------------------------
# Block parser


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("conv 32 3", Conv(32, 3, 1, "same")),
        ("CONV  64 5 s2 valid", Conv(64, 5, 2, "valid")),
        ("conv 8 3 valid s2", Conv(8, 3, 2, "valid")),
        ("pool 2", Pool(2, 2, "max")),
        ("pool avg 3 s1", Pool(3, 1, "avg")),
        ("pool max 2", Pool(2, 2, "max")),
        ("gap", GlobalPool()),
        ("flatten", Flatten()),
        ("dense 64", Dense(64, None)),
        ("dense 60 sigmoid", Dense(60, "sigmoid")),
        ("dropout", Dropout(None)),
        ("dropout 0.001", Dropout(0.001)),
        ("bn", BatchNorm()),
    ],
)
def test_parse_block_accepts_the_grammar(text, expected):
    assert parse_block(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("conv 32", "conv needs FILTERS and KERNEL"),
        ("conv x 3", "conv needs FILTERS and KERNEL"),
        ("conv 32 3 s0", "stride"),
        ("conv 32 3 sideways", "unexpected 'sideways'"),
        ("pool", "pool needs SIZE"),
        ("pool max", "pool needs SIZE"),
        ("pool max 2 3", "unexpected '3'"),
        ("dense", "dense needs UNITS"),
        ("dense 10 softmaxx", "unknown activation 'softmaxx'"),
        ("dropout 1.5", "RATE must be at least 0 and below 1"),
        ("dropout lots", "RATE must be a number"),
        ("gap 2", "gap takes no arguments"),
        ("frobnicate 3", "unknown block type 'frobnicate'"),
    ],
)
def test_parse_errors_name_index_and_text(text, fragment):
    with pytest.raises(ModelError) as info:
        parse_blocks(["conv 8 3", text])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"model.blocks: block 2 {text!r}")
    assert fragment in message


def test_parse_rejects_empty_and_non_string_blocks():
    with pytest.raises(ModelError, match="block 1 is empty"):
        parse_blocks(["  "])
    with pytest.raises(ModelError, match="block 2 must be a string"):
        parse_blocks(["flatten", 3])


def test_resolve_blocks_unknown_and_custom():
    with pytest.raises(ModelError, match=r"unknown architecture \(did you mean vgg10\?"):
        resolve_blocks(ModelConfig(architecture="vgg11"))
    with pytest.raises(ModelError, match="'custom' needs model.blocks"):
        resolve_blocks(ModelConfig(architecture="custom"))
    assert resolve_blocks(custom("flatten")) == ("flatten",)
    assert resolve_blocks(ModelConfig(architecture="tiny")) == ARCHITECTURES["tiny"].blocks


# ---------------------------------------------------------------------------------------
# Shape planning (pure Python)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 1)])
def test_every_architecture_plans_for_cifar_and_mnist_shapes(name, shape):
    rows = plan_shapes(ModelConfig(architecture=name), shape, 10)
    assert rows[-1].output_shape == (10,)
    assert len(rows) == len(ARCHITECTURES[name].blocks) + 1
    assert total_params(rows) > 0


def test_seed_parameter_counts():
    # Figures the seeds report: weather model 1 = 14.8M at 256x256x3, project 2-2 = 15.6M,
    # the MNIST study ~1.04M (its BN placement differs slightly from model.batch_norm).
    assert total_params(plan_shapes(ModelConfig(architecture="weather1"), (256, 256, 3), 4)) == 14_803_780
    assert round(total_params(plan_shapes(ModelConfig(architecture="project_2_2"), (32, 32, 3), 10)), -5) == 15_600_000
    mnist = ModelConfig(architecture="mnist_study", batch_norm=True, bn_order="post")
    assert 1_000_000 < total_params(plan_shapes(mnist, (28, 28, 1), 10)) < 1_050_000
    assert plan_shapes(ModelConfig(architecture="assignment_3layer"), (32, 32, 3), 10)[-2].output_shape == (2048,)


def test_too_deep_architecture_names_block_and_input():
    with pytest.raises(ModelError) as info:
        plan_shapes(ModelConfig(architecture="vgg10"), (8, 8, 1), 10)
    assert str(info.value) == "architecture 'vgg10': block 12 'pool max 2' would shrink 1x1x512 below 1x1 (input 8x8x1)"


@pytest.mark.parametrize(
    ("blocks", "fragment"),
    [
        (("conv 8 5 valid", "conv 8 5 valid", "flatten"), "block 2 'conv 8 5 valid': kernel 5x5 does not fit 4x4x8"),
        (("conv 8 3 s2", "conv 8 3 s2", "conv 8 3 s2", "conv 8 3 s2", "flatten"),
         "block 4 'conv 8 3 s2' would shrink 1x1x8 below 1x1"),
        (("conv 8 3", "dense 10"), "block 2 'dense 10': dense needs flatten or gap before it"),
        (("flatten", "conv 8 3"), "block 2 'conv 8 3': needs a feature map"),
        (("gap", "pool 2"), "block 2 'pool 2': needs a feature map"),
        (("conv 8 3",), "the last block leaves a 8x8x8 feature map; end with 'flatten' or 'gap'"),
        ((), "leaves a 8x8x1 feature map"),
    ],
)
def test_plan_refusals(blocks, fragment):
    with pytest.raises(ModelError) as info:
        plan_shapes(custom(*blocks), (8, 8, 1), 10)
    assert fragment in str(info.value)
    assert str(info.value).startswith("model.blocks: ")
    assert "(input 8x8x1)" in str(info.value)


def test_plan_rows_shapes_and_notes():
    rows = plan_shapes(custom("conv 16 3 s2", "pool avg 3 s1", "dropout", "gap", "dense 32", "dropout 0.5"), (9, 7, 3), 5)
    assert [r.output_shape for r in rows] == [(5, 4, 16), (5, 4, 16), (5, 4, 16), (16,), (32,), (32,), (5,)]
    assert rows[2].note.startswith("off")
    assert rows[5].note == "rate 0.5"
    assert rows[0].shape_text == "5x4x16"
    assert rows[0].params == 3 * 3 * 3 * 16 + 16


def test_plan_and_builder_reject_bad_input_shape():
    with pytest.raises(ModelError, match="input shape"):
        plan_shapes(ModelConfig(), (8, 8), 10)
    with pytest.raises(ModelError, match="num_classes"):
        plan_shapes(ModelConfig(), (8, 8, 1), 1)


def test_planning_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from cnn_tui.core.models import plan_shapes, ARCHITECTURES\n"
        "from cnn_tui.core.presets import load_preset\n"
        "from cnn_tui.core.config import ModelConfig\n"
        "plan_shapes(load_preset('digits-quick').model, (8, 8, 1), 10)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(_repo_root()))


def _repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------
# Builder


def test_build_errors_are_model_errors(keras):
    with pytest.raises(ModelError, match="would shrink"):
        build_model(ModelConfig(architecture="vgg10"), DataConfig(), (8, 8, 1), 10, None, seed=0)
    with pytest.raises(ModelError, match="needs channel statistics"):
        build_model(ModelConfig(), DataConfig(normalization="standardize"), (8, 8, 1), 10, None, seed=0)
    stats = ChannelStats(mean=[1.0, 2.0, 3.0], std=[1.0, 1.0, 1.0], max_abs=100.0)
    with pytest.raises(ModelError, match="statistics have 3 channels, the images have 1"):
        build_model(ModelConfig(), DataConfig(normalization="zero_center"), (8, 8, 1), 10, stats, seed=0)
    with pytest.raises(ModelError, match="rot90 = true needs square images, got 8x12"):
        build_model(ModelConfig(), DataConfig(augment=AugmentConfig(rot90=True)), (8, 12, 1), 10, None, seed=0)


def test_layer_names_and_batch_norm_pre(keras):
    cfg = custom("conv 8 3", "conv 8 3", "pool max 2", "conv 16 3", "pool 2", "flatten", "dense 12", batch_norm=True)
    model = build_model(cfg, DataConfig(), (8, 8, 1), 3, None, seed=0)
    assert layer_names(model) == [
        "image", "rescale",
        "block1_conv1", "block1_bn1", "block1_act1", "block1_conv2", "block1_bn2", "block1_act2", "block1_pool",
        "block2_conv1", "block2_bn1", "block2_act1", "block2_pool",
        "flatten", "fc1", "fc1_bn", "fc1_act", "logits", "probs",
    ]
    assert not model.get_layer("block1_conv1").use_bias
    assert not model.get_layer("fc1").use_bias
    assert model.get_layer("logits").use_bias
    assert model.count_params() == total_params(plan_shapes(cfg, (8, 8, 1), 3))


def test_batch_norm_post_and_off(keras):
    post = build_model(custom("conv 8 3", "flatten", batch_norm=True, bn_order="post"), DataConfig(), (4, 4, 1), 2,
                       None, seed=0)
    assert layer_names(post)[2:5] == ["block1_conv1", "block1_act1", "block1_bn1"]
    assert post.get_layer("block1_conv1").use_bias
    off = build_model(custom("conv 8 3", "flatten"), DataConfig(), (4, 4, 1), 2, None, seed=0)
    assert not any("bn" in n for n in layer_names(off))
    explicit = build_model(custom("conv 8 3", "bn", "flatten", "bn"), DataConfig(), (4, 4, 1), 2, None, seed=0)
    assert layer_names(explicit)[2:7] == ["block1_conv1", "block1_act1", "bn1", "flatten", "bn2"]


def test_batch_norm_momentum_reaches_every_bn_layer(keras):
    def momenta(model):
        return {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}

    blocks = ("conv 8 3", "bn", "flatten", "dense 4")
    assert momenta(build_model(custom(*blocks, batch_norm=True), DataConfig(), (4, 4, 1), 2, None, seed=0)) == {0.9}
    slow = custom(*blocks, batch_norm=True, bn_momentum=0.99)
    assert momenta(build_model(slow, DataConfig(), (4, 4, 1), 2, None, seed=0)) == {0.99}


def test_dropout_toggle_and_fixed_rates(keras):
    blocks = ("conv 4 3", "dropout", "flatten", "dense 8", "dropout 0.001")
    off = build_model(custom(*blocks), DataConfig(), (4, 4, 1), 2, None, seed=0)
    drops = [layer for layer in off.layers if isinstance(layer, keras.layers.Dropout)]
    assert [(d.name, d.rate) for d in drops] == [("dropout1", 0.001)]
    on = build_model(custom(*blocks, dropout=0.3), DataConfig(), (4, 4, 1), 2, None, seed=0)
    drops = [layer for layer in on.layers if isinstance(layer, keras.layers.Dropout)]
    assert [(d.name, d.rate) for d in drops] == [("dropout1", 0.3), ("dropout2", 0.001)]


def test_dropout_goes_before_the_classifier_when_the_architecture_has_no_place(keras):
    cfg = ModelConfig(architecture="tiny", dropout=0.3)
    assert resolve_blocks(cfg)[-2:] == ("dense 64", "dropout")
    model = build_model(cfg, DataConfig(), (8, 8, 1), 10, None, seed=0)
    names = layer_names(model)
    assert names[-3:] == ["dropout1", "logits", "probs"]
    assert model.get_layer("dropout1").rate == 0.3
    assert resolve_blocks(ModelConfig(architecture="tiny")) == ARCHITECTURES["tiny"].blocks
    # Architectures with marked places keep them: nothing is added.
    assert resolve_blocks(ModelConfig(architecture="vgg10", dropout=0.3)) == ARCHITECTURES["vgg10"].blocks


def test_initializer_bias_l2_and_activation_toggles(keras):
    cfg = custom("conv 16 3", "flatten", "dense 32", "dense 6 sigmoid", activation="elu",
                 initializer="truncated_normal_001", bias_init=0.1, l2=0.0005)
    model = build_model(cfg, DataConfig(), (6, 6, 3), 4, None, seed=3)
    conv = model.get_layer("block1_conv1")
    kernel, bias = (w.numpy() for w in conv.weights)
    assert np.abs(kernel).max() <= 0.02 + 1e-6 and 0.005 < kernel.std() < 0.012
    assert np.allclose(bias, 0.1)
    for name in ("block1_conv1", "fc1", "fc2", "logits"):
        reg = model.get_layer(name).kernel_regularizer
        assert reg is not None and np.isclose(reg.l2, 0.0005)
    assert model.get_layer("block1_act1").activation.__name__ == "elu"
    assert model.get_layer("fc2_act").activation.__name__ == "sigmoid"
    assert len(model.losses) == 4
    assert model.get_layer("probs").dtype_policy.compute_dtype == "float32"


def test_build_is_deterministic_per_seed(keras):
    cfg = custom("conv 8 3", "flatten", "dense 8", initializer="he_normal")

    def weights(seed):
        model = build_model(cfg, DataConfig(), (5, 5, 1), 3, None, seed=seed)
        return [w.numpy() for w in model.weights]

    a, b, c = weights(1), weights(1), weights(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def _head(keras, model, layer):
    return keras.Model(model.input, model.get_layer(layer).output)


def test_normalization_modes(keras):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(64, 4, 4, 3)).astype("uint8")
    xf = x.astype("float64")
    mean = xf.mean(axis=(0, 1, 2))
    std = xf.std(axis=(0, 1, 2))
    stats = ChannelStats(mean=mean.tolist(), std=std.tolist(), max_abs=float(np.abs(xf - mean).max()))
    cfg = custom("flatten")

    def head_output(mode):
        model = build_model(cfg, DataConfig(normalization=mode), (4, 4, 3), 2, stats, seed=0)
        layer = {"none": "image", "rescale": "rescale"}.get(mode, "normalize")
        return np.asarray(_head(keras, model, layer)(x, training=False)), model

    out, _ = head_output("rescale")
    assert np.allclose(out, xf / 255.0, atol=1e-6)
    assert np.isclose(out.max(), x.max() / 255.0)
    out, model = head_output("none")
    assert np.allclose(out, xf) and "rescale" not in layer_names(model)
    out, _ = head_output("standardize")
    assert np.allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
    assert np.allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-3)
    summary_only = build_model(cfg, DataConfig(normalization="zero_center"), (4, 4, 3), 2, placeholder_stats(3), seed=0)
    assert "normalize" in layer_names(summary_only)
    out, _ = head_output("zero_center")
    assert np.isclose(np.abs(out).max(), 1.0, atol=1e-5)
    assert np.allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)


def test_uint8_input_gives_float32_probabilities(keras):
    model = build_model(ModelConfig(), DataConfig(), (8, 8, 1), 10, None, seed=0)
    x = np.full((2, 8, 8, 1), 255, dtype="uint8")
    probs = np.asarray(model(x, training=False))
    assert probs.dtype == np.float32 and probs.shape == (2, 10)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


ALL_AUGMENT = AugmentConfig(hflip=True, vflip=True, rot90=True, rotation=20, shift=0.2, zoom=0.2, shear=0.2,
                            brightness=0.25, contrast=0.3)


def test_augmentation_only_in_training(keras):
    model = build_model(custom("flatten"), DataConfig(augment=ALL_AUGMENT), (8, 8, 3), 2, None, seed=0)
    names = layer_names(model)
    for layer in ("augment_flip", "augment_rot90", "augment_affine", "augment_shear", "augment_brightness",
                  "augment_contrast"):
        assert layer in names
    assert names.index("augment_contrast") < names.index("rescale")
    x = np.random.default_rng(1).integers(0, 256, size=(8, 8, 8, 3)).astype("uint8")
    head = _head(keras, model, "rescale")
    a = np.asarray(head(x, training=False))
    assert np.allclose(a, x / 255.0, atol=1e-6)
    assert np.array_equal(a, np.asarray(head(x, training=False)))
    assert not np.allclose(np.asarray(head(x, training=True)), a)


def test_rot90_rotates_each_image_by_a_multiple_of_90(keras):
    model = build_model(custom("flatten"), DataConfig(augment=AugmentConfig(rot90=True), normalization="none"),
                        (5, 5, 2), 2, None, seed=7)
    x = np.random.default_rng(2).integers(0, 256, size=(32, 5, 5, 2)).astype("uint8")
    out = np.asarray(_head(keras, model, "augment_rot90")(x, training=True))
    seen = set()
    for img, rotated in zip(x.astype("float32"), out):
        k = [k for k in range(4) if np.array_equal(np.rot90(img, k, axes=(0, 1)), rotated)]
        assert len(k) == 1
        seen.add(k[0])
    assert seen == {0, 1, 2, 3}


def _affine_head(keras, **augment):
    model = build_model(custom("flatten"), DataConfig(augment=AugmentConfig(**augment), normalization="none"),
                        (9, 9, 1), 2, None, seed=3)
    return _head(keras, model, "augment_affine")


def test_affine_rotation_and_zoom_turn_about_the_centre(keras):
    x = np.random.default_rng(4).integers(0, 256, size=(16, 9, 9, 1)).astype("uint8")
    for augment in ({"rotation": 30}, {"zoom": 0.3}, {"rotation": 30, "zoom": 0.3}):
        out = np.asarray(_affine_head(keras, **augment)(x, training=True))
        assert np.allclose(out[:, 4, 4], x[:, 4, 4], atol=1e-3), augment  # the centre stays put
        changed = np.abs(out - x).reshape(16, -1).max(axis=1) > 1.0
        assert changed.sum() >= 14, augment  # and (nearly) every image moved
        assert np.allclose(np.asarray(_affine_head(keras, **augment)(x, training=False)), x)


def test_affine_shift_moves_each_image_by_at_most_the_fraction(keras):
    cols = np.broadcast_to(np.arange(9, dtype="float32") * 20, (9, 9))
    x = np.broadcast_to(cols[None, :, :, None], (32, 9, 9, 1)).astype("uint8")  # value = 20 x column
    out = np.asarray(_affine_head(keras, shift=0.2)(x, training=True))
    inner = out[:, :, 2:7, 0] - x[:, :, 2:7, 0].astype("float32")  # away from the reflected border
    per_image = inner.reshape(32, -1)
    assert np.allclose(per_image, per_image[:, :1], atol=0.05)  # one whole-image shift each
    dx = -per_image[:, 0] / 20.0
    assert np.all(np.abs(dx) <= 0.2 * 9 + 1e-3) and dx.min() < -0.3 and dx.max() > 0.3


def test_save_load_round_trip_safe_mode(keras, tmp_path):
    stats = ChannelStats(mean=[100.0, 110.0, 120.0], std=[50.0, 60.0, 70.0], max_abs=150.0)
    cfg = custom("conv 8 3", "pool 2", "conv 8 3 s2 valid", "gap", "dense 8", "dropout", batch_norm=True, dropout=0.2,
                 l2=1e-4)
    model = build_model(cfg, DataConfig(augment=ALL_AUGMENT, normalization="standardize"), (12, 12, 3), 4, stats,
                        seed=5)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    x = np.random.default_rng(3).integers(0, 256, size=(4, 12, 12, 3)).astype("uint8")
    assert np.allclose(np.asarray(model(x, training=False)), np.asarray(loaded(x, training=False)), atol=1e-6)
    assert layer_names(loaded) == layer_names(model)
    assert type(loaded.get_layer("augment_rot90")).__name__ == "RandomRot90"
    assert loaded.get_layer("augment_affine").get_config()["rotation"] == ALL_AUGMENT.rotation
    again = keras.models.load_model(path, safe_mode=True)  # registered by now
    assert again.count_params() == model.count_params()


def test_mixed_precision_keeps_preprocessing_and_probs_float32(keras):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(custom("conv 4 3", "flatten"), DataConfig(augment=AugmentConfig(hflip=True)), (4, 4, 1), 2,
                            None, seed=0)
        assert model.get_layer("block1_conv1").compute_dtype == "float16"
        assert model.get_layer("augment_flip").compute_dtype == "float32"
        assert model.get_layer("rescale").compute_dtype == "float32"
        assert model.get_layer("probs").compute_dtype == "float32"
        assert model(np.zeros((1, 4, 4, 1), "uint8")).dtype.name == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_summarize(keras):
    model = build_model(ModelConfig(batch_norm=True), DataConfig(), (8, 8, 1), 10, None, seed=0)
    summary = summarize(model)
    assert summary.total_params == model.count_params()
    assert summary.trainable_params < summary.total_params  # BN moving statistics
    assert summary.non_trainable_params == 2 * (32 + 64 + 64)
    rows = {r.name: r for r in summary.rows}
    assert rows["block1_conv1"].kind == "Conv2D" and rows["block1_conv1"].output_shape == "8x8x32"
    assert rows["block1_pool"].output_shape == "4x4x32"
    assert rows["probs"].output_shape == "10"
    assert rows["logits"].params == 64 * 10 + 10
    assert sum(r.params for r in summary.rows) == summary.total_params
