"""The experiment config: one schema for data, model and training, with TOML load/save.

An :class:`ExperimentConfig` is plain data: frozen msgspec structs, unknown keys rejected,
the one validation stack of cnn-tui (:mod:`cnn_tui.core.validation`; plan files,
:mod:`cnn_tui.core.engine.plan`, use it too). Every field has a docstring; :func:`field_docs`
exposes them to the CLI and the TUI (read from this file's source on first use). Errors are
:class:`~cnn_tui.core.errors.ConfigError` with one line that names
the file, the dotted key, the bad value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import msgspec
import tomli_w

from cnn_tui.core.errors import ConfigError
from cnn_tui.core.fsutil import atomic_write_text
from cnn_tui.core.validation import Meta, Section, ValidationError, choices_of, field_docstrings, problems
from cnn_tui.core.validation import section_type, shown_type, struct_fields

Normalization = Literal["none", "rescale", "zero_center", "standardize"]
Activation = Literal["relu", "leaky_relu", "elu", "tanh", "sigmoid"]
Initializer = Literal["glorot_uniform", "he_normal", "truncated_normal_001"]
Optimizer = Literal["sgd", "adam", "rmsprop", "adamw"]
Monitor = Literal["val_accuracy", "val_loss", "accuracy", "loss"]


_SQUARE = "expected [height, width] or one number for a square, e.g. 32"
# One number is a square image size (DataConfig._check turns 32 into (32, 32)); shown as the pair.
ImageSize = Annotated[int | tuple[int, int] | None, Meta(extra={"refused": _SQUARE, "shown_type": "tuple[int, int] | None"})]


class AugmentConfig(Section, frozen=True, forbid_unknown_fields=True):
    """Random augmentation, applied by Keras preprocessing layers during training only."""

    hflip: bool = False
    """Random left-right flip."""
    vflip: bool = False
    """Random up-down flip."""
    rot90: bool = False
    """Random rotation by a multiple of 90 degrees (square images only)."""
    rotation: Annotated[float, Meta(ge=0.0, le=180.0)] = 0.0
    """Random rotation up to +/- this many degrees (0 = off)."""
    shift: Annotated[float, Meta(ge=0.0, lt=1.0)] = 0.0
    """Random translation up to this fraction of height and width (0 = off)."""
    zoom: Annotated[float, Meta(ge=0.0, lt=1.0)] = 0.0
    """Random zoom in/out up to this fraction (0 = off)."""
    shear: Annotated[float, Meta(ge=0.0, lt=1.0)] = 0.0
    """Random shear up to this fraction (0 = off)."""
    brightness: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.0
    """Random brightness change up to this fraction of the value range (0 = off)."""
    contrast: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.0
    """Random contrast change up to this factor (0 = off)."""

    @property
    def any(self) -> bool:
        """Whether any augmentation is on."""
        return any(bool(getattr(self, name)) for name in self.__struct_fields__)


class DataConfig(Section, frozen=True, forbid_unknown_fields=True):
    """Where the images come from and how they are split and preprocessed."""

    dataset: str = "digits"
    """Dataset: digits, fashion_mnist, mnist, cifar10, cifar100, folder:PATH or arrays:PATH."""
    image_size: ImageSize = None
    """Resize images to [height, width], or one number for a square (32 = [32, 32]); folder: default 64x64."""
    color_mode: Literal["auto", "grayscale", "rgb"] = "auto"
    """Channels for folder: datasets: auto keeps what the files have (RGB if mixed)."""
    labels_from: Literal["subfolder", "prefix"] = "subfolder"
    """folder: datasets: class = sub-folder name, or the file-name prefix before the first digit/separator."""
    validation_split: Annotated[float, Meta(ge=0.0, lt=1.0)] = 0.1
    """Fraction of the training split held out for validation (stratified, seeded)."""
    test_split: Annotated[float, Meta(gt=0.0, lt=1.0)] = 0.2
    """Fraction held out as test set for sources without an official test split."""
    train_limit: Annotated[int, Meta(ge=1)] | None = None
    """Use a stratified subset of at most this many training images (quick runs)."""
    test_limit: Annotated[int, Meta(ge=1)] | None = None
    """Use a stratified subset of at most this many test images."""
    split_seed: int = 0
    """Seed of the train/validation/test split and the subsets (kept fixed across repeats)."""
    normalization: Normalization = "rescale"
    """Input normalization layer: none, rescale (x/255), zero_center ((x-mean)/max|.|), standardize (per-channel)."""
    augment: AugmentConfig = AugmentConfig()
    """Training-time augmentation toggles."""

    def _check(self) -> None:
        if isinstance(self.image_size, int):
            msgspec.structs.force_setattr(self, "image_size", (self.image_size, self.image_size))


class ModelConfig(Section, frozen=True, forbid_unknown_fields=True):
    """The architecture and the toggles applied across it."""

    architecture: str = "tiny"
    """Name of a built-in architecture, or 'custom' to use `blocks`."""
    blocks: tuple[str, ...] | None = None
    """Own block list (overrides `architecture`), e.g. ["conv 32 3", "pool max 2", "flatten", "dense 64"]."""
    activation: Activation = "relu"
    """Activation after every conv and hidden dense layer."""
    initializer: Initializer = "glorot_uniform"
    """Kernel initializer; truncated_normal_001 is the lecture's N(0, 0.01)."""
    bias_init: float = 0.0
    """Initial value of every bias (the lecture used 0.1)."""
    batch_norm: bool = False
    """Batch normalization after every conv and hidden dense layer (convs then have no bias)."""
    bn_order: Literal["pre", "post"] = "pre"
    """Batch norm before the activation (pre) or after it (post)."""
    bn_momentum: Annotated[float, Meta(ge=0.0, lt=1.0)] = 0.9
    """Momentum of batch norm's moving mean/variance, the statistics used at test time.
    Keras' default 0.99 needs ~500 steps to settle: on short runs the test accuracy of a
    BN net then collapses to chance while the training accuracy looks fine."""
    dropout: Annotated[float, Meta(ge=0.0, lt=1.0)] = 0.0
    """Dropout rate at the architecture's marked places (plain `dropout` blocks), or before
    the classifier where it has none; 0 removes them."""
    l2: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.0
    """L2 weight penalty on every kernel (0 = off)."""


