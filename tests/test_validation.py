"""The seam between msgspec and cnn-tui's messages (``cnn_tui.core.validation``): one test per
kind of refusal, worded as users (and the other tests) know it, and a canary that fails when
msgspec words one of the messages the seam reads differently."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import pytest

from cnn_tui.core.config import ExperimentConfig, config_from_dict
from cnn_tui.core.engine.plan import Plan, parse_plan
from cnn_tui.core.errors import ConfigError
from cnn_tui.core.validation import Problem, problems


@pytest.mark.parametrize("data, message", [
    # bounds: ge, gt, le, lt (a float bound shown as written: 1, not 1.0)
    ({"train": {"epochs": 0}}, "train.epochs = 0: Input should be greater than or equal to 1"),
    ({"train": {"learning_rate": 0}}, "train.learning_rate = 0: Input should be greater than 0"),
    ({"data": {"augment": {"rotation": 200}}}, "data.augment.rotation = 200: Input should be less than or equal to 180"),
    ({"model": {"dropout": 1}}, "model.dropout = 1: Input should be less than 1"),
    ({"model": {"dropout": float("nan")}}, "model.dropout = nan: Input should be less than 1"),  # pydantic's order
    ({"data": {"train_limit": 0}}, "data.train_limit = 0: Input should be greater than or equal to 1"),  # in `| None`
    # integers
    ({"train": {"epochs": 2.5}}, "train.epochs = 2.5: Input should be a valid integer, got a number with a fractional"
                                 " part"),
    ({"train": {"epochs": float("inf")}}, "train.epochs = inf: Input should be a finite number"),
    ({"train": {"seed": 1e300}}, "train.seed = 1e+300: Unable to parse input string as an integer, exceeded maximum"
                                 " size"),
    ({"train": {"epochs": "many"}}, "train.epochs = 'many': Input should be a valid integer, unable to parse string as"
                                    " an integer"),
    ({"train": {"epochs": [3]}}, "train.epochs = [3]: Input should be a valid integer"),
    # numbers, booleans, strings, allowed words
    ({"model": {"l2": "lots"}}, "model.l2 = 'lots': Input should be a valid number, unable to parse string as a number"),
    ({"model": {"l2": None}}, "model.l2 = None: Input should be a valid number"),
    ({"model": {"batch_norm": "perhaps"}}, "model.batch_norm = 'perhaps': Input should be a valid boolean, unable to"
                                           " interpret input"),
    ({"model": {"batch_norm": 0.5}}, "model.batch_norm = 0.5: Input should be a valid boolean"),
    ({"model": {"architecture": 3}}, "model.architecture = 3: Input should be a valid string"),
    ({"model": {"bn_order": 3}}, "model.bn_order = 3: Input should be 'pre' or 'post'"),
    # lists and tuples: every bad item counts
    ({"model": {"blocks": "conv 8 3"}}, "model.blocks = 'conv 8 3': Input should be a valid tuple"),
    ({"model": {"blocks": ["conv 8 3", 1, 2]}}, "model.blocks = 1: Input should be a valid string (and 1 more problem)"),
    ({"data": {"image_size": [32, 32, 3]}}, "data.image_size = [32, 32, 3]: Tuple should have at most 2 items after"
                                            " validation, not 3"),
    ({"data": {"image_size": [32]}}, "data.image_size: required key is missing"),
    ({"data": {"image_size": True}}, "data.image_size = True: expected [height, width] or one number for a square,"
                                     " e.g. 32"),
    # sections, keys
    ({"data": 3}, "data = 3: Input should be a valid dictionary or instance of DataConfig"),
    ({"experiment": 3}, "experiment = 3: Input should be a valid dictionary"),
    ({"experiment": {1: 2}}, "experiment.[key] = 1: Input should be a valid string"),
    ({1: 2}, "(top level) = 1: Keys should be strings"),
    ({"model": {"dropuot": 0.1}}, "unknown key 'model.dropuot' (allowed here: architecture, blocks, activation,"
                                  " initializer, bias_init, batch_norm, bn_order, bn_momentum, dropout, l2)"),
    # own checks: a field's (at its key), a section's (at the section, after its fields)
    ({"name": "a/b"}, "name = 'a/b': must be 1-64 characters of letters, digits, '-', '_' or '.'"),
    ({"train": {"lr_schedule": "cosine", "reduce_lr": {"enabled": True}}},
     "train: lr_schedule = 'cosine' and reduce_lr.enabled = true both set the learning rate; choose one"
     " (lr_schedule = 'constant' to use reduce_lr)"),
    # problems are counted over sections, in the order of the fields
    ({"train": {"epochs": 0}, "model": {"dropout": 3}, "zzz": 1}, "model.dropout = 3: Input should be less than 1"
                                                                  " (and 2 more problems)"),
])  # fmt: skip
def test_each_kind_of_refusal_reads_as_before(data, message):
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data, "f.toml")
    assert str(exc.value) == f"f.toml: {message}"


@pytest.mark.parametrize("data, message", [
    ({"kind": "ablation", "steps": [{"name": ""}]}, "experiment.steps[0].name = '': String should have at least 1"
                                                    " character"),
    ({"kind": "variants", "variants": [{"name": "n" * 81}]}, f"experiment.variants[0].name = {'n' * 81!r}: String"
                                                             " should have at most 80 characters"),
    ({"kind": "ablation", "steps": [{"set": {}}]}, "experiment.steps[0].name = {'set': {}}: Field required"),
    ({"kind": "ablation", "steps": [3]}, "experiment.steps[0] = 3: Input should be a valid dictionary or instance of"
                                         " Step"),
    ({"kind": "ablation", "steps": [{"name": "a", "zz": 1}]}, "unknown key 'experiment.steps[0].zz' (allowed here:"
                                                              " name, set)"),
    ({"kind": "grid", "grid": {"model.dropout": 0.1}}, "experiment.grid.model.dropout = 0.1: Input should be a valid"
                                                       " list"),
    ({"metric": "accuracy"}, "experiment.metric = 'accuracy': Input should be 'test_accuracy', 'test_loss',"
                             " 'f1_weighted', 'f1_macro', 'epochs_completed' or 'train_seconds'"),
    ({"kind": "grid"}, "experiment.grid: required (non-empty) when kind = 'grid'"),
])  # fmt: skip
def test_plan_refusals_read_as_before(data, message):
    with pytest.raises(ConfigError) as exc:
        parse_plan(data, "p.toml")
    assert str(exc.value) == f"p.toml: {message}"


def test_problems_lists_every_problem_with_its_key_and_value():
    found = problems(ExperimentConfig, {"data": {"nope": 1, "train_limit": 0}, "train": {"epochs": "x"}})
    assert found == [
        Problem(("data", "train_limit"), 0, "value", "Input should be greater than or equal to 1"),
        Problem(("data", "nope"), 1, "extra", "Extra inputs are not permitted"),
        Problem(("train", "epochs"), "x", "value", "Input should be a valid integer, unable to parse string as an integer"),
    ]
    assert problems(ExperimentConfig, {"train": {"epochs": 3}}) == []
    assert problems(Plan, {"kind": "grid"})[0].kind == "section"


def _msgspec_text(value: Any, tp: Any) -> str:
    with pytest.raises(msgspec.ValidationError) as exc:
        msgspec.convert(value, tp, strict=False)
    return str(exc.value)


class _Pair(msgspec.Struct, forbid_unknown_fields=True):
    a: int


def test_msgspec_messages_canary():
    """Every msgspec message form ``validation._message``/``_problem`` reads. If this fails,
    msgspec changed its wording: update the seam (and this canary) before anything else."""
    Int1 = Annotated[int, msgspec.Meta(ge=1)]
    assert _msgspec_text(0, Int1) == "Expected `int` >= 1"
    assert _msgspec_text(0.0, Annotated[float, msgspec.Meta(gt=0.0)]) == "Expected `float` > 0.0"
    assert _msgspec_text(2, Annotated[float, msgspec.Meta(le=1.0)]) == "Expected `float` <= 1.0"
    assert _msgspec_text(1, Annotated[float, msgspec.Meta(lt=1.0)]) == "Expected `float` < 1.0"
    assert _msgspec_text(1.5, int) == "Expected `int`, got `float`"
    assert _msgspec_text("x", Int1 | None) == "Expected `int | null`, got `str`"
    assert _msgspec_text("x", Literal["a", "b"]) == "Invalid enum value 'x'"
    assert _msgspec_text([1, 2, 3], tuple[int, int]) == "Expected `array` of length 2, got 3"
    assert _msgspec_text(["a", 1], tuple[str, ...]) == "Expected `str`, got `int` - at `$[1]`"
    assert _msgspec_text("", Annotated[str, msgspec.Meta(min_length=1)]) == "Expected `str` of length >= 1"
    assert _msgspec_text("ab", Annotated[str, msgspec.Meta(max_length=1)]) == "Expected `str` of length <= 1"
    assert _msgspec_text({"a": 3}, dict[str, list[Any]]) == "Expected `array`, got `int` - at `$[...]`"
    assert _msgspec_text({1: 2}, dict[str, Any]) == "Expected `str`, got `int` - at `key` in `$`"
    assert _msgspec_text({"a": 1, "b": 2}, _Pair) == "Object contains unknown field `b`"
    assert _msgspec_text({}, _Pair) == "Object missing required field `a`"
    assert _msgspec_text([{"a": "x"}], list[_Pair]) == "Expected `int`, got `str` - at `$[0].a`"
    assert _msgspec_text(2**2000, float) == "Number out of range"
    # lax mode reads numbers from text, as config files and --set values need
    assert msgspec.convert("7", int, strict=False) == 7 and msgspec.convert("0.5", float, strict=False) == 0.5
    assert msgspec.convert("true", bool, strict=False) is True
