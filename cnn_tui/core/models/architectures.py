"""Built-in architectures: block lists that reproduce the seed experiments.

Each entry is data (see :mod:`cnn_tui.core.models.blocks`). The toggles of
``ModelConfig`` (activation, initializer, batch_norm, dropout, l2) apply across the
list; the classifier ``Dense(num_classes)`` + softmax is added by the builder.
Every built-in plans for 32x32x3 and 28x28x1 inputs (a test checks this).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from cnn_tui.core.errors import ModelError


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    blocks: tuple[str, ...]


def _vgg_pair(filters: int) -> tuple[str, ...]:
    return (f"conv {filters} 3", f"conv {filters} 3", "pool max 2")


_ARCHS = [
    Architecture(
        "tiny",
        "Small 2-conv CNN for 8x8 digits (~36k params there): conv32-pool-conv64-pool-dense64.",
        ("conv 32 3", "pool max 2", "conv 64 3", "pool max 2", "flatten", "dense 64"),
    ),
    Architecture(
        "lecture_basic",
        "CIFAR-10 lecture A1: conv3x3x32 -> pool -> conv3x3x64 -> pool -> dense 384.",
        ("conv 32 3", "pool max 2", "conv 64 3", "pool max 2", "flatten", "dense 384"),
    ),
    Architecture(
        "vgg10",
        "CIFAR-10 lecture A2-A8: 5 VGG blocks of two 3x3 convs (64,128,256,512,512) + pool "
        "(32 -> 1); dropout on the flattened features (model.dropout, off at 0).",
        _vgg_pair(64) + _vgg_pair(128) + _vgg_pair(256) + _vgg_pair(512) + _vgg_pair(512)
        + ("flatten", "dropout"),
    ),
    Architecture(
        "assignment_baseline",
        "Assignment B ablation baseline: one conv3x3x64 + pool, straight to the classifier.",
        ("conv 64 3", "pool max 2", "flatten"),
    ),
    Architecture(
        "assignment_3layer",
        "Assignment B final model: conv64-pool-conv48-dropout-pool-conv32-pool(stride 1) "
        "-> flatten 8x8x32 (batch norm via model.batch_norm, post order).",
        ("conv 64 3", "pool max 2", "conv 48 3", "dropout", "pool max 2",
         "conv 32 3", "pool max 2 s1", "flatten"),
    ),
    Architecture(
        "weather1",
        "Weather C1: conv5x5x32 -> pool -> conv3x3x64 -> pool -> conv3x3x64 (valid padding) "
        "-> dense 64 (14.8M params at 256x256x3).",
        ("conv 32 5 valid", "pool max 2", "conv 64 3 valid", "pool max 2", "conv 64 3 valid",
         "flatten", "dense 64"),
    ),
    Architecture(
        "weather2",
        "Weather C2: convs 32,64,128,256,512 each + pool, conv 512, dense 512/256/128 "
        "(the seed's last conv was 3x3 valid at 256x256; same padding here so 32x32 fits).",
        ("conv 32 3", "pool max 2", "conv 64 3", "pool max 2", "conv 128 3", "pool max 2",
         "conv 256 3", "pool max 2", "conv 512 3", "pool max 2", "conv 512 3",
         "flatten", "dense 512", "dense 256", "dense 128"),
    ),
    Architecture(
        "weather3",
        "Weather C3: pairs of 3x3 convs (64,128,256) + pool, global average pooling, "
        "dense 512 + dropout, dense 128 + dropout (batch norm via model.batch_norm).",
        ("conv 64 3", "conv 64 3", "pool max 2", "conv 128 3", "conv 128 3", "pool max 2",
         "conv 256 3", "conv 256 3", "pool max 2", "gap",
         "dense 512", "dropout", "dense 128", "dropout"),
    ),
    Architecture(
        "project_2_1",
        "Course project D1: 5 convs + 2 pools + dense 64.",
        ("conv 32 3", "conv 32 3", "pool max 2", "conv 64 3", "conv 64 3", "conv 64 3",
         "pool max 2", "flatten", "dense 64"),
    ),
    Architecture(
        "project_2_2",
        "Course project D2: conv128-bn-conv256-bn-pool3-bn-conv512-bn-conv1024(5x5 valid)-bn"
        "-pool-bn-flatten-dense 60 sigmoid-dropout 0.001 (15.6M params at 32x32x3).",
        ("conv 128 3", "bn", "conv 256 3", "bn", "pool max 3", "bn", "conv 512 3", "bn",
         "conv 1024 5 valid", "bn", "pool max 2", "bn", "flatten", "dense 60 sigmoid",
         "dropout 0.001"),
    ),
    Architecture(
        "mnist_study",
        "MNIST study E: conv5x5x64 x2 -> pool -> dropout -> conv3x3x64 x2 -> pool -> dropout "
        "-> conv3x3x64 -> dropout -> dense 256 -> dropout (~1.0M params at 28x28x1).",
        ("conv 64 5", "conv 64 5", "pool max 2", "dropout", "conv 64 3", "conv 64 3",
         "pool max 2", "dropout", "conv 64 3", "dropout", "flatten", "dense 256", "dropout"),
    ),
]

ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in _ARCHS}


def blocks_source(model_cfg) -> str:
    """How errors name where the blocks came from: ``model.blocks`` or ``architecture 'x'``."""
    if model_cfg.blocks is not None:
        return "model.blocks"
    return f"architecture {model_cfg.architecture!r}"


def resolve_blocks(model_cfg) -> tuple[str, ...]:
    """The block strings of a model config: its own ``blocks`` or the named architecture's.

    ``model.dropout`` acts at the plain ``dropout`` blocks; where there are none, a
    dropout block goes before the classifier, so the toggle is never silently a no-op.
    """
    blocks = _own_blocks(model_cfg)
    if model_cfg.dropout > 0 and not any(str(b).strip().lower() == "dropout" for b in blocks):
        blocks = (*blocks, "dropout")
    return blocks


def _own_blocks(model_cfg) -> tuple[str, ...]:
    if model_cfg.blocks is not None:
        return tuple(model_cfg.blocks)
    name = model_cfg.architecture
    if name == "custom":
        raise ModelError("model.architecture = 'custom' needs model.blocks (a list like ['conv 32 3', 'flatten'])")
    arch = ARCHITECTURES.get(name)
    if arch is None:
        close = difflib.get_close_matches(name, list(ARCHITECTURES), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ModelError(
            f"model.architecture = {name!r}: unknown architecture ({hint}known: {', '.join(ARCHITECTURES)}, "
            "or 'custom' with model.blocks)"
        )
    return arch.blocks
