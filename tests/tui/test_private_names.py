"""Nothing outside ``cnn_tui/tui/compat/`` names a private part of Textual (or plotext).

Flagged, in every module of ``cnn_tui`` outside the compat package:
- an import from a private module (``textual.widgets._select``, ``plotext._utility``...);
- in a class deriving from a Textual class: a method defined, or a ``self._x`` /
  ``super()._x`` used, where ``_x`` is defined by one of its Textual base classes (an
  override of a private method, a read or write of private state -- also by accident:
  a subclass's own ``self._name`` overwrites Textual's);
- in the front ends (tui, cli): ``obj._x`` on any other object, and ``getattr``/``hasattr``
  of a ``"_x"``, where ``_x`` is a private name that Textual, textual-plotext or plotext
  defines on one of their classes.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cnn_tui"
LIBRARIES = ("textual", "textual_plotext", "plotext")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_names(node: ast.AST) -> set[str]:
    """Private names a class (or a whole module's classes) defines: methods, class
    attributes, ``self._x = ...`` targets."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.ClassDef):
            for item in sub.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                elif isinstance(item, ast.Assign):
                    names.update(t.id for t in item.targets if isinstance(t, ast.Name))
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
        if (isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store)
                and isinstance(sub.value, ast.Name) and sub.value.id == "self"):
            names.add(sub.attr)
    return {n for n in names if _private(n)}


@functools.cache
def _parsed(path: str) -> ast.Module:
    return ast.parse(Path(path).read_text(encoding="utf-8"))


@functools.cache
def library_private_names() -> frozenset[str]:
    """Every private name a class of the libraries defines."""
    names: set[str] = set()
    for library in LIBRARIES:
        root = Path(importlib.import_module(library).__file__).parent
        for path in root.rglob("*.py"):
            names |= _defined_names(_parsed(str(path)))
    return frozenset(names)


@functools.cache
def _class_private_names(cls: type) -> frozenset[str]:
    """Private names one library class defines (its own body only)."""
    names = {n for n in vars(cls) if _private(n)}
    try:
        tree = _parsed(inspect.getsourcefile(cls))
    except TypeError:
        return frozenset(names)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            names |= _defined_names(ast.Module(body=[node], type_ignores=[]))
    return frozenset(names)


def inherited_private_names(cls: type) -> set[str]:
    """Private names the library classes among ``cls``'s bases define."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base.__module__.split(".")[0] in LIBRARIES:
            names |= _class_private_names(base)
    return names


def _is_self_or_super(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def private_uses(path: Path, module_name: str, module: object = None) -> list[str]:
    """``path:line: what`` for each private library name the module ``module_name`` (its
    source at ``path``; ``module``: it imported, else imported here) uses (see the module doc)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hits: set[tuple[int, str]] = set()
    imported_modules = {alias.asname or alias.name.split(".")[0]
                        for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    for node in ast.walk(tree):
        imported = []
        if isinstance(node, ast.ImportFrom) and node.module:
            imported = [node.module]
        elif isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        for dotted in imported:
            parts = dotted.split(".")
            if parts[0] in LIBRARIES and any(p.startswith("_") for p in parts):
                hits.add((node.lineno, f"imports {dotted}"))
    if module_name.startswith(("cnn_tui.tui", "cnn_tui.cli")):
        private = library_private_names()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in private and not _is_self_or_super(node.value):
                if not (isinstance(node.value, ast.Name) and node.value.id in imported_modules):
                    hits.add((node.lineno, f"{ast.unparse(node.value)}.{node.attr}"))
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) > 1):
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("_") and (
                        arg.value in private or arg.value.startswith("__")):
                    hits.add((node.lineno, f"{node.func.id}(..., {arg.value!r})"))
    module = module or importlib.import_module(module_name)
    for cdef in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        cls = getattr(module, cdef.name, None)
        names = inherited_private_names(cls) if isinstance(cls, type) else set()
        if not names:
            continue
        for item in cdef.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in names:
                hits.add((item.lineno, f"{cdef.name} overrides {item.name}"))
            targets = item.targets if isinstance(item, ast.Assign) else [getattr(item, "target", None)]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in names:
                    hits.add((item.lineno, f"{cdef.name} sets {target.id}"))
        for node in ast.walk(cdef):
            if isinstance(node, ast.Attribute) and node.attr in names and _is_self_or_super(node.value):
                hits.add((node.lineno, f"{cdef.name}: {ast.unparse(node.value)}.{node.attr}"))
    return [f"{path}:{line}: {what}" for line, what in sorted(hits)]


def _modules() -> list[tuple[Path, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent)
        if rel.parts[:3] == ("cnn_tui", "tui", "compat") or path.name == "__main__.py":
            continue
        found.append((path, ".".join(rel.with_suffix("").parts).removesuffix(".__init__")))
    return found


def test_no_private_textual_name_outside_compat():
    hits = [hit for path, name in _modules() for hit in private_uses(path, name)]
    assert not hits, "private Textual/plotext names outside cnn_tui/tui/compat/:\n" + "\n".join(hits)


BAD_MODULE = '''
from textual.widgets._select import SelectOverlay
from textual.widgets import Select


class Mine(Select):
    def __init__(self, name):
        super().__init__()
        self._name = name  # Textual's DOMNode._name: overwritten by accident

    def _watch_expanded(self, expanded):
        return self._nodes


class Loose:
    def __init__(self, name):
        self._name = name  # not a Textual class: its own business


def peek(app):
    return app._screen_stacks, getattr(app, "_batch_count", 0)
'''


@pytest.mark.parametrize(
    "expected",
    ["imports textual.widgets._select", "Mine: self._name", "Mine overrides _watch_expanded",
     "Mine: self._nodes", "app._screen_stacks", "getattr(..., '_batch_count')"],
)
def test_the_check_finds_each_kind_of_private_use(tmp_path, monkeypatch, expected):
    module = tmp_path / "compat_probe_mod.py"
    module.write_text(BAD_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    # Named as a module of cnn_tui.tui, so the front-end rules apply.
    hits = private_uses(module, "cnn_tui.tui.compat_probe_mod", importlib.import_module("compat_probe_mod"))
    assert any(expected in hit for hit in hits), hits
    assert not any("Loose" in hit for hit in hits)
