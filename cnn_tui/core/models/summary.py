"""A plain-data summary of a built Keras model (for the TUI, the CLI and run records)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cnn_tui.core.models.shapes import format_shape


@dataclass(frozen=True)
class LayerRow:
    """One layer: name, class name, output shape as text ("16x16x32") and parameter count."""

    name: str
    kind: str
    output_shape: str
    params: int


@dataclass(frozen=True)
class ModelSummary:
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params


def _output_shape(layer) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return "?"
    if isinstance(shape, list):  # several outputs: show the first
        shape = shape[0]
    return format_shape(shape)


def summarize(model) -> ModelSummary:
    """Rows for every layer of ``model`` (the input layer included), with parameter totals."""
    rows = [
        LayerRow(layer.name, type(layer).__name__, _output_shape(layer), int(layer.count_params()) if layer.built else 0)
        for layer in model.layers
    ]
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return ModelSummary(rows=rows, total_params=int(model.count_params()), trainable_params=int(trainable))
