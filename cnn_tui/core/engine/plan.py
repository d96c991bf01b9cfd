"""Experiment plans: the ``[experiment]`` table of a config, validated, and its expansion
into trials (one config per cell/step/variant and seed).

Shapes::

    kind = "grid"       [experiment.grid] "model.batch_norm" = [true, false]  (cartesian product)
    kind = "ablation"   steps = [{name = "baseline", set = {}}, {name = "+ bn", set = {"model.batch_norm" = true}}]
                        (cumulative: every step adds its overrides to all earlier ones)
    kind = "variants"   variants = [{name = "a", set = {...}}, ...]  (independent override sets)
    kind = "repeat"     just the base config
    repeat = N          seeds train.seed .. train.seed+N-1 for every group (any kind)
    metric = "f1_weighted"   primary metric of the results table
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from cnn_tui.core.config import ExperimentConfig, apply_overrides, parse_override
from cnn_tui.core.errors import ConfigError
from cnn_tui.core.formatting import METRICS  # a study's primary metric is one of them
from cnn_tui.core.validation import Meta, Section, ValidationError, problems

_KIND_PREFIX = {"grid": "g", "ablation": "a", "variants": "v", "repeat": "r"}


class Step(Section, frozen=True, forbid_unknown_fields=True):
    """One ablation step or variant: a name and dotted overrides."""

    name: Annotated[str, Meta(min_length=1, max_length=80)]
    set: dict[str, Any] = {}


class Plan(Section, frozen=True, forbid_unknown_fields=True):
    """The ``[experiment]`` table of a config."""

    kind: Literal["grid", "ablation", "variants", "repeat"] = "repeat"
    repeat: Annotated[int, Meta(ge=1, le=1000)] = 1
    metric: Literal[METRICS] = "test_accuracy"  # type: ignore[valid-type]
    grid: dict[str, list[Any]] | None = None
    steps: list[Step] | None = None
    variants: list[Step] | None = None

    def _check(self) -> None:
        needs = {"grid": "grid", "ablation": "steps", "variants": "variants"}.get(self.kind)
        for key in ("grid", "steps", "variants"):
            value = getattr(self, key)
            if key == needs and not value:
                raise ValueError(f"experiment.{key}: required (non-empty) when kind = {self.kind!r}")
            if key != needs and value is not None:
                raise ValueError(f"experiment.{key}: only allowed with kind = {_kind_of(key)!r} (kind is {self.kind!r})")
        if self.grid:
            for key, values in self.grid.items():
                if not values:
                    raise ValueError(f"experiment.grid.{key!r}: needs at least one value")
        names = [s.name for s in (self.steps or self.variants or [])]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"experiment.{needs}: duplicate name {dupes[0]!r}")


def _kind_of(key: str) -> str:
    return {"grid": "grid", "steps": "ablation", "variants": "variants"}[key]


def _flat(table: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model": {"dropout": x}}`` or ``{"model.dropout": x}`` -> ``{"model.dropout": x}``."""
    out: dict[str, Any] = {}
    for key, value in (table or {}).items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(_flat(value, dotted))
        else:
            out[dotted] = value
    return out


def parse_plan(data: dict[str, Any] | Plan | None, source: str = "experiment") -> Plan:
    """Validate an ``[experiment]`` table; ConfigError naming the key."""
    if isinstance(data, Plan):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: no [experiment] section (add kind = 'grid' | 'ablation' | 'variants' | 'repeat')")
    data = dict(data)
    if isinstance(data.get("grid"), dict):
        data["grid"] = _flat(data["grid"])
    for key in ("steps", "variants"):
        if isinstance(data.get(key), list):
            data[key] = [{**s, "set": _flat(s["set"])} if isinstance(s, dict) and isinstance(s.get("set"), dict) else s
                         for s in data[key]]
    try:
        return Plan.model_validate(data)
    except ValidationError:
        err = problems(Plan, data)[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.loc).lstrip(".")
        if err.kind == "extra":
            allowed = ", ".join(Step.__struct_fields__ if "." in loc else Plan.__struct_fields__)
            raise ConfigError(f"{source}: unknown key 'experiment.{loc}' (allowed here: {allowed})") from None
        if not loc:
            raise ConfigError(f"{source}: {err.msg}") from None
        raise ConfigError(f"{source}: experiment.{loc} = {err.value!r}: {err.msg}") from None


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return plan.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class Trial:
    """One training run of an experiment."""

    trial_id: str  # stable across re-planning: "g03-s43" = group 3, seed 43
    group: str  # cell / step / variant label
    group_index: int  # 1-based
    overrides: dict[str, Any]  # the group's (cumulative) overrides, seed excluded
    seed: int
    config: ExperimentConfig = field(repr=False)


