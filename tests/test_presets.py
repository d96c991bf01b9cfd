"""Presets: built-ins load and build for their seed's input shape; user presets save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnn_tui.core.config import ExperimentConfig, apply_overrides, save_config
from cnn_tui.core.data.types import ChannelStats
from cnn_tui.core.errors import ConfigError, PresetError
from cnn_tui.core.models import build_model, plan_shapes, total_params
from cnn_tui.core.presets import (
    DEFAULT_PRESET,
    builtin_presets_dir,
    list_presets,
    load_preset,
    resolve_spec,
    save_preset,
    user_presets_dir,
)

EXPECTED = {
    "digits-quick", "lecture-basic", "lecture-vgg-sigmoid", "lecture-vgg-relu", "lecture-vgg-xavier-adam",
    "lecture-vgg-input-norm", "lecture-vgg-bn", "lecture-vgg-dropout", "lecture-vgg-final", "assignment-baseline",
    "assignment-3layer", "weather-model1", "weather-model2", "weather-model3", "project-2-1", "project-2-2",
    "mnist-study",
}
SEED_SHAPES = {"digits": (8, 8, 1), "cifar10": (32, 32, 3), "mnist": (28, 28, 1)}
NUM_CLASSES = {"digits": 10, "cifar10": 10, "mnist": 10}


def seed_shape(cfg: ExperimentConfig) -> tuple[tuple[int, int, int], int]:
    if cfg.data.dataset.startswith("folder:"):
        h, w = cfg.data.image_size
        return (h, w, 3), 4  # the weather set: 4 classes, RGB
    return SEED_SHAPES[cfg.data.dataset], NUM_CLASSES[cfg.data.dataset]


def stats_for(channels: int) -> ChannelStats:
    return ChannelStats(mean=[120.0] * channels, std=[60.0] * channels, max_abs=135.0)


@pytest.fixture(scope="module")
def keras():
    from cnn_tui.core.tfimport import import_tf

    import_tf()
    import keras as _keras

    return _keras


@pytest.fixture
def user_dir(tmp_path) -> Path:
    return tmp_path / "presets"


def test_builtin_presets_are_listed():
    infos = list_presets(user_dir=Path("/nonexistent"))
    assert EXPECTED <= {p.name for p in infos}  # the seed experiments, plus any study presets
    assert DEFAULT_PRESET == "digits-quick"
    assert all(p.builtin and p.description and p.path.parent == builtin_presets_dir() for p in infos)


BUILTIN_NAMES = sorted(p.name for p in list_presets(user_dir=Path("/nonexistent")))


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_builtin_preset_loads_and_builds(name, keras):

    cfg = load_preset(name, user_dir=Path("/nonexistent"))
    assert cfg.name == name
    assert len(cfg.description) > 40
    shape, classes = seed_shape(cfg)
    for input_shape in (shape, (28, 28, 1)):
        rows = plan_shapes(cfg.model, input_shape, classes)
        model = build_model(cfg.model, cfg.data, input_shape, classes, stats_for(input_shape[2]), seed=cfg.train.seed)
        assert model.count_params() == total_params(rows)
        assert model.output_shape == (None, classes)
        del model
        keras.backend.clear_session()


def test_digits_quick_trains_one_epoch_on_random_uint8(keras):

    cfg = load_preset(DEFAULT_PRESET)
    assert cfg.data.dataset == "digits" and cfg.model.architecture == "tiny"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(64, 8, 8, 1)).astype("uint8")
    y = rng.integers(0, 10, size=64)
    keras.utils.set_random_seed(0)
    model = build_model(cfg.model, cfg.data, (8, 8, 1), 10, None, seed=cfg.train.seed)
    model.compile(keras.optimizers.Adam(cfg.train.learning_rate), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=cfg.train.batch_size, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(x[:4], verbose=0).shape == (4, 10)
    keras.backend.clear_session()


def test_save_and_load_user_preset(user_dir):
    cfg = apply_overrides(load_preset("digits-quick"), ["model.dropout=0.3", "train.epochs=2"])
    path = save_preset("my-run", cfg, user_dir=user_dir)
    assert path == user_dir / "my-run.toml" and path.is_file()
    back = load_preset("my-run", user_dir=user_dir)
    assert back.name == "my-run"
    assert back.model.dropout == 0.3 and back.train.epochs == 2
    assert back.model_copy(update={"name": cfg.name}) == cfg
    infos = {p.name: p for p in list_presets(user_dir=user_dir)}
    assert not infos["my-run"].builtin and infos["my-run"].path == path
    with pytest.raises(PresetError, match="already exists"):
        save_preset("my-run", cfg, user_dir=user_dir)
    save_preset("my-run", apply_overrides(cfg, ["train.epochs=3"]), user_dir=user_dir, overwrite=True)
    assert load_preset("my-run", user_dir=user_dir).train.epochs == 3
    assert resolve_spec("my-run", user_dir=user_dir).train.epochs == 3


def test_user_presets_cannot_take_builtin_names(user_dir):
    with pytest.raises(PresetError, match="taken by a built-in"):
        save_preset("digits-quick", ExperimentConfig(), user_dir=user_dir, overwrite=True)
    # A file placed by hand with a built-in name is ignored: the built-in wins.
    user_dir.mkdir(parents=True)
    save_config(ExperimentConfig(name="digits-quick", train={"epochs": 99}), user_dir / "digits-quick.toml")
    assert load_preset("digits-quick", user_dir=user_dir).train.epochs != 99
    assert [p.builtin for p in list_presets(user_dir=user_dir) if p.name == "digits-quick"] == [True]


@pytest.mark.parametrize("bad", ["../x", "a/b", "", "Digits", "-x", "x" * 65, "a b", "x.toml"])
def test_bad_names_are_refused(bad, user_dir):
    with pytest.raises(PresetError, match="is invalid: use 1-64 characters"):
        save_preset(bad, ExperimentConfig(), user_dir=user_dir)
    with pytest.raises(PresetError, match="is invalid"):
        load_preset(bad, user_dir=user_dir)
    assert not user_dir.exists()


def test_unknown_preset_suggests_close_matches(user_dir):
    with pytest.raises(PresetError) as info:
        load_preset("digit-quick", user_dir=user_dir)
    assert "did you mean digits-quick" in str(info.value)
    assert "`cnn-tui presets list`" in str(info.value)


def test_invalid_user_preset_is_a_preset_error(user_dir):
    user_dir.mkdir(parents=True)
    (user_dir / "broken.toml").write_text('[model]\ndropout = "lots"\n')
    with pytest.raises(PresetError, match="preset 'broken' is invalid: .*model.dropout"):
        load_preset("broken", user_dir=user_dir)
    assert "broken" in {p.name for p in list_presets(user_dir=user_dir)}


def test_resolve_spec_paths_and_names(tmp_path):
    path = tmp_path / "exp.toml"
    save_config(ExperimentConfig(name="from-file"), path)
    assert resolve_spec(str(path)).name == "from-file"
    assert resolve_spec("digits-quick").name == "digits-quick"
    with pytest.raises(ConfigError, match="no such file"):
        resolve_spec("missing.toml")
    with pytest.raises(ConfigError, match="no such file"):
        resolve_spec("sub/dir")


def test_user_presets_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_TUI_PRESETS_DIR", str(tmp_path / "a"))
    assert user_presets_dir() == tmp_path / "a"
    monkeypatch.delenv("CNN_TUI_PRESETS_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert user_presets_dir() == tmp_path / "xdg" / "cnn-tui" / "presets"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_presets_dir() == tmp_path / "home" / ".config" / "cnn-tui" / "presets"


def test_default_user_dir_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("CNN_TUI_PRESETS_DIR", str(tmp_path / "env"))
    save_preset("env-one", ExperimentConfig(), overwrite=False)
    assert (tmp_path / "env" / "env-one.toml").is_file()
    assert load_preset("env-one").name == "env-one"