class ReduceLRConfig(Section, frozen=True, forbid_unknown_fields=True):
    """keras.callbacks.ReduceLROnPlateau."""

    enabled: bool = False
    """Lower the learning rate when the monitored metric stops improving."""
    monitor: Monitor = "val_accuracy"
    """Metric to watch."""
    factor: Annotated[float, Meta(gt=0.0, lt=1.0)] = 0.1
    """Multiply the learning rate by this."""
    patience: Annotated[int, Meta(ge=0)] = 5
    """Epochs without improvement before lowering."""
    cooldown: Annotated[int, Meta(ge=0)] = 3
    """Epochs to wait after a reduction."""
    min_lr: Annotated[float, Meta(ge=0.0)] = 0.0
    """Lower bound of the learning rate."""


class EarlyStoppingConfig(Section, frozen=True, forbid_unknown_fields=True):
    """keras.callbacks.EarlyStopping."""

    enabled: bool = False
    """Stop when the monitored metric stops improving."""
    monitor: Monitor = "val_accuracy"
    """Metric to watch."""
    patience: Annotated[int, Meta(ge=0)] = 3
    """Epochs without improvement before stopping."""
    restore_best: bool = True
    """Restore the weights of the best epoch at the end."""


class TrainConfig(Section, frozen=True, forbid_unknown_fields=True):
    """Optimizer, schedule, callbacks and device options."""

    epochs: Annotated[int, Meta(ge=1, le=100_000)] = 10
    """Number of epochs."""
    batch_size: Annotated[int, Meta(ge=1, le=65_536)] = 128
    """Images per batch."""
    optimizer: Optimizer = "adam"
    """Optimizer."""
    learning_rate: Annotated[float, Meta(gt=0.0, le=10.0)] = 1e-3
    """Initial learning rate."""
    momentum: Annotated[float, Meta(ge=0.0, lt=1.0)] = 0.0
    """Momentum (sgd and rmsprop only)."""
    lr_schedule: Literal["constant", "cosine", "exponential"] = "constant"
    """Learning-rate schedule over epochs."""
    lr_decay: Annotated[float, Meta(gt=0.0, le=1.0)] = 0.95
    """Per-epoch factor of the exponential schedule."""
    seed: int = 42
    """Seed of weights, shuffling and augmentation."""
    reduce_lr: ReduceLRConfig = ReduceLRConfig()
    """ReduceLROnPlateau callback."""
    early_stopping: EarlyStoppingConfig = EarlyStoppingConfig()
    """EarlyStopping callback."""
    precise_bn: bool = True
    """Before evaluation, re-estimate batch-norm moving statistics with the trained weights
    ("precise BN"): one training-mode pass over train.precise_bn_images training images,
    augmentation and dropout off. Short runs otherwise test with statistics that still
    remember the first steps. No effect without batch norm."""
    precise_bn_images: Annotated[int, Meta(ge=1, le=1_000_000)] = 2000
    """Training images (rounded up to whole batches, at most the training split) the
    precise-BN pass averages batch statistics over."""
    mixed_precision: bool = False
    """Train in mixed_float16 (useful on GPUs; slow on CPUs)."""
    jit_compile: bool = False
    """Compile with XLA (faster on some GPUs, slower on this CPU)."""
    distribute: Literal["none", "mirrored"] = "none"
    """tf.distribute strategy: mirrored trains on all local GPUs."""
    tensorboard: bool = True
    """Write TensorBoard logs to the run's tb/ folder."""
    save_model: bool = True
    """Save the trained model as model.keras in the run folder."""
    checkpoint: bool = True
    """Checkpoint model and optimizer at epoch ends (what `cnn-tui resume` continues from)."""
    checkpoint_every: Annotated[float, Meta(ge=0.0, le=86400.0)] = 30.0
    """Seconds of training between two checkpoints, written at the first epoch end after
    that long (0 = every epoch). The first completed epoch is always written, and a stop or
    failure writes the last completed epoch anyway."""

    def _check(self) -> None:
        if self.lr_schedule != "constant" and self.reduce_lr.enabled:
            raise ValueError(
                f"lr_schedule = {self.lr_schedule!r} and reduce_lr.enabled = true both set the learning rate;"
                " choose one (lr_schedule = 'constant' to use reduce_lr)"
            )