def _fmt_value(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _groups(plan: Plan) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, overrides, own overrides) per group, in order."""
    if plan.kind == "grid":
        keys = list(plan.grid or {})
        short = [k.rsplit(".", 1)[-1] for k in keys]
        names = short if len(set(short)) == len(short) else keys
        out = []
        for values in itertools.product(*(plan.grid or {}).values()):
            sets = dict(zip(keys, values))
            out.append((", ".join(f"{n}={_fmt_value(v)}" for n, v in zip(names, values)), sets, sets))
        return out
    if plan.kind == "ablation":
        acc: dict[str, Any] = {}
        out = []
        for step in plan.steps or []:
            acc = {**acc, **step.set}
            out.append((step.name, dict(acc), dict(step.set)))
        return out
    if plan.kind == "variants":
        return [(v.name, dict(v.set), dict(v.set)) for v in plan.variants or []]
    return [("all", {}, {})]


def expand(plan: Plan | dict[str, Any], base: ExperimentConfig) -> list[Trial]:
    """The trials of ``plan`` on ``base``, every config validated (ConfigError naming the group)."""
    plan = parse_plan(plan)
    base = base.model_copy(update={"experiment": None})
    prefix = _KIND_PREFIX[plan.kind]
    trials = []
    for gi, (label, overrides, _own) in enumerate(_groups(plan), start=1):
        try:
            cell = apply_overrides(base, overrides)
        except ConfigError as exc:
            raise ConfigError(f"experiment group {label!r}: {str(exc).removeprefix('--set: ')}") from None
        for r in range(plan.repeat):
            seed = cell.train.seed + r
            config = cell.model_copy(update={"train": cell.train.model_copy(update={"seed": seed})})
            trials.append(Trial(f"{prefix}{gi:02d}-s{seed}", label, gi, overrides, seed, config))
    return trials


def own_overrides(plan: Plan) -> dict[str, dict[str, Any]]:
    """Group label -> the overrides that group itself adds (an ablation step's own change)."""
    return {label: own for label, _acc, own in _groups(plan)}


# ---------------------------------------------------------------------------------------
# One-line forms of grid keys and steps (CLI --grid/--step, the TUI's experiment dialog)


def parse_grid(text: str, source: str = "--grid") -> tuple[str, list[Any]]:
    """``"model.dropout=0.2,0.3"`` -> ``("model.dropout", [0.2, 0.3])``; values read as TOML."""
    key, value = parse_override(text)
    raw = text.partition("=")[2].strip()
    try:
        values = tomllib.loads(f"v = [{raw}]")["v"]
    except tomllib.TOMLDecodeError:
        values = [parse_override(f"{key}={part}")[1] for part in raw.split(",") if part.strip()]
    if not values:
        raise ConfigError(f"{source} {text!r}: no values (expected KEY=V1,V2)")
    return key, values


STEP_FORM = '"NAME: KEY=VALUE [KEY=VALUE ...]", e.g. "+ bn: model.batch_norm=true" ("baseline:" for no change)'


def parse_step(text: str, source: str = "--step") -> dict[str, Any]:
    """``"+ bn: model.batch_norm=true model.bn_order=post"`` -> ``{"name": ..., "set": {...}}``.

    The name ends at the first ':'; ``"baseline:"`` is a step without changes. Text
    without ':' is refused (it used to become a name with no changes: a typo ran a study).
    """
    name, colon, rest = text.partition(":")
    name = name.strip()
    if not colon:
        raise ConfigError(f"{source} {text!r}: expected {STEP_FORM}")
    if not name:
        raise ConfigError(f"{source} {text!r}: missing the step name before ':'")
    try:
        tokens = shlex.split(rest)
    except ValueError as exc:
        raise ConfigError(f"{source} {text!r}: {exc}") from None
    overrides = {}
    for token in tokens:
        if "=" not in token:
            raise ConfigError(f"{source} {text!r}: {token!r} is not KEY=VALUE (expected {STEP_FORM})")
        try:
            key, value = parse_override(token)
        except ConfigError as exc:
            raise ConfigError(f"{source} {text!r}: {exc}") from None
        overrides[key] = value
    return {"name": name, "set": overrides}


_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./]*")


def _toml_value(value: Any, bare: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        plain = bare and _BARE.fullmatch(value) and value not in ("true", "false", "inf", "nan")
        return value if plain else json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v, False)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v, False) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def grid_line(key: str, values: list[Any]) -> str:
    """The ``KEY=V1,V2`` form of a grid key that :func:`parse_grid` reads back."""
    line = f"{key}=" + ",".join(_toml_value(v, True) for v in values)
    try:
        if parse_grid(line) == (key, list(values)):
            return line
    except ConfigError:
        pass
    return f"{key}=" + ",".join(_toml_value(v, False) for v in values)


def step_line(step: Step | dict[str, Any]) -> str:
    """The ``name: k=v k=v`` form of a step that :func:`parse_step` reads back."""
    step = step if isinstance(step, Step) else Step.model_validate(step)
    parts = [step.name + ":"]
    for key, value in step.set.items():
        token = f"{key}={_toml_value(value, True)}"
        if parse_override(token) != (key, value):
            token = f"{key}={_toml_value(value, False)}"
        parts.append(shlex.quote(token))
    return " ".join(parts)


def plan_from_lines(kind: str, lines: list[str], *, repeat: int = 1, metric: str | None = None,
                    source: str = "experiment") -> Plan:
    """A validated plan from the one-line forms: ``KEY=V1,V2`` per grid key (grid), ``name:
    k=v ...`` per step (ablation, variants), no lines (repeat). ConfigError naming the line."""
    lines = [line.strip() for line in lines if line.strip()]
    data: dict[str, Any] = {"kind": kind, "repeat": repeat}
    if metric:
        data["metric"] = metric
    if kind == "grid":
        grid: dict[str, list[Any]] = {}
        for line in lines:
            key, values = parse_grid(line, "grid line")
            if key in grid:
                raise ConfigError(f"grid line {line!r}: {key} is already in the grid")
            grid[key] = values
        data["grid"] = grid
    elif kind in ("ablation", "variants"):
        data["steps" if kind == "ablation" else "variants"] = [parse_step(line, "step") for line in lines]
    elif lines:
        raise ConfigError(f"{source}: a repeat study takes no grid or step lines")
    return parse_plan(data, source)
