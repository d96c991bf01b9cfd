"""cnn_tui.core.schema against pydantic, on the real config schema.

The config used to be pydantic models; :mod:`cnn_tui.core.schema` replaced them to keep
pydantic out of the app's start. These tests build, from the very same field table
(``model_fields``: annotation, default, bounds), the pydantic models the config would be,
and check that both accept the same input, produce the same values, and refuse with the
same first error (type, location, message).
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_tui.core.config import ExperimentConfig, TrainConfig, config_from_dict, field_docs, flatten
from cnn_tui.core.errors import ConfigError
from cnn_tui.core.schema import Field, SchemaError, Section

_PYDANTIC: dict[type, type] = {}


def as_pydantic(cls: type[Section]) -> type[pydantic.BaseModel]:
    """The pydantic model with ``cls``'s fields (nested sections converted too)."""
    if cls not in _PYDANTIC:
        fields: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            ann = info.annotation
            default = info.default
            if isinstance(ann, type) and issubclass(ann, Section):
                ann = as_pydantic(ann)
                default = ann.model_validate(default.model_dump())
            b = info.bounds
            bounds = {} if b is None else {k: getattr(b, k) for k in ("ge", "gt", "le", "lt") if getattr(b, k) is not None}
            fields[name] = (ann, pydantic.Field(default, **bounds))
        _PYDANTIC[cls] = pydantic.create_model(
            cls.__name__, __config__=pydantic.ConfigDict(extra="forbid", frozen=True), **fields
        )
    return _PYDANTIC[cls]


def _first_error(errors: list[dict]) -> tuple:
    e = errors[0]
    return e["type"], tuple(e["loc"]), e["msg"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def check_like_pydantic(cls: type[Section], data: Any) -> None:
    model = as_pydantic(cls)
    try:
        expected = model.model_validate(data).model_dump()
        expected_error = None
    except pydantic.ValidationError as exc:
        expected, expected_error = None, _first_error(exc.errors())
    try:
        got = cls.model_validate(data).model_dump()
        got_error = None
    except SchemaError as exc:
        got, got_error = None, _first_error(exc.errors())
    assert got_error == expected_error, f"{data!r}"
    if expected is not None:
        assert _same(got, expected), f"{data!r}: {got} != {expected}"


# -- scalar rules, one key at a time ---------------------------------------------------------

SCALARS = [
    True, False, 0, 1, 2, -1, 3, 2**70, 0.0, 1.0, 0.5, 1.5, -0.0, 1e308, float("inf"), float("-inf"), float("nan"),
    2.0**70, "3", " 4 ", "3.0", "3.5", "1_000", "+4", "1e3", "0x10", "", "nan", "inf", "1e400", "yes", "YES", " yes ",
    "on", "t", "2", "relu", "adam", "cosine", "digits", "a b", "x" * 70, "٣", None, [], [1, 2], (1.0, 2), [1, "2"], [1],
    [1, 2, 3], ["conv 8 3", "flatten"], ["a", 1], "abc", {}, {"a": 1},
]  # fmt: skip


FIELD_KEYS = sorted(set(flatten(ExperimentConfig())) - {"name"}) + ["model.blocks", "data.image_size",
                                                                   "data.train_limit", "experiment"]


@pytest.mark.parametrize("key", FIELD_KEYS)  # (name has a validator: test_validators_refuse_with_their_reason)
def test_every_field_coerces_and_refuses_like_pydantic(key):
    section, _, leaf = key.rpartition(".")
    for value in SCALARS:
        data: dict[str, Any] = {leaf: value}
        for part in reversed(section.split(".") if section else []):
            data = {part: data}
        check_like_pydantic(ExperimentConfig, data)


def test_section_shapes_and_unknown_keys_like_pydantic():
    for data in [
        {"data": 3}, {"data": None}, {"data": []}, {"train": {"reduce_lr": "yes"}}, {"nope": 1},
        {"data": {"nope": 1, "normalization": "x"}}, {"model": {"dropout": 2, "l2": -1}},
        {"name": "ok-name_1.2"}, {"experiment": {"kind": "grid", "grid": {"model.dropout": [0, 0.5]}}},
    ]:  # fmt: skip  (the two validators' refusals: test_validators_refuse_with_their_reason)
        check_like_pydantic(ExperimentConfig, data)


def test_validators_refuse_with_their_reason():
    with pytest.raises(ConfigError, match=r"^f\.toml: train: lr_schedule = 'cosine' and reduce_lr\.enabled"):
        config_from_dict({"train": {"lr_schedule": "cosine", "reduce_lr": {"enabled": True}}}, "f.toml")
    with pytest.raises(ConfigError, match=r"^f\.toml: name = 'a b': must be 1-64 characters"):
        config_from_dict({"name": "a b"}, "f.toml")
    with pytest.raises(SchemaError):
        TrainConfig(lr_schedule="cosine", reduce_lr={"enabled": True})
    # field problems are reported before the section check runs
    with pytest.raises(ConfigError, match=r"train\.epochs = 0"):
        config_from_dict({"train": {"lr_schedule": "cosine", "reduce_lr": {"enabled": True}, "epochs": 0}}, "f.toml")


_keys = st.sampled_from(FIELD_KEYS + ["x.y", "data"])
_values = st.one_of(
    st.integers(-(2**65), 2**65), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(max_size=6), st.sampled_from(["relu", "adam", "rescale", "val_loss", "true", "0", "2.0"]),
    st.lists(st.one_of(st.integers(0, 70), st.text(max_size=5)), max_size=3),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=4))