def _name_fits_a_folder(value: str) -> None:
    if not value or len(value) > 64 or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in value):
        raise ValueError("must be 1-64 characters of letters, digits, '-', '_' or '.'")


class ExperimentConfig(Section, frozen=True, forbid_unknown_fields=True):
    """A complete, resolved experiment: what a preset file holds and a run stores."""

    name: str = "experiment"
    """Short name, used in run folder names."""
    description: str = ""
    """What this experiment is (for presets: the seed it reproduces and the reported figure)."""
    data: DataConfig = DataConfig()
    """Dataset and preprocessing."""
    model: ModelConfig = ModelConfig()
    """Architecture and toggles."""
    train: TrainConfig = TrainConfig()
    """Training."""
    experiment: dict[str, Any] | None = None
    """Optional study plan (grid / repeat / ablation / variants); see `cnn-tui experiment`."""

    field_checks: ClassVar = {"name": _name_fits_a_folder}


# ---------------------------------------------------------------------------------------
# Loading, saving, overrides


def _format_problems(cls: type[Section], data: Any, source: str) -> str:
    """The first problem of ``data`` as one line: file, dotted key, the value as written, why."""
    found = problems(cls, data) or [None]
    first = found[0]
    prefix = f"{source}: " if source else ""
    if first is None:  # (refused by msgspec, passed by the walk: should not happen)
        return f"{prefix}invalid config"
    loc = ".".join(str(p) for p in first.loc if not isinstance(p, int)) or "(top level)"
    if first.kind == "extra":
        parent = loc.rsplit(".", 1)[0] if "." in loc else ""
        allowed = ", ".join(_allowed_keys(parent))
        return f"{prefix}unknown key '{loc}' (allowed here: {allowed})"
    more = len(found) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if first.kind == "missing":
        return f"{prefix}{loc}: required key is missing{tail}"
    if isinstance(first.value, dict):
        return f"{prefix}{loc}: {first.msg}{tail}"
    return f"{prefix}{loc} = {first.value!r}: {first.msg}{tail}"


