"""Frozen, validated config sections without pydantic.

The experiment config (:mod:`cnn_tui.core.config`) used to be pydantic models. Importing
pydantic and building those models cost ~0.3 s of every ``cnn-tui`` start (measured here:
pydantic 0.16-0.24 s, the seven models 0.08-0.14 s), a third of the time to the first
painted screen, for a schema of a few dozen scalar fields. This module is what the config
needs of pydantic, and nothing more:

* :class:`Section` -- subclass it with annotated fields and defaults (``Field(default,
  ge=, gt=, le=, lt=)`` for bounds); a field's docstring (the string literal under it) is
  its description. Instances are immutable, hashable and compare by value.
* ``Section.model_validate(data)`` -- lax validation with pydantic's rules and messages
  (``"3"`` and ``3.0`` are the integer 3, ``"yes"`` is True, ``1.5`` is not an int, unknown
  keys are refused, every problem is collected); raises :class:`SchemaError`, whose
  ``errors()`` are dicts with ``loc``, ``type``, ``msg`` and ``input`` like pydantic's.
* ``model_dump`` / ``model_dump_json`` / ``model_copy`` / ``model_fields`` with the
  pydantic signatures the code base uses.

Supported field types: bool, int, float, str, ``Literal[...]`` of strings, ``tuple[X, Y]``,
``tuple[X, ...]``, ``dict[str, Any]``, nested sections, and any of them ``| None``; any of
them ``Annotated[X, Before(f)]`` to normalise the raw input with ``f`` first (pydantic
runs the same ``f`` as a before-validator).
``tests/test_schema.py`` checks it against pydantic on the real config schema.
"""

from __future__ import annotations

import ast
import inspect
import json
import math
import re
import sys
import textwrap
import types
from typing import Annotated, Any, Callable, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

_MISSING: Any = object()
_INT_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*(?:\.0*)?\Z", re.ASCII)
_BOOL_WORDS = {
    "0": False, "off": False, "f": False, "false": False, "n": False, "no": False,
    "1": True, "on": True, "t": True, "true": True, "y": True, "yes": True,
}  # fmt: skip


class Field:
    """A field's default and bounds: ``Field(0.1, ge=0.0, lt=1.0)``."""

    __slots__ = ("default", "ge", "gt", "le", "lt")

    def __init__(self, default: Any = _MISSING, *, ge: Any = None, gt: Any = None, le: Any = None, lt: Any = None):
        self.default, self.ge, self.gt, self.le, self.lt = default, ge, gt, le, lt


class Before:
    """``Annotated[X, Before(f)]``: ``f(raw)`` runs before the type check of X, e.g. to read
    one number as a square size. ``f`` returns the value to check, or raises ValueError
    (reported as pydantic reports a before-validator's: ``value_error``, "Value error, ...").

    pydantic honours it too (``__get_pydantic_core_schema__``), so a pydantic model built
    from the same field table (tests/test_schema.py) normalises alike.
    """

    __slots__ = ("func",)

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __repr__(self) -> str:
        return f"Before({getattr(self.func, '__name__', self.func)})"

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema  # only ever called by pydantic

        return core_schema.no_info_before_validator_function(self.func, handler(source))


class FieldInfo:
    """What ``model_fields`` holds per field: annotation, default, bounds, description."""

    __slots__ = ("name", "annotation", "default", "bounds", "_owner")

    def __init__(self, name: str, annotation: Any, default: Any, bounds: Field | None, owner: type) -> None:
        self.name, self.annotation, self.default, self.bounds, self._owner = name, annotation, default, bounds, owner

    @property
    def description(self) -> str | None:
        """The field's docstring (read from the class source on first use)."""
        return _attribute_docstrings(self._owner).get(self.name)

    def __repr__(self) -> str:
        return f"FieldInfo({self.name}: {self.annotation!r} = {self.default!r})"


class SchemaError(ValueError):
    """Validation failed; ``errors()`` lists every problem, first one first."""

    def __init__(self, errors: list[dict[str, Any]], title: str = "") -> None:
        self._errors = errors
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        super().__init__(f"{len(errors)} validation error(s) for {title}: {where}: {first.get('msg', '')}")

    def errors(self) -> list[dict[str, Any]]:
        return list(self._errors)


class _Invalid(Exception):
    def __init__(self, kind: str, msg: str, value: Any, loc: tuple = ()) -> None:
        super().__init__(msg)
        self.kind, self.msg, self.value, self.loc = kind, msg, value, loc


