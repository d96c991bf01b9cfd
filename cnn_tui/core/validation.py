"""The one validation stack: msgspec structs, and the seam between msgspec's errors and
cnn-tui's messages.

The config sections (:mod:`cnn_tui.core.config`) and study plans
(:mod:`cnn_tui.core.engine.plan`) are :class:`Section` structs: frozen, unknown keys refused,
bounds as ``Annotated[float, Meta(ge=0.0, lt=1.0)]``, allowed words as ``Literal``. Valid
input is converted by ``msgspec.convert`` (lax: ``"7"`` reads as 7, as in pydantic's lax mode)
in one C call; keyword construction from code is checked the same way.

msgspec stops at the first problem and words it its own way ("Expected `int` >= 1 - at
`$.train.epochs`"). Only when the input is refused, :func:`problems` walks it field by field,
in the order of the fields, and words every problem as cnn-tui always has ("Input should be
greater than or equal to 1", pydantic's wording, which the messages and tests were written
against). :func:`_message` is the only place that reads msgspec's message text;
tests/test_validation.py has a canary for each form it reads.

:class:`Section` also offers the few pydantic-style methods the rest of the code calls
(``model_validate``, ``model_copy``, ``model_dump``, ``model_dump_json``).
"""

from __future__ import annotations

import ast
import contextvars
import inspect
import math
import re
import sys
import types
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Callable, ClassVar, Literal, Union, get_args, get_origin

import msgspec
from msgspec import Meta

__all__ = ["Meta", "Problem", "Section", "ValidationError", "field_docstrings", "problems", "shown_type", "struct_fields"]

ValidationError = msgspec.ValidationError

# Set while msgspec converts: a struct built by msgspec.convert is already checked.
_CONVERTING: contextvars.ContextVar[bool] = contextvars.ContextVar("cnn_tui_converting", default=False)


def _convert(data: Any, tp: Any) -> Any:
    token = _CONVERTING.set(True)
    try:
        return msgspec.convert(data, tp, strict=False)
    finally:
        _CONVERTING.reset(token)


class Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Frozen, unknown keys refused; checked on construction (keywords or ``model_validate``).

    A subclass may check single fields (``field_checks``: name -> function raising
    ValueError, reported at that key) and the whole section (``_check``, run once every
    field is valid; it may also normalize a field with ``msgspec.structs.force_setattr``).
    """

    field_checks: ClassVar[dict[str, Callable[[Any], Any]]] = {}

    def __post_init__(self) -> None:
        if _CONVERTING.get():
            for name, check in self.field_checks.items():
                check(getattr(self, name))
            self._check()
            return
        valid = _convert({name: getattr(self, name) for name in self.__struct_fields__}, type(self))
        for name in self.__struct_fields__:
            msgspec.structs.force_setattr(self, name, getattr(valid, name))

    def _check(self) -> None:
        """Cross-field checks of the section (raise ValueError with the reason)."""

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        """``data`` (a dict as read from TOML, or an instance) as a checked ``cls``
        (msgspec.ValidationError if refused; :func:`problems` words it)."""
        return data if isinstance(data, cls) else _convert(data, cls)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Any:
        """A copy with ``update`` applied (checked like a construction)."""
        return msgspec.structs.replace(self, **(update or {}))

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False, exclude_defaults: bool = False) -> dict:
        """Plain dicts; ``mode="json"``: tuples as lists."""
        return _dump(self, mode == "json", exclude_none, exclude_defaults)

    def model_dump_json(self) -> str:
        """The section as compact JSON text."""
        return msgspec.json.encode(self).decode()


def _dump(value: Any, as_json: bool, exclude_none: bool, exclude_defaults: bool) -> Any:
    if isinstance(value, Section):
        out = {}
        for f in struct_fields(type(value)):
            item = getattr(value, f.name)
            if (exclude_none and item is None) or (exclude_defaults and item == _default(f)):
                continue
            out[f.name] = _dump(item, as_json, exclude_none, exclude_defaults)
        return out
    if isinstance(value, dict):
        return {k: _dump(v, as_json, exclude_none, exclude_defaults) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_dump(v, as_json, exclude_none, exclude_defaults) for v in value]
        return items if as_json or isinstance(value, list) else tuple(items)
    return value


@cache
def struct_fields(cls: type) -> tuple[msgspec.structs.FieldInfo, ...]:
    """``msgspec.structs.fields(cls)``, once per class (it evaluates the annotations on every call)."""
    return msgspec.structs.fields(cls)


def _default(f: msgspec.structs.FieldInfo) -> Any:
    if f.default is not msgspec.NODEFAULT:
        return f.default
    return f.default_factory() if f.default_factory is not msgspec.NODEFAULT else msgspec.NODEFAULT


# ---------------------------------------------------------------------------------------
# Types: what a field holds, its bounds and allowed words


def _unwrap(tp: Any) -> tuple[Any, Meta | None]:
    """``Annotated[X, Meta(..)] | None`` -> (X, the Meta); None is dropped from unions."""
    meta = None
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *extras = get_args(tp)
            meta = next((m for m in extras if isinstance(m, Meta)), meta)
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp, meta
            tp = rest[0]
        else:
            return tp, meta


def section_type(tp: Any) -> type[Section] | None:
    """The Section a field holds (``DataConfig``, ``DataConfig | None``), else None."""
    inner, _ = _unwrap(tp)
    return inner if isinstance(inner, type) and issubclass(inner, Section) else None


def shown_type(tp: Any) -> str:
    """The field's type as the app's form shows it: ``float``, ``int | None``, ``Literal``."""
    if get_origin(tp) is Annotated:
        meta = next((m for m in get_args(tp)[1:] if isinstance(m, Meta)), None)
        if meta is not None and meta.extra and "shown_type" in meta.extra:
            return meta.extra["shown_type"]
        return shown_type(get_args(tp)[0])
    if get_origin(tp) in (Union, types.UnionType):
        return " | ".join("None" if a is type(None) else str(a) if get_origin(a) not in (None, Annotated)
                          else shown_type(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def choices_of(tp: Any) -> list[Any] | None:
    """The allowed values of a Literal field (also inside ``| None``), else None."""
    inner, _ = _unwrap(tp)
    return list(get_args(inner)) if get_origin(inner) is Literal else None


def _type_at(tp: Any, path: tuple) -> Any:
    """The type of the item at ``path`` (keys and indexes) inside a value of type ``tp``."""
    for part in path:
        inner, _ = _unwrap(tp)
        origin = get_origin(inner)
        if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
            tp = next((f.type for f in struct_fields(inner) if f.name == part), Any)
        elif origin is tuple:
            args = get_args(inner)
            tp = args[0] if len(args) == 2 and args[1] is Ellipsis else args[min(part, len(args) - 1)]
        elif origin in (list, dict):
            tp = get_args(inner)[-1]
        else:
            return Any
    return tp


# ---------------------------------------------------------------------------------------
# Problems: the refused input, walked in field order


@dataclass(frozen=True)
class Problem:
    """One refused value: where (keys and list indexes), the value as written, and why."""

    loc: tuple
    value: Any
    kind: str  # "extra" (unknown key), "missing", "section" (a section's own check) or "value"
    msg: str


def problems(cls: type[Section], data: Any, loc: tuple = ()) -> list[Problem]:
    """Every problem of ``data`` as a ``cls``, in the order pydantic reported them: the fields
    in their order (a section's fields before its own check), then unknown keys."""
    if isinstance(data, cls):
        return []
    if not isinstance(data, dict):
        return [Problem(loc, data, "value", f"Input should be a valid dictionary or instance of {cls.__name__}")]
    found = [Problem(loc + (key,), key, "value", "Keys should be strings") for key in data if not isinstance(key, str)]
    for f in struct_fields(cls):
        if f.name not in data:
            continue
        value, where = data[f.name], loc + (f.name,)
        inner = section_type(f.type)
        if inner is not None:
            found += problems(inner, value, where)
            continue
        try:
            checked = _convert(value, f.type)
        except msgspec.ValidationError as exc:
            found += _item_problems(f.type, value, where) or [_problem(f.type, value, where, str(exc))]
            continue
        if f.name in cls.field_checks:
            try:
                cls.field_checks[f.name](checked)
            except ValueError as exc:
                found.append(Problem(where, value, "value", str(exc)))
    names = {f.name for f in struct_fields(cls)}
    found += [Problem(loc + (key,), value, "extra", "Extra inputs are not permitted")
              for key, value in data.items() if isinstance(key, str) and key not in names]
    if not found:
        try:
            _convert(data, cls)
        except msgspec.ValidationError as exc:
            found.append(Problem(loc, data, "section", str(exc)))
    return found


_AT = re.compile(r"^(?P<msg>.*?)(?: - at (?P<key>`key` in )?`(?P<path>[^`]*)`)?$", re.S)
_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[(\.\.\.)\]")


def _fails(value: Any, tp: Any) -> bool:
    try:
        _convert(value, tp)
    except msgspec.ValidationError:
        return True
    return False


def _problem(tp: Any, value: Any, loc: tuple, text: str) -> Problem:
    """One msgspec refusal of ``value`` (a field of type ``tp`` at ``loc``) as a Problem.

    msgspec's path (``$.a[0]``; ``$[...]`` for "some key of a dict") is followed into the
    value, to quote the refused item and name its key."""
    m = _AT.match(text)
    msg, path = m.group("msg"), m.group("path") or "$"
    sub: list = []
    item, item_type = value, tp
    for name, index, some_key in _PART.findall(path[1:]):
        part: Any = name or (int(index) if index else None)
        if some_key:
            inner, _ = _unwrap(item_type)
            value_type = get_args(inner)[-1] if get_origin(inner) is dict else Any
            part = next((k for k, v in item.items() if _fails(v, value_type)), None) if isinstance(item, dict) else None
        try:
            item = item[part]
        except (KeyError, IndexError, TypeError):
            break
        sub.append(part)
        item_type = _type_at(item_type, (part,))
    where = loc + tuple(sub)
    if m.group("key") and isinstance(item, dict):
        bad_key = next((k for k in item if not isinstance(k, str)), None)
        return Problem(where + (bad_key, "[key]"), bad_key, "value", "Input should be a valid string")
    unknown = re.fullmatch(r"Object contains unknown field `(.*)`", msg)
    if unknown:
        return Problem(where + (unknown.group(1),), item, "extra", "Extra inputs are not permitted")
    missing = re.fullmatch(r"Object missing required field `(.*)`", msg)
    if missing:
        return Problem(where + (missing.group(1),), item, "missing", "Field required")
    return Problem(where, item, "value", _message(item_type, item, msg, not sub))


def _item_problems(tp: Any, value: Any, loc: tuple) -> list[Problem]:
    """A refused list or tuple of plain items (``tuple[str, ...]``, ``[height, width]``): one
    problem per bad item or missing one, as pydantic counted them; [] when not such a case."""
    inner, _ = _unwrap(tp)
    arms = get_args(inner) if get_origin(inner) in (Union, types.UnionType) else (inner,)
    seq = next((a for a in arms if get_origin(a) in (tuple, list)), None)
    if seq is None or not isinstance(value, (list, tuple)):
        return []
    args = get_args(seq)
    if get_origin(seq) is list or (len(args) == 2 and args[1] is Ellipsis):
        item_types = [args[0]] * len(value)
    elif len(value) > len(args):
        return []
    else:
        item_types = list(args)
    if any(section_type(t) for t in item_types):
        return []
    found = []
    for i, item_type in enumerate(item_types):
        if i >= len(value):
            found.append(Problem(loc + (i,), value, "missing", "Field required"))
            continue
        try:
            _convert(value[i], item_type)
        except msgspec.ValidationError as exc:
            found.append(_problem(item_type, value[i], loc + (i,), str(exc)))
    return found


def _number_text(x: Any) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _literal_text(choices: list[Any]) -> str:
    shown = [repr(c) for c in choices]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


_NOUNS = {"int": "a valid integer", "float": "a valid number", "bool": "a valid boolean", "str": "a valid string",
          "object": "a valid dictionary"}


def _message(tp: Any, value: Any, msg: str, at_field: bool) -> str:
    """msgspec's message about ``value`` (of type ``tp``) in cnn-tui's (pydantic's) words.

    The forms read here are pinned by tests/test_validation.py::test_msgspec_messages_canary.
    """
    inner, meta = _unwrap(tp)
    typed = re.fullmatch(r"Expected `([^`]*)`, got `(\w+)`", msg)
    if typed and at_field and meta is not None and meta.extra and "refused" in meta.extra:
        return meta.extra["refused"]
    choices = choices_of(tp)
    if choices is not None:
        return f"Input should be {_literal_text(choices)}"
    if re.fullmatch(r"Expected `\w+` (>=|>|<=|<) \S+", msg) and meta is not None:
        number = _convert(value, inner)
        for bound, words in (("le", "less than or equal to"), ("lt", "less than"),
                             ("ge", "greater than or equal to"), ("gt", "greater than")):
            limit = getattr(meta, bound)
            if limit is not None and not {"le": number <= limit, "lt": number < limit,
                                          "ge": number >= limit, "gt": number > limit}[bound]:
                return f"Input should be {words} {_number_text(limit)}"
    length = re.fullmatch(r"Expected `str` of length (>=|<=) (\d+)", msg)
    if length:
        n = int(length.group(2))
        plural = "character" if n == 1 else "characters"
        return f"String should have {'at least' if length.group(1) == '>=' else 'at most'} {n} {plural}"
    long = re.fullmatch(r"Expected `array` of length (\d+), got (\d+)", msg)
    if long:
        return f"Tuple should have at most {long.group(1)} items after validation, not {long.group(2)}"
    if msg == "Number out of range":
        return "Input should be a valid number"
    if typed:
        expected = typed.group(1).split(" | ")[0]
        if expected == "int" and isinstance(value, float) and not isinstance(value, bool):
            if not math.isfinite(value):
                return "Input should be a finite number"
            if not value.is_integer():
                return "Input should be a valid integer, got a number with a fractional part"
        if isinstance(value, str) and expected in ("int", "float"):
            noun = "an integer" if expected == "int" else "a number"
            return f"Input should be {_NOUNS[expected]}, unable to parse string as {noun}"
        if expected == "int" and isinstance(value, float) and abs(value) >= 2**63:
            return "Unable to parse input string as an integer, exceeded maximum size"
        if expected == "bool" and (isinstance(value, str) or (isinstance(value, int) and -(2**63) <= value < 2**63)
                                   or (isinstance(value, float) and math.isfinite(value) and value.is_integer()
                                       and abs(value) < 2**63)):
            return "Input should be a valid boolean, unable to interpret input"
        if expected == "object" and section_type(tp) is not None:
            return f"Input should be a valid dictionary or instance of {section_type(tp).__name__}"
        if expected == "array":
            return "Input should be a valid tuple" if get_origin(inner) is tuple else "Input should be a valid list"
        if expected in _NOUNS:
            return f"Input should be {_NOUNS[expected]}"
    return msg


# ---------------------------------------------------------------------------------------
# Field docstrings (the string literal under a field), read from the source on first use


@cache
def _module_docstrings(module_name: str) -> dict[str, dict[str, str]]:
    """Class name -> {field name -> docstring} for the top-level classes of a module."""
    source = inspect.getsource(sys.modules[module_name])
    out: dict[str, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef):
            docs = out[node.name] = {}
            for field_node, after in zip(node.body, node.body[1:]):
                if (isinstance(field_node, ast.AnnAssign) and isinstance(field_node.target, ast.Name)
                        and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                        and isinstance(after.value.value, str)):
                    docs[field_node.target.id] = inspect.cleandoc(after.value.value)
    return out


def field_docstrings(cls: type) -> dict[str, str]:
    """Field name -> its docstring, for a struct class (fields of base classes included)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if issubclass(klass, Section) and klass is not Section and klass.__module__ in sys.modules:
            docs.update(_module_docstrings(klass.__module__).get(klass.__name__, {}))
    return docs
