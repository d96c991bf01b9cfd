"""The block mini-language: one string per layer group, as written in TOML arrays.

Grammar (words separated by spaces, case-insensitive)::

    conv FILTERS KERNEL [sSTRIDE] [valid|same]   # padding defaults to same
    pool [max|avg] SIZE [sSTRIDE]                # padding is always same; stride defaults to SIZE
    gap                                          # global average pooling
    flatten
    dense UNITS [ACTIVATION]                     # activation defaults to model.activation
    dropout [RATE]                               # no rate: model.dropout (omitted when it is 0)
    bn                                           # explicit batch normalization, always present

The classifier (``Dense(num_classes)`` + softmax) is added by the builder, so a block
list ends with the last hidden layer. Parsing is pure Python (no TensorFlow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from cnn_tui.core.errors import ModelError

SYNTAX = {
    "conv": "conv FILTERS KERNEL [sSTRIDE] [valid|same]",
    "pool": "pool [max|avg] SIZE [sSTRIDE]",
    "gap": "gap",
    "flatten": "flatten",
    "dense": "dense UNITS [ACTIVATION]",
    "dropout": "dropout [RATE]",
    "bn": "bn",
}

#: Activations a ``dense`` block may name (the config's choices plus linear).
DENSE_ACTIVATIONS = ("relu", "leaky_relu", "elu", "tanh", "sigmoid", "linear")

_MAX_FILTERS = 65_536
_MAX_KERNEL = 64


@dataclass(frozen=True)
class Conv:
    filters: int
    kernel: int
    stride: int = 1
    padding: str = "same"
    kind = "conv"

    def __str__(self) -> str:
        parts = [f"conv {self.filters} {self.kernel}"]
        if self.stride != 1:
            parts.append(f"s{self.stride}")
        if self.padding != "same":
            parts.append(self.padding)
        return " ".join(parts)


@dataclass(frozen=True)
class Pool:
    size: int
    stride: int
    mode: str = "max"
    kind = "pool"

    def __str__(self) -> str:
        tail = f" s{self.stride}" if self.stride != self.size else ""
        return f"pool {self.mode} {self.size}{tail}"


@dataclass(frozen=True)
class GlobalPool:
    kind = "gap"

    def __str__(self) -> str:
        return "gap"


@dataclass(frozen=True)
class Flatten:
    kind = "flatten"

    def __str__(self) -> str:
        return "flatten"


@dataclass(frozen=True)
class Dense:
    units: int
    activation: str | None = None
    kind = "dense"

    def __str__(self) -> str:
        return f"dense {self.units}" + (f" {self.activation}" if self.activation else "")


@dataclass(frozen=True)
class Dropout:
    rate: float | None = None
    kind = "dropout"

    def __str__(self) -> str:
        return "dropout" if self.rate is None else f"dropout {self.rate:g}"


@dataclass(frozen=True)
class BatchNorm:
    kind = "bn"

    def __str__(self) -> str:
        return "bn"


Block = Union[Conv, Pool, GlobalPool, Flatten, Dense, Dropout, BatchNorm]


def _fail(where: str, index: int, text: str, problem: str, kind: str | None = None) -> ModelError:
    syntax = f" (syntax: {SYNTAX[kind]})" if kind else ""
    return ModelError(f"{where}: block {index} {text!r}: {problem}{syntax}")


def _int(word: str, what: str, lo: int, hi: int, fail) -> int:
    try:
        value = int(word)
    except ValueError:
        raise fail(f"{what} must be a whole number, got {word!r}") from None
    if not lo <= value <= hi:
        raise fail(f"{what} must be between {lo} and {hi}, got {value}")
    return value


def _is_stride(word: str) -> bool:
    return len(word) > 1 and word[0] == "s" and word[1:].isdigit()


def _stride(word: str, fail) -> int:
    return _int(word[1:], "stride (sN)", 1, _MAX_KERNEL, fail)


def parse_block(text: str, index: int = 1, where: str = "model.blocks") -> Block:
    """Parse one block string; ``index`` (1-based) and ``where`` only shape the error message."""
    if not isinstance(text, str):
        raise ModelError(f"{where}: block {index} must be a string like 'conv 32 3', got {text!r}")
    words = text.lower().split()
    if not words:
        raise ModelError(f"{where}: block {index} is empty (known blocks: {', '.join(SYNTAX)})")
    kind, args = words[0], words[1:]
    if kind not in SYNTAX:
        raise _fail(where, index, text, f"unknown block type {kind!r} (known: {', '.join(SYNTAX)})")

    def fail(problem: str) -> ModelError:
        return _fail(where, index, text, problem, kind)

    if kind == "conv":
        if len(args) < 2 or not args[0].isdigit() or not args[1].isdigit():
            raise fail("conv needs FILTERS and KERNEL first, e.g. 'conv 32 3'")
        filters = _int(args[0], "FILTERS", 1, _MAX_FILTERS, fail)
        kernel = _int(args[1], "KERNEL", 1, _MAX_KERNEL, fail)
        stride, padding = 1, "same"
        for word in args[2:]:
            if word in ("same", "valid"):
                padding = word
            elif _is_stride(word):
                stride = _stride(word, fail)
            else:
                raise fail(f"unexpected {word!r}")
        return Conv(filters, kernel, stride, padding)
    if kind == "pool":
        mode = "max"
        rest = list(args)
        if rest and rest[0] in ("max", "avg"):
            mode = rest.pop(0)
        if not rest or _is_stride(rest[0]):
            raise fail("pool needs SIZE, e.g. 'pool max 2'")
        size = _int(rest.pop(0), "SIZE", 1, _MAX_KERNEL, fail)
        stride = size
        if rest:
            if not _is_stride(rest[0]):
                raise fail(f"unexpected {rest[0]!r}")
            stride = _stride(rest.pop(0), fail)
        if rest:
            raise fail(f"unexpected {rest[0]!r}")
        return Pool(size, stride, mode)
    if kind in ("gap", "flatten", "bn"):
        if args:
            raise fail(f"{kind} takes no arguments")
        return {"gap": GlobalPool, "flatten": Flatten, "bn": BatchNorm}[kind]()
    if kind == "dense":
        if not 1 <= len(args) <= 2:
            raise fail("dense needs UNITS, e.g. 'dense 64'")
        units = _int(args[0], "UNITS", 1, 1_000_000, fail)
        activation = None
        if len(args) == 2:
            if args[1] not in DENSE_ACTIVATIONS:
                raise fail(f"unknown activation {args[1]!r} (allowed: {', '.join(DENSE_ACTIVATIONS)})")
            activation = args[1]
        return Dense(units, activation)
    # dropout
    if len(args) > 1:
        raise fail("dropout takes at most one RATE")
    if not args:
        return Dropout(None)
    try:
        rate = float(args[0])
    except ValueError:
        raise fail(f"RATE must be a number, got {args[0]!r}") from None
    if not 0.0 <= rate < 1.0:
        raise fail(f"RATE must be at least 0 and below 1, got {args[0]}")
    return Dropout(rate)


def parse_blocks(blocks, where: str = "model.blocks") -> tuple[Block, ...]:
    """Parse a block list; errors name the 1-based block index and its text."""
    if isinstance(blocks, str) or not isinstance(blocks, (list, tuple)):
        raise ModelError(f"{where}: expected a list of block strings, got {blocks!r}")
    return tuple(parse_block(text, i, where) for i, text in enumerate(blocks, start=1))