def _error(kind: str, msg: str, value: Any, loc: tuple) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg, "input": value}


def _number_text(x: Any) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _literal_text(choices: tuple) -> str:
    shown = [repr(c) for c in choices]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


# -- scalar coercion (pydantic's lax mode) --------------------------------------------------


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        v_int: Any = int(v)
    else:
        v_int = v
    if isinstance(v_int, int) and -(2**63) <= v_int < 2**63:  # (what pydantic-core reads as an integer)
        if v_int in (0, 1):
            return bool(v_int)
        raise _Invalid("bool_parsing", "Input should be a valid boolean, unable to interpret input", v)
    if isinstance(v, str):
        if v.lower() in _BOOL_WORDS:
            return _BOOL_WORDS[v.lower()]
        raise _Invalid("bool_parsing", "Input should be a valid boolean, unable to interpret input", v)
    raise _Invalid("bool_type", "Input should be a valid boolean", v)


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _Invalid("finite_number", "Input should be a finite number", v)
        if not v.is_integer():
            raise _Invalid("int_from_float", "Input should be a valid integer, got a number with a fractional part", v)
        if abs(v) >= 2**63:
            raise _Invalid("int_parsing_size", "Unable to parse input string as an integer, exceeded maximum size", v)
        return int(v)
    if isinstance(v, str):
        text = v.strip()
        if _INT_TEXT.match(text):
            return int(text.split(".")[0])
        raise _Invalid("int_parsing", "Input should be a valid integer, unable to parse string as an integer", v)
    raise _Invalid("int_type", "Input should be a valid integer", v)


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:
            raise _Invalid("float_type", "Input should be a valid number", v) from None
    if isinstance(v, float):
        return v
    if isinstance(v, str):
        try:
            if not v.isascii():
                raise ValueError(v)
            return float(v.strip())
        except ValueError:
            raise _Invalid("float_parsing", "Input should be a valid number, unable to parse string as a number",
                           v) from None
    raise _Invalid("float_type", "Input should be a valid number", v)


def _to_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    raise _Invalid("string_type", "Input should be a valid string", v)


def _check_bounds(v: Any, b: Field | None) -> Any:
    # pydantic-core's order: le, lt, ge, gt (a NaN fails the first bound there is).
    if b is None:
        return v
    if b.le is not None and not v <= b.le:
        raise _Invalid("less_than_equal", f"Input should be less than or equal to {_number_text(b.le)}", v)
    if b.lt is not None and not v < b.lt:
        raise _Invalid("less_than", f"Input should be less than {_number_text(b.lt)}", v)
    if b.ge is not None and not v >= b.ge:
        raise _Invalid("greater_than_equal", f"Input should be greater than or equal to {_number_text(b.ge)}", v)
    if b.gt is not None and not v > b.gt:
        raise _Invalid("greater_than", f"Input should be greater than {_number_text(b.gt)}", v)
    return v


_SCALARS = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def _validate(ann: Any, v: Any, loc: tuple, errors: list, bounds: Field | None = None) -> Any:
    """``v`` validated against ``ann``; on failure, appends to ``errors`` and returns _MISSING."""
    origin = get_origin(ann)
    try:
        if origin is Annotated:
            inner, *extras = get_args(ann)
            for extra in extras:
                if isinstance(extra, Before):
                    try:
                        v = extra.func(v)
                    except ValueError as exc:
                        raise _Invalid("value_error", f"Value error, {exc}", v) from None
            return _validate(inner, v, loc, errors, bounds)
        if origin in (Union, types.UnionType):
            args = get_args(ann)
            if v is None and type(None) in args:
                return None
            rest = [a for a in args if a is not type(None)]
            if len(rest) != 1:
                raise TypeError(f"unsupported union {ann!r}")
            return _validate(rest[0], v, loc, errors, bounds)
        if ann in _SCALARS:
            return _check_bounds(_SCALARS[ann](v), bounds)
        if origin is Literal:
            choices = get_args(ann)
            if isinstance(v, str) and v in choices:
                return v
            raise _Invalid("literal_error", f"Input should be {_literal_text(choices)}", v)
        if isinstance(ann, type) and issubclass(ann, Section):
            if isinstance(v, ann):
                return v
            if not isinstance(v, dict):
                raise _Invalid("model_type", f"Input should be a valid dictionary or instance of {ann.__name__}", v)
            return ann._validate_dict(v, loc, errors)
        if origin is tuple:
            return _validate_tuple(get_args(ann), v, loc, errors)
        if origin is dict or ann is dict:
            if not isinstance(v, dict):
                raise _Invalid("dict_type", "Input should be a valid dictionary", v)
            key_ann = (get_args(ann) or (Any, Any))[0]
            out = {}
            for key, item in v.items():
                if key_ann is str and not isinstance(key, str):
                    raise _Invalid("string_type", "Input should be a valid string", key, (key, "[key]"))
                out[key] = item
            return out
        if ann is Any:
            return v
    except _Invalid as bad:
        errors.append(_error(bad.kind, bad.msg, bad.value, loc + bad.loc))
        return _MISSING
    raise TypeError(f"unsupported field type {ann!r}")