def test_random_configs_validate_like_pydantic(pairs):
    data: dict[str, Any] = {}
    for key, value in pairs.items():
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[leaf] = value
    if data.get("train", {}).get("lr_schedule", "constant") != "constant":
        data["train"].pop("reduce_lr", None)  # the cross-field validator is tested above
    check_like_pydantic(ExperimentConfig, data)


# -- the object side ---------------------------------------------------------------------------


def test_sections_are_frozen_hashable_values():
    a, b = ExperimentConfig(), ExperimentConfig.model_validate({"model": {"dropout": 0.5}})
    assert a == ExperimentConfig() and hash(a.model) == hash(ExperimentConfig().model) and a != b
    assert {a.model: 1}[ExperimentConfig().model] == 1
    with pytest.raises(TypeError):
        a.name = "x"  # type: ignore[misc]
    c = b.model_copy(update={"train": b.train.model_copy(update={"seed": 7})})
    assert c.train.seed == 7 and b.train.seed == 42 and c.model.dropout == 0.5
    assert pickle.loads(pickle.dumps(c)) == c
    assert ExperimentConfig.model_validate(c) is c
    assert TrainConfig.epochs == 10  # the class attribute is the default


def test_dumps_match_pydantic():
    cfg = ExperimentConfig.model_validate({"model": {"blocks": ["conv 8 3", "flatten"], "bias_init": float("inf")},
                                           "data": {"image_size": [32, 32]}, "train": {"epochs": 3}})
    twin = as_pydantic(ExperimentConfig).model_validate(cfg.model_dump())
    for kwargs in ({}, {"mode": "json"}, {"mode": "json", "exclude_none": True},
                   {"mode": "json", "exclude_none": True, "exclude_defaults": True}):
        assert _same(cfg.model_dump(**kwargs), twin.model_dump(**kwargs)), kwargs


def test_field_docs_come_from_the_docstrings():
    docs = field_docs()
    assert docs["train.epochs"] == {"doc": "Number of epochs.", "type": "int", "default": 10, "choices": None}
    assert docs["model.activation"]["choices"] == ["relu", "leaky_relu", "elu", "tanh", "sigmoid"]
    assert docs["data.image_size"]["default"] is None
    assert docs["model.bn_momentum"]["doc"].startswith("Momentum of batch norm's") and "\n" in docs["model.bn_momentum"]["doc"]
    assert all(d["doc"] for d in docs.values()), [k for k, d in docs.items() if not d["doc"]]


def test_a_field_needs_a_default():
    with pytest.raises(TypeError, match="needs a default"):
        class Broken(Section):  # noqa: F841
            x: int

    class Ok(Section):
        x: int = Field(1, ge=0)
        """An x."""

    assert Ok(x="2").x == 2 and Ok.model_fields["x"].description == "An x."


def test_image_size_takes_one_number_for_a_square_like_pydantic():
    """``image_size = 32`` is 32x32 (the seeds' 32x32 and 256x256 images), the same through
    the hand-written schema and pydantic (one normalisation step both use)."""
    for value in (32, 256, [32, 48], (28, 28), None, 0, "32", 32.0, 32.5, True, [32], [32, 48, 3], "abc", {}):
        check_like_pydantic(ExperimentConfig, {"data": {"image_size": value}})
    assert config_from_dict({"data": {"image_size": 32}}).data.image_size == (32, 32)
    assert as_pydantic(ExperimentConfig).model_validate({"data": {"image_size": 256}}).data.image_size == (256, 256)
    assert config_from_dict({"data": {"image_size": [32, 48]}}).data.image_size == (32, 48)
    with pytest.raises(ConfigError, match=r"^f\.toml: data\.image_size = 'abc': .*one number for a square"):
        config_from_dict({"data": {"image_size": "abc"}}, "f.toml")
