"""The config schema: one validation stack (msgspec) for config files, ``--set`` overrides,
presets, the app's form and study plans; frozen value sections; docstrings as field docs.

Until this round the config ran on a hand-written copy of pydantic's rules
(``cnn_tui/core/schema.py``) while study plans ran on pydantic itself: two stacks, and the
copy quoted a refused number as it had coerced it (``dropout = 2.0`` for a file saying 2).
Both now run on msgspec; the messages keep their (pydantic's) wording, made in one place
(``cnn_tui.core.validation``), with a canary in tests/test_validation.py for every msgspec message it reads.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from cnn_tui.core.config import (
    AugmentConfig,
    DataConfig,
    EarlyStoppingConfig,
    ExperimentConfig,
    ModelConfig,
    ReduceLRConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    field_docs,
)
from cnn_tui.core.engine.plan import Plan, Step, parse_plan
from cnn_tui.core.errors import ConfigError

SECTIONS = [ExperimentConfig, DataConfig, AugmentConfig, ModelConfig, TrainConfig, ReduceLRConfig, EarlyStoppingConfig]


def test_one_validation_stack():
    """Config sections and plan models are msgspec structs (no home-made validator beside it),
    and every field of the config has a default (``ExperimentConfig()`` is the default config)."""
    assert importlib.util.find_spec("cnn_tui.core.schema") is None
    for model in SECTIONS + [Plan, Step]:
        assert issubclass(model, msgspec.Struct), model
        assert model.__struct_config__.forbid_unknown_fields and model.__struct_config__.frozen, model
    for section in SECTIONS:
        assert all(f.required is False for f in msgspec.structs.fields(section)), section
    with pytest.raises(msgspec.ValidationError):
        ModelConfig(dropout=2)
    with pytest.raises(msgspec.ValidationError):
        Plan(kind="grid")


def test_validating_a_config_does_not_import_pydantic():
    """The validation stack is on the first-paint path (the Setup screen validates its preset
    before it paints): it must stay cheap to import. pydantic (~0.1 s with the models) is not it."""
    script = ("import sys; from cnn_tui.core.config import config_from_dict, field_docs, apply_overrides;"
              " from cnn_tui.core.engine.plan import parse_plan;"
              " config_from_dict({'train': {'epochs': 3}}); field_docs(); parse_plan({'repeat': 2});"
              " print('pydantic' in sys.modules)")
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(repo)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


@pytest.mark.parametrize("data, message", [
    ({"model": {"dropout": 2}}, "f.toml: model.dropout = 2: Input should be less than 1"),
    ({"data": {"augment": {"zoom": "1e3"}}}, "f.toml: data.augment.zoom = '1e3': Input should be less than 1"),
    ({"train": {"epochs": 0.0}}, "f.toml: train.epochs = 0.0: Input should be greater than or equal to 1"),
    ({"train": {"epochs": 1.5}}, "f.toml: train.epochs = 1.5: Input should be a valid integer, got a number with a"
                                 " fractional part"),
    ({"model": {"activation": "x"}}, "f.toml: model.activation = 'x': Input should be 'relu', 'leaky_relu', 'elu',"
                                     " 'tanh' or 'sigmoid'"),
    ({"data": {"nope": 1}}, "f.toml: unknown key 'data.nope' (allowed here: dataset, image_size, color_mode,"
                            " labels_from, validation_split, test_split, train_limit, test_limit, split_seed,"
                            " normalization, augment)"),
    ({"data": {"train_limit": 0, "test_split": 0}}, "f.toml: data.test_split = 0: Input should be greater than 0"
                                                    " (and 1 more problem)"),
])  # fmt: skip
def test_a_refusal_quotes_the_value_as_written(data, message):
    """The value in the message is the one in the file (``2``, not the coerced ``2.0``): the
    user can find it there."""
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data, "f.toml")
    assert str(exc.value) == message


def test_overrides_go_through_the_same_stack():
    with pytest.raises(ConfigError, match=r"^--set: model\.dropout = 3: Input should be less than 1$"):
        apply_overrides(ExperimentConfig(), ["model.dropout=3"])
    assert apply_overrides(ExperimentConfig(), ["train.epochs='7'"]).train.epochs == 7  # lax, as in files
    with pytest.raises(ConfigError, match=r"^p\.toml: experiment\.repeat = 0: Input should be greater than or equal"):
        parse_plan({"repeat": 0}, "p.toml")


def test_validators_refuse_with_their_reason():
    with pytest.raises(ConfigError, match=r"^f\.toml: train: lr_schedule = 'cosine' and reduce_lr\.enabled"):
        config_from_dict({"train": {"lr_schedule": "cosine", "reduce_lr": {"enabled": True}}}, "f.toml")
    with pytest.raises(ConfigError, match=r"^f\.toml: name = 'a b': must be 1-64 characters"):
        config_from_dict({"name": "a b"}, "f.toml")
    with pytest.raises(msgspec.ValidationError):
        TrainConfig(lr_schedule="cosine", reduce_lr={"enabled": True})
    # field problems are reported before the section check runs
    with pytest.raises(ConfigError, match=r"train\.epochs = 0"):
        config_from_dict({"train": {"lr_schedule": "cosine", "reduce_lr": {"enabled": True}, "epochs": 0}}, "f.toml")


def test_sections_are_frozen_hashable_values():
    a, b = ExperimentConfig(), ExperimentConfig.model_validate({"model": {"dropout": 0.5}})
    assert a == ExperimentConfig() and hash(a.model) == hash(ExperimentConfig().model) and a != b
    assert {a.model: 1}[ExperimentConfig().model] == 1
    with pytest.raises((TypeError, AttributeError)):
        a.name = "x"  # type: ignore[misc]
    c = b.model_copy(update={"train": b.train.model_copy(update={"seed": 7})})
    assert c.train.seed == 7 and b.train.seed == 42 and c.model.dropout == 0.5
    assert pickle.loads(pickle.dumps(c)) == c
    assert ExperimentConfig.model_validate(c) is c
    assert {f.name: f.default for f in msgspec.structs.fields(TrainConfig)}["epochs"] == 10


def test_dumps():
    cfg = ExperimentConfig.model_validate({"model": {"blocks": ["conv 8 3", "flatten"], "bias_init": float("inf")},
                                           "data": {"image_size": [32, 32]}, "train": {"epochs": 3}})
    assert cfg.model_dump()["model"]["blocks"] == ("conv 8 3", "flatten")
    as_json = cfg.model_dump(mode="json", exclude_none=True)
    assert as_json["model"]["blocks"] == ["conv 8 3", "flatten"] and as_json["data"]["image_size"] == [32, 32]
    assert as_json["model"]["bias_init"] == float("inf") and "train_limit" not in as_json["data"]
    assert cfg.model_dump(mode="json", exclude_none=True, exclude_defaults=True) == {
        "data": {"image_size": [32, 32]}, "model": {"blocks": ["conv 8 3", "flatten"], "bias_init": float("inf")},
        "train": {"epochs": 3}}


def test_field_docs_come_from_the_docstrings():
    docs = field_docs()
    assert docs["train.epochs"] == {"doc": "Number of epochs.", "type": "int", "default": 10, "choices": None}
    assert docs["model.activation"]["choices"] == ["relu", "leaky_relu", "elu", "tanh", "sigmoid"]
    assert docs["data.image_size"]["default"] is None
    assert docs["data.image_size"]["type"] == "tuple[int, int] | None" and docs["data.train_limit"]["type"] == "int | None"
    assert docs["model.blocks"]["type"] == "tuple[str, ...] | None" and docs["model.l2"]["type"] == "float"
    assert docs["experiment"]["type"] == "dict[str, typing.Any] | None" and docs["model.bn_order"]["type"] == "Literal"
    assert docs["model.bn_momentum"]["doc"].startswith("Momentum of batch norm's") and "\n" in docs["model.bn_momentum"]["doc"]
    assert all(d["doc"] for d in docs.values()), [k for k, d in docs.items() if not d["doc"]]


def test_image_size_takes_one_number_for_a_square():
    """``image_size = 32`` is 32x32 (the seeds' 32x32 and 256x256 images)."""
    assert config_from_dict({"data": {"image_size": 32}}).data.image_size == (32, 32)
    assert config_from_dict({"data": {"image_size": 256}}).data.image_size == (256, 256)
    assert config_from_dict({"data": {"image_size": [32, 48]}}).data.image_size == (32, 48)
    assert config_from_dict({"data": {"image_size": None}}).data.image_size is None
    with pytest.raises(ConfigError, match=r"^f\.toml: data\.image_size = 'abc': .*one number for a square"):
        config_from_dict({"data": {"image_size": "abc"}}, "f.toml")
    for bad in (True, 32.5, [32], [32, 48, 3], {}):
        with pytest.raises(ConfigError, match=r"^f\.toml: data\.image_size"):
            config_from_dict({"data": {"image_size": bad}}, "f.toml")