def _section_model(dotted_parent: str) -> type[Section] | None:
    model: type[Section] | None = ExperimentConfig
    for part in dotted_parent.split(".") if dotted_parent else ():
        field = next((f for f in struct_fields(model) if f.name == part), None)
        model = section_type(field.type) if field else None
        if model is None:
            return None
    return model


def _allowed_keys(dotted_parent: str) -> list[str]:
    model = _section_model(dotted_parent)
    return list(model.__struct_fields__) if model else []


def config_from_dict(data: dict[str, Any], source: str = "") -> ExperimentConfig:
    """Validate a plain dict (as read from TOML) into an :class:`ExperimentConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source or 'config'}: expected a table of sections, got {type(data).__name__}")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError:
        raise ConfigError(_format_problems(ExperimentConfig, data, source)) from None


def load_config(path: str | os.PathLike) -> ExperimentConfig:
    """Read and validate a TOML experiment file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: malformed TOML: {exc}") from None
    return config_from_dict(data, source=str(p))


def config_to_dict(config: ExperimentConfig, *, exclude_defaults: bool = False) -> dict[str, Any]:
    """The config as a plain TOML-ready dict (None values dropped, tuples as lists)."""
    data = config.model_dump(mode="json", exclude_none=True, exclude_defaults=exclude_defaults)
    return data


def to_toml(config: ExperimentConfig, *, exclude_defaults: bool = False) -> str:
    """The config as TOML text."""
    return tomli_w.dumps(config_to_dict(config, exclude_defaults=exclude_defaults))


def save_config(config: ExperimentConfig, path: str | os.PathLike, *, exclude_defaults: bool = False) -> None:
    """Write the config as TOML, atomically."""
    atomic_write_text(path, to_toml(config, exclude_defaults=exclude_defaults))


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``"model.dropout=0.3"`` into ``("model.dropout", 0.3)``.

    The value is read as a TOML value (numbers, booleans, quoted strings, arrays); a
    bare word that is not valid TOML is taken as a string, so ``data.dataset=mnist``
    works without quotes.
    """
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. model.dropout=0.3")
    key, _, raw = text.partition("=")
    key = key.strip()
    raw = raw.strip()
    if not key or not all(part.isidentifier() for part in key.split(".")):
        raise ConfigError(f"override {text!r}: key {key!r} is not a dotted name like model.dropout")
    if raw == "":
        raise ConfigError(f"override {text!r}: missing value after '='")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data["a"]["b"] = value`` for ``key = "a.b"``, creating tables as needed."""
    parts = key.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {key}: {'.'.join(parts[: i + 1])} is a value, not a section")
        node = child
    node[parts[-1]] = value


def apply_overrides(config: ExperimentConfig, overrides: list[str] | dict[str, Any]) -> ExperimentConfig:
    """Return a new config with dotted overrides applied and validated.

    ``overrides`` is a list of ``"key=value"`` strings or a dict of dotted key -> value.
    """
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
    data = config_to_dict(config)
    described = []
    for key, value in items:
        set_dotted(data, key, value)
        described.append(key)
    if not described:
        return config
    return config_from_dict(data, source="--set")


def flatten(config: ExperimentConfig) -> dict[str, Any]:
    """Dotted key -> value for every leaf of the config (lists joined for display)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = node

    walk("", config.model_dump(mode="json"))
    return out


def field_docs() -> dict[str, dict[str, Any]]:
    """Dotted key -> {"doc", "type", "default", "choices"} for every leaf field of the schema."""
    out: dict[str, dict[str, Any]] = {}

    def walk(prefix: str, model: type[Section]) -> None:
        docs = field_docstrings(model)
        for field in struct_fields(model):
            key = f"{prefix}.{field.name}" if prefix else field.name
            inner = section_type(field.type)
            if inner is not None:
                walk(key, inner)
                continue
            out[key] = {
                "doc": docs.get(field.name, ""),
                "type": shown_type(field.type),
                "default": field.default,
                "choices": choices_of(field.type),
            }

    walk("", ExperimentConfig)
    return out
