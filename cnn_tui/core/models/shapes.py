"""Shape planning in pure Python: output shape and parameter count of every block.

The builder calls :func:`plan_shapes` before touching Keras, so an architecture that does
not fit the input fails with a one-line :class:`ModelError` naming the block and the
input size; the TUI uses it for a live summary without importing TensorFlow.

Rules (padding "same" unless a conv says "valid"):

* conv same: ``ceil(n / stride)``; conv valid: ``(n - kernel) // stride + 1`` and the
  kernel must fit; pool (always same): ``ceil(n / stride)``.
* A pool or a strided conv on a spatial size of 1 is refused ("would shrink ... below
  1x1"): it could only repeat the 1x1 map, so the architecture is too deep for the input.
* conv/pool/gap need a feature map; dense needs flatten or gap before it; the last block
  must leave a flat vector for the classifier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnn_tui.core.errors import ModelError
from cnn_tui.core.formatting import format_shape
from cnn_tui.core.models.architectures import blocks_source, resolve_blocks
from cnn_tui.core.models.blocks import (
    BatchNorm,
    Block,
    Conv,
    Dense,
    Dropout,
    Flatten,
    GlobalPool,
    Pool,
    parse_blocks,
)


@dataclass(frozen=True)
class ShapeRow:
    """One block of the plan: its text, output shape (no batch dim) and parameter count."""

    block: str
    output_shape: tuple[int, ...]
    params: int = 0
    note: str = ""

    @property
    def shape_text(self) -> str:
        return format_shape(self.output_shape)


def _check_input(input_shape, num_classes) -> tuple[int, int, int]:
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ModelError(f"input shape {input_shape!r}: expected (height, width, channels)") from None
    if len(shape) != 3 or min(shape) < 1:
        raise ModelError(f"input shape {input_shape!r}: expected (height, width, channels), all at least 1")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ModelError(f"num_classes = {num_classes!r}: need at least 2 classes")
    return shape  # type: ignore[return-value]


def plan_blocks(
    blocks: tuple[Block, ...], model_cfg, input_shape, num_classes: int, where: str, texts=None
) -> list[ShapeRow]:
    """Plan already-parsed blocks; see :func:`plan_shapes`. ``texts``: the blocks as written."""
    texts = [" ".join(str(t).split()) for t in texts] if texts is not None else [str(b) for b in blocks]
    shape = _check_input(input_shape, num_classes)
    in_text = format_shape(shape)
    bn_auto = bool(model_cfg.batch_norm)
    use_bias = not (bn_auto and model_cfg.bn_order == "pre")
    rows: list[ShapeRow] = []
    cur: tuple[int, ...] = shape

    def fail(i: int, block: Block, problem: str) -> ModelError:
        sep = " " if problem.startswith("would") else ": "
        return ModelError(f"{where}: block {i} '{texts[i - 1]}'{sep}{problem} (input {in_text})")

    for i, block in enumerate(blocks, start=1):
        params, note = 0, ""
        spatial = len(cur) == 3
        if isinstance(block, (Conv, Pool, GlobalPool)) and not spatial:
            raise fail(i, block, f"needs a feature map, but the tensor is already flat ({format_shape(cur)})")
        if isinstance(block, Conv):
            h, w, c = cur
            if block.padding == "valid":
                if block.kernel > h or block.kernel > w:
                    raise fail(i, block, f"kernel {block.kernel}x{block.kernel} does not fit {format_shape(cur)} "
                                         "with valid padding")
                oh, ow = (h - block.kernel) // block.stride + 1, (w - block.kernel) // block.stride + 1
            else:
                if block.stride > 1 and min(h, w) == 1:
                    raise fail(i, block, f"would shrink {format_shape(cur)} below 1x1")
                oh, ow = math.ceil(h / block.stride), math.ceil(w / block.stride)
            params = block.kernel * block.kernel * c * block.filters
            params += block.filters if use_bias else 0
            params += 4 * block.filters if bn_auto else 0
            cur = (oh, ow, block.filters)
        elif isinstance(block, Pool):
            h, w, c = cur
            if block.stride > 1 and min(h, w) == 1:
                raise fail(i, block, f"would shrink {format_shape(cur)} below 1x1")
            cur = (math.ceil(h / block.stride), math.ceil(w / block.stride), c)
        elif isinstance(block, GlobalPool):
            cur = (cur[2],)
        elif isinstance(block, Flatten):
            cur = (math.prod(cur),)
        elif isinstance(block, Dense):
            if spatial:
                raise fail(i, block, f"dense needs flatten or gap before it (the tensor is {format_shape(cur)})")
            params = cur[0] * block.units + (block.units if use_bias else 0) + (4 * block.units if bn_auto else 0)
            cur = (block.units,)
        elif isinstance(block, Dropout):
            rate = model_cfg.dropout if block.rate is None else block.rate
            if rate == 0:
                note = "off (model.dropout = 0)" if block.rate is None else "off (rate 0)"
            else:
                note = f"rate {rate:g}"
        elif isinstance(block, BatchNorm):
            params = 4 * cur[-1]
        rows.append(ShapeRow(texts[i - 1], cur, params, note))

    if len(cur) != 1:
        raise ModelError(
            f"{where}: the last block leaves a {format_shape(cur)} feature map; end with 'flatten' or 'gap' "
            f"before the classifier (input {in_text})"
        )
    rows.append(ShapeRow(f"classifier dense {num_classes} softmax", (num_classes,), cur[0] * num_classes + num_classes))
    return rows


def plan_shapes(model_cfg, input_shape, num_classes: int) -> list[ShapeRow]:
    """Output shape and parameter count of every block, plus a final classifier row.

    Pure Python (no TensorFlow). Raises :class:`ModelError` naming the block and the
    input size when the architecture does not fit, e.g. ``architecture 'vgg10': block 12
    'pool max 2' would shrink 1x1x512 below 1x1 (input 8x8x1)``.
    """
    where = blocks_source(model_cfg)
    texts = resolve_blocks(model_cfg)
    blocks = parse_blocks(texts, where)
    return plan_blocks(blocks, model_cfg, input_shape, num_classes, where, texts)


def total_params(rows: list[ShapeRow]) -> int:
    """Parameters of the planned model (trainable and BN statistics; preprocessing has none)."""
    return sum(r.params for r in rows)
