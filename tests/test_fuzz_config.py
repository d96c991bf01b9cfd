"""Fuzz: random configs and random ``--set`` override strings thrown at validation.

The contract (cnn_tui.core.errors): bad input raises a CnnTuiError subclass, whose text is
shown as one line. So for ANY input, validation either accepts it — and then the model is
planned and, when small enough to be cheap, actually built with Keras — or raises
CnnTuiError with a one-line message. Any other exception fails the test.

Bounded for CI: derandomized (the same examples every run), a fixed number of examples,
tiny input shapes, and Keras builds only for models under MAX_BUILD_PARAMS.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cnn_tui.core.config import ExperimentConfig, apply_overrides, config_from_dict, flatten, parse_override
from cnn_tui.core.errors import CnnTuiError
from cnn_tui.core.models import ARCHITECTURES, plan_shapes, total_params

MAX_BUILD_PARAMS = 300_000
SHAPES = [(8, 8, 1), (16, 16, 3), (28, 28, 1)]
KEYS = sorted(flatten(ExperimentConfig()))
SECTIONS = ["data", "model", "train", "data.augment", "train.reduce_lr", "train.early_stopping"]

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
BUILD = settings(FUZZ, max_examples=40)

# -- strategies ---------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-10, 300),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 0.5, 1.5, 1e-3, 0.0, -0.0, 1e308, 2**31, 2**63]),
)
block_text = st.builds(
    " ".join,
    st.lists(
        st.one_of(
            st.sampled_from(["conv", "pool", "max", "avg", "gap", "flatten", "dense", "dropout", "bn",
                             "valid", "same", "relu", "tanh", "linear", "s2", "s0", "s99"]),
            st.integers(-2, 70).map(str),
            st.text(max_size=4),
        ),
        max_size=5,
    ),
)  # fmt: skip
words = st.one_of(
    st.sampled_from([*ARCHITECTURES, "custom", "nope", "../x", "digits", "folder:", "arrays:", "mnist",
                     "adam", "sgd", "cosine", "relu", "he_normal", "standardize", "rgb", "auto", "mirrored",
                     "val_loss", "loss", "pre", "post", "prefix", ""]),
    st.text(max_size=12),
)  # fmt: skip
scalars = st.one_of(numbers, st.booleans(), words)
values = st.recursive(
    st.one_of(scalars, st.lists(block_text, max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
keys = st.one_of(st.sampled_from(KEYS), st.sampled_from(SECTIONS), st.text(max_size=20))

# Plausible input, to get past validation often enough to plan and build models.
DEFAULTS = flatten(ExperimentConfig())
CHOICES = {
    "model.architecture": [*ARCHITECTURES, "custom"],
    "model.activation": ["relu", "leaky_relu", "elu", "tanh", "sigmoid", "gelu"],
    "model.initializer": ["glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "zeros"],
    "model.bn_order": ["pre", "post"],
    "data.normalization": ["rescale", "zero_center", "standardize", "none"],
    "data.color_mode": ["auto", "grayscale", "rgb"],
    "train.optimizer": ["adam", "sgd", "rmsprop", "adamw"],
    "train.lr_schedule": ["constant", "cosine", "exponential"],
}


def _plausible_value(key: str):
    if key in CHOICES:
        return st.sampled_from(CHOICES[key])
    default = DEFAULTS.get(key)
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, float):
        return st.floats(0.0, 1.0)
    if isinstance(default, int):
        return st.integers(0, 40)
    return words


good_block = st.one_of(
    st.builds("conv {} {}{}{}".format, st.integers(1, 16), st.integers(1, 5), st.sampled_from(["", " s1", " s2"]),
              st.sampled_from(["", " same", " valid"])),
    st.builds("pool {}{}".format, st.sampled_from(["", "max ", "avg "]), st.integers(1, 3)),
    st.just("bn"),
    st.builds("dropout {}".format, st.sampled_from(["", "0.1", "0.5"])),
    st.builds("dense {}".format, st.integers(2, 32)),
)  # fmt: skip
good_blocks = st.builds(lambda body, head: [*body, *head], st.lists(good_block, min_size=1, max_size=5),
                        st.sampled_from([["flatten"], ["gap"], ["flatten", "dense 16"], []]))  # fmt: skip
plausible_override = st.one_of(
    st.sampled_from(KEYS).flatmap(lambda k: _plausible_value(k).map(lambda v: f"{k}={_toml_literal(v)}")),
    good_blocks.map(lambda b: f"model.blocks={_toml_literal(b)}"),
)


override = st.one_of(
    st.sampled_from(KEYS).flatmap(lambda k: _plausible_value(k).map(lambda v: f"{k}={_toml_literal(v)}")),
    good_blocks.map(lambda b: f"model.blocks={_toml_literal(b)}"),
)


def _toml_literal(value) -> str:
    """A value as it might be typed after ``--set KEY=`` (sometimes valid TOML, sometimes not)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else {"nan": "nan"}.get(repr(value), "inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


override = st.one_of(
    plausible_override,
    plausible_override,
    st.builds(lambda k, v: f"{k}={_toml_literal(v)}", keys, st.one_of(scalars, st.lists(block_text, max_size=5))),
    st.builds(lambda k, v: f"{k}={v}", keys, words),  # bare words, as typed on a shell
    st.text(max_size=30),  # anything at all
)
config_dicts = st.one_of(
    st.dictionaries(st.sampled_from(SECTIONS[:3] + ["name", "description", "experiment"]),
                    st.one_of(st.dictionaries(st.sampled_from(KEYS).map(lambda k: k.split(".")[-1]), values,
                                              max_size=5), values), max_size=4),
    st.dictionaries(st.text(max_size=8), values, max_size=3),
    values,
)  # fmt: skip


# -- the property ---------------------------------------------------------------------------


def _rejected(exc: BaseException) -> None:
    assert isinstance(exc, CnnTuiError), f"{type(exc).__name__}: {exc}"
    event(f"rejected: {type(exc).__name__}")
    text = str(exc)
    assert text.strip() and "Traceback" not in text


def _plan(config: ExperimentConfig, shape, classes: int):
    try:
        rows = plan_shapes(config.model, shape, classes)
    except Exception as exc:  # noqa: BLE001 - the property: only CnnTuiError may come out
        _rejected(exc)
        return None
    event("accepted and planned")
    return rows


@FUZZ
@given(overrides=st.lists(override, min_size=1, max_size=4), shape=st.sampled_from(SHAPES), classes=st.integers(2, 12))
def test_random_overrides_are_accepted_and_planned_or_rejected(overrides, shape, classes) -> None:
    try:
        config = apply_overrides(ExperimentConfig(), overrides)
    except Exception as exc:  # noqa: BLE001
        _rejected(exc)
        return
    assert isinstance(config, ExperimentConfig)
    _plan(config, shape, classes)


@FUZZ
@given(data=config_dicts, shape=st.sampled_from(SHAPES))
def test_random_config_dicts_are_accepted_and_planned_or_rejected(data, shape) -> None:
    try:
        config = config_from_dict(data, source="fuzz.toml")
    except Exception as exc:  # noqa: BLE001
        _rejected(exc)
        return
    _plan(config, shape, 10)


@FUZZ
@given(text=st.one_of(st.text(max_size=40), override))
def test_parse_override_never_raises_anything_else(text) -> None:
    try:
        parse_override(text)
    except Exception as exc:  # noqa: BLE001
        _rejected(exc)


@pytest.fixture(scope="module")
def keras():
    from cnn_tui.core.tfimport import import_tf

    import_tf()
    import keras as keras_module

    return keras_module


model_keys = [k for k in KEYS if k.startswith(("model.", "data.augment", "data.normalization"))]
model_plausible = st.sampled_from(model_keys).flatmap(lambda k: _plausible_value(k).map(lambda v: f"{k}={_toml_literal(v)}"))
model_overrides = st.lists(
    st.one_of(
        model_plausible,
        model_plausible,
        good_blocks.map(lambda b: f"model.blocks={_toml_literal(b)}"),
        good_blocks.map(lambda b: f"model.blocks={_toml_literal(b)}"),
        st.builds(lambda v: f"model.blocks={_toml_literal(v)}", st.lists(block_text, min_size=1, max_size=5)),
        st.builds(lambda k, v: f"{k}={_toml_literal(v)}", st.sampled_from(model_keys), scalars),
    ),
    min_size=1,
    max_size=3,
)


@BUILD
@given(overrides=model_overrides, shape=st.sampled_from(SHAPES[:2]), classes=st.integers(2, 5))
def test_accepted_model_configs_build_with_keras(keras, overrides, shape, classes) -> None:
    from cnn_tui.core.models import build_model, placeholder_stats

    try:
        config = apply_overrides(ExperimentConfig(), overrides)
    except Exception as exc:  # noqa: BLE001
        _rejected(exc)
        return
    rows = _plan(config, shape, classes)
    if rows is None or total_params(rows) > MAX_BUILD_PARAMS:
        return
    try:
        model = build_model(config.model, config.data, shape, classes, placeholder_stats(shape[2]), seed=0)
    except Exception as exc:  # noqa: BLE001
        _rejected(exc)  # the builder may refuse (ModelError) but never with a Keras error
        return
    event("built")
    assert model.output_shape == (None, classes)
    assert model.count_params() == total_params(rows)
    keras.backend.clear_session()