def _validate_tuple(args: tuple, v: Any, loc: tuple, errors: list) -> Any:
    if not isinstance(v, (list, tuple)):
        raise _Invalid("tuple_type", "Input should be a valid tuple", v)
    if len(args) == 2 and args[1] is Ellipsis:
        anns = [args[0]] * len(v)
    else:
        anns = list(args)
        if len(v) > len(anns):
            raise _Invalid("too_long", f"Tuple should have at most {len(anns)} items after validation, not {len(v)}", v)
    out, ok = [], True
    for i, ann in enumerate(anns):
        if i >= len(v):
            errors.append(_error("missing", "Field required", v, loc + (i,)))
            ok = False
            continue
        item = _validate(ann, v[i], loc + (i,), errors)
        ok = ok and item is not _MISSING
        out.append(item)
    return tuple(out) if ok else _MISSING


# -- sections ---------------------------------------------------------------------------------


_DOCSTRINGS: dict[type, dict[str, str]] = {}
_MODULE_DOCSTRINGS: dict[str, dict[str, dict[str, str]]] = {}


def _docstrings_in(class_node: ast.ClassDef) -> dict[str, str]:
    """Field name -> the string literal right under its annotation, in one class body."""
    docs: dict[str, str] = {}
    body = class_node.body
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _class_nodes(source: str) -> list[ast.ClassDef]:
    try:
        return [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
    except SyntaxError:
        return []


def _module_docstrings(module_name: str) -> dict[str, dict[str, str]]:
    """Class name -> field docstrings, for every top-level class of a module, from one
    parse of its source (``inspect.getsource`` per class re-parsed the whole module each
    time: ~0.13 s for the config's eight classes, before the first paint)."""
    if module_name not in _MODULE_DOCSTRINGS:
        try:
            source = inspect.getsource(sys.modules[module_name])
        except (KeyError, OSError, TypeError):
            source = ""
        _MODULE_DOCSTRINGS[module_name] = {n.name: _docstrings_in(n) for n in _class_nodes(source)}
    return _MODULE_DOCSTRINGS[module_name]


def _attribute_docstrings(cls: type) -> dict[str, str]:
    """Field name -> docstring for ``cls`` (inherited fields: the base class's)."""
    if cls not in _DOCSTRINGS:
        if "<locals>" in cls.__qualname__:  # defined inside a function (tests)
            try:
                nodes = _class_nodes(textwrap.dedent(inspect.getsource(cls)))
            except (OSError, TypeError):
                nodes = []
            docs = _docstrings_in(nodes[0]) if nodes else {}
        else:
            docs = dict(_module_docstrings(cls.__module__).get(cls.__name__, {}))
        for base in cls.__mro__[1:]:
            if base is not Section and isinstance(base, type) and issubclass(base, Section):
                for name, doc in _attribute_docstrings(base).items():
                    docs.setdefault(name, doc)
        _DOCSTRINGS[cls] = docs
    return _DOCSTRINGS[cls]


class Section:
    """A frozen config section: annotated fields with defaults; validation on creation."""

    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    __slots__ = ("__values",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Annotations are strings (``from __future__ import annotations``); everything they
        # name is defined above the class in its module, so they resolve right away.
        super().__init_subclass__(**kwargs)
        hints = get_type_hints(cls, include_extras=True)  # keep Annotated[X, Before(f)]
        fields: dict[str, FieldInfo] = {}
        for klass in reversed(cls.__mro__):
            for name in klass.__dict__.get("__annotations__", {}):
                if name.startswith("_") or get_origin(hints.get(name)) is ClassVar:
                    continue
                raw = klass.__dict__.get(name, _MISSING)
                if isinstance(raw, _FieldAccessor):  # inherited, already resolved
                    fields[name] = klass.model_fields[name]
                    continue
                bounds = raw if isinstance(raw, Field) else None
                default = raw.default if bounds is not None else raw
                if default is _MISSING:
                    raise TypeError(f"{cls.__name__}.{name} needs a default")
                fields[name] = FieldInfo(name, hints[name], default, bounds, cls)
        cls.model_fields = fields
        for name, info in fields.items():
            setattr(cls, name, _FieldAccessor(name, info.default))

    def __init__(self, **data: Any) -> None:
        errors: list = []
        valid = type(self)._validate_dict(data, (), errors)
        if errors:
            raise SchemaError(errors, type(self).__name__)
        object.__setattr__(self, "_Section__values", valid._values())

    # validation ---------------------------------------------------------------------------
    @classmethod
    def _collect(cls, data: dict, loc: tuple, errors: list) -> dict[str, Any]:
        """Field values from ``data`` (defaults for what it lacks); problems go to ``errors``."""
        values: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            if name not in data:
                values[name] = info.default
                continue
            value = _validate(info.annotation, data[name], loc + (name,), errors, info.bounds)
            if value is not _MISSING:
                try:
                    value = cls._check_field(name, value)
                except ValueError as exc:
                    errors.append(_error("value_error", f"Value error, {exc}", data[name], loc + (name,)))
            values[name] = value
        for key, value in data.items():
            if key not in cls.model_fields:
                errors.append(_error("extra_forbidden", "Extra inputs are not permitted", value, loc + (key,)))
        return values

    @classmethod
    def _validate_dict(cls, data: dict, loc: tuple, errors: list) -> Any:
        start = len(errors)
        values = cls._collect(data, loc, errors)
        if len(errors) > start:
            return _MISSING
        obj = _rebuild(cls, values)
        try:
            obj._check()
        except ValueError as exc:
            errors.append(_error("value_error", f"Value error, {exc}", data, loc))
            return _MISSING
        return obj

    @classmethod
    def _check_field(cls, name: str, value: Any) -> Any:
        """Per-field check after the type check; raise ValueError(reason) to refuse."""
        return value

    def _check(self) -> None:
        """Whole-section check once every field is valid; raise ValueError(reason) to refuse."""

    @classmethod
    def model_validate(cls, data: Any) -> Any:
        """A new section from a dict (or the section itself); raises SchemaError."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise SchemaError([_error("model_type", f"Input should be a valid dictionary or instance of {cls.__name__}",
                                      data, ())], cls.__name__)
        errors: list = []
        obj = cls._validate_dict(data, (), errors)
        if errors:
            raise SchemaError(errors, cls.__name__)
        return obj

    # reading --------------------------------------------------------------------------------
    def _values(self) -> dict[str, Any]:
        return object.__getattribute__(self, "_Section__values")

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"{type(self).__name__} is frozen: use model_copy(update={{{name!r}: ...}})")

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(self._values().values())))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values().items())
        return f"{type(self).__name__}({inner})"

    def __reduce__(self) -> tuple:
        return (_rebuild, (type(self), dict(self._values())))

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Any:
        """A copy with some fields replaced (not validated, as in pydantic)."""
        values = dict(self._values())
        for key, value in (update or {}).items():
            if key not in type(self).model_fields:
                raise KeyError(f"{type(self).__name__} has no field {key!r}")
            values[key] = value
        return _rebuild(type(self), values)

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False,
                   exclude_defaults: bool = False) -> dict[str, Any]:
        """The section as plain dicts; ``mode="json"``: tuples as lists (inf and nan stay floats,
        as in pydantic's ``model_dump``)."""
        out: dict[str, Any] = {}
        fields = type(self).model_fields
        for name, value in self._values().items():
            if exclude_defaults and value == fields[name].default:
                continue
            if isinstance(value, Section):
                value = value.model_dump(mode=mode, exclude_none=exclude_none, exclude_defaults=exclude_defaults)
            elif mode == "json":
                value = _jsonable(value)
            if exclude_none and value is None:
                continue
            out[name] = value
        return out

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"))


class _FieldAccessor:
    """Class attribute: the default on the class, the value on an instance."""

    __slots__ = ("name", "default")

    def __init__(self, name: str, default: Any) -> None:
        self.name, self.default = name, default

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return self.default
        return obj._values()[self.name]


def _rebuild(cls: type, values: dict[str, Any]) -> Any:
    obj = object.__new__(cls)
    object.__setattr__(obj, "_Section__values", values)
    return obj


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
