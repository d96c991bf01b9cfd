"""Architectures as data (block lists) and the builder that turns them into Keras models.

Importing this package does not import TensorFlow; :func:`build_model`,
:func:`inference_model`, :func:`summarize` and :func:`load_model` do, when called.
"""

from cnn_tui.core.models.architectures import ARCHITECTURES, Architecture, blocks_source, resolve_blocks
from cnn_tui.core.models.blocks import SYNTAX, parse_block, parse_blocks
from cnn_tui.core.models.builder import build_model, inference_model, placeholder_stats
from cnn_tui.core.models.layers import custom_layers, load_model
from cnn_tui.core.models.shapes import ShapeRow, format_shape, plan_shapes, total_params
from cnn_tui.core.models.summary import LayerRow, ModelSummary, summarize

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "LayerRow",
    "ModelSummary",
    "SYNTAX",
    "ShapeRow",
    "blocks_source",
    "build_model",
    "custom_layers",
    "format_shape",
    "inference_model",
    "load_model",
    "parse_block",
    "parse_blocks",
    "placeholder_stats",
    "plan_shapes",
    "resolve_blocks",
    "summarize",
    "total_params",
]
