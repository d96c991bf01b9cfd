"""The experiment config: one schema for data, model and training, with TOML load/save.

An :class:`ExperimentConfig` is plain data: frozen pydantic models, unknown keys rejected,
the one validation stack of cnn-tui (plan files, :mod:`cnn_tui.core.engine.plan`, use it too).
Every field has a docstring; :func:`field_docs` exposes them to the CLI and the TUI. Errors are
:class:`~cnn_tui.core.errors.ConfigError` with one line that names
the file, the dotted key, the bad value and what is allowed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import tomli_w
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from cnn_tui.core.errors import ConfigError
from cnn_tui.core.fsutil import atomic_write_text

Normalization = Literal["none", "rescale", "zero_center", "standardize"]
Activation = Literal["relu", "leaky_relu", "elu", "tanh", "sigmoid"]
Initializer = Literal["glorot_uniform", "he_normal", "truncated_normal_001"]
Optimizer = Literal["sgd", "adam", "rmsprop", "adamw"]
Monitor = Literal["val_accuracy", "val_loss", "accuracy", "loss"]


def _square(value: Any) -> Any:
    """``32`` -> ``(32, 32)``: one number is a square image size; [height, width] and None
    go on to the type check."""
    if isinstance(value, bool) or not (value is None or isinstance(value, (int, list, tuple))):
        raise ValueError("expected [height, width] or one number for a square, e.g. 32")
    return (value, value) if isinstance(value, int) else value


ImageSize = Annotated[tuple[int, int] | None, BeforeValidator(_square)]


class _Section(BaseModel):
    """Frozen, unknown keys refused, field docstrings as descriptions."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class AugmentConfig(_Section):
    """Random augmentation, applied by Keras preprocessing layers during training only."""

    hflip: bool = False
    """Random left-right flip."""
    vflip: bool = False
    """Random up-down flip."""
    rot90: bool = False
    """Random rotation by a multiple of 90 degrees (square images only)."""
    rotation: float = Field(0.0, ge=0.0, le=180.0)
    """Random rotation up to +/- this many degrees (0 = off)."""
    shift: float = Field(0.0, ge=0.0, lt=1.0)
    """Random translation up to this fraction of height and width (0 = off)."""
    zoom: float = Field(0.0, ge=0.0, lt=1.0)
    """Random zoom in/out up to this fraction (0 = off)."""
    shear: float = Field(0.0, ge=0.0, lt=1.0)
    """Random shear up to this fraction (0 = off)."""
    brightness: float = Field(0.0, ge=0.0, le=1.0)
    """Random brightness change up to this fraction of the value range (0 = off)."""
    contrast: float = Field(0.0, ge=0.0, le=1.0)
    """Random contrast change up to this factor (0 = off)."""

    @property
    def any(self) -> bool:
        """Whether any augmentation is on."""
        return any(bool(v) for v in self.model_dump().values())


class DataConfig(_Section):
    """Where the images come from and how they are split and preprocessed."""

    dataset: str = "digits"
    """Dataset: digits, fashion_mnist, mnist, cifar10, cifar100, folder:PATH or arrays:PATH."""
    image_size: ImageSize = None
    """Resize images to [height, width], or one number for a square (32 = [32, 32]); folder: default 64x64."""
    color_mode: Literal["auto", "grayscale", "rgb"] = "auto"
    """Channels for folder: datasets: auto keeps what the files have (RGB if mixed)."""
    labels_from: Literal["subfolder", "prefix"] = "subfolder"
    """folder: datasets: class = sub-folder name, or the file-name prefix before the first digit/separator."""
    validation_split: float = Field(0.1, ge=0.0, lt=1.0)
    """Fraction of the training split held out for validation (stratified, seeded)."""
    test_split: float = Field(0.2, gt=0.0, lt=1.0)
    """Fraction held out as test set for sources without an official test split."""
    train_limit: int | None = Field(None, ge=1)
    """Use a stratified subset of at most this many training images (quick runs)."""
    test_limit: int | None = Field(None, ge=1)
    """Use a stratified subset of at most this many test images."""
    split_seed: int = 0
    """Seed of the train/validation/test split and the subsets (kept fixed across repeats)."""
    normalization: Normalization = "rescale"
    """Input normalization layer: none, rescale (x/255), zero_center ((x-mean)/max|.|), standardize (per-channel)."""
    augment: AugmentConfig = AugmentConfig()
    """Training-time augmentation toggles."""


class ModelConfig(_Section):
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
    bn_momentum: float = Field(0.9, ge=0.0, lt=1.0)
    """Momentum of batch norm's moving mean/variance, the statistics used at test time.
    Keras' default 0.99 needs ~500 steps to settle: on short runs the test accuracy of a
    BN net then collapses to chance while the training accuracy looks fine."""
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    """Dropout rate at the architecture's marked places (plain `dropout` blocks), or before
    the classifier where it has none; 0 removes them."""
    l2: float = Field(0.0, ge=0.0, le=1.0)
    """L2 weight penalty on every kernel (0 = off)."""


class ReduceLRConfig(_Section):
    """keras.callbacks.ReduceLROnPlateau."""

    enabled: bool = False
    """Lower the learning rate when the monitored metric stops improving."""
    monitor: Monitor = "val_accuracy"
    """Metric to watch."""
    factor: float = Field(0.1, gt=0.0, lt=1.0)
    """Multiply the learning rate by this."""
    patience: int = Field(5, ge=0)
    """Epochs without improvement before lowering."""
    cooldown: int = Field(3, ge=0)
    """Epochs to wait after a reduction."""
    min_lr: float = Field(0.0, ge=0.0)
    """Lower bound of the learning rate."""


class EarlyStoppingConfig(_Section):
    """keras.callbacks.EarlyStopping."""

    enabled: bool = False
    """Stop when the monitored metric stops improving."""
    monitor: Monitor = "val_accuracy"
    """Metric to watch."""
    patience: int = Field(3, ge=0)
    """Epochs without improvement before stopping."""
    restore_best: bool = True
    """Restore the weights of the best epoch at the end."""


class TrainConfig(_Section):
    """Optimizer, schedule, callbacks and device options."""

    epochs: int = Field(10, ge=1, le=100_000)
    """Number of epochs."""
    batch_size: int = Field(128, ge=1, le=65_536)
    """Images per batch."""
    optimizer: Optimizer = "adam"
    """Optimizer."""
    learning_rate: float = Field(1e-3, gt=0.0, le=10.0)
    """Initial learning rate."""
    momentum: float = Field(0.0, ge=0.0, lt=1.0)
    """Momentum (sgd and rmsprop only)."""
    lr_schedule: Literal["constant", "cosine", "exponential"] = "constant"
    """Learning-rate schedule over epochs."""
    lr_decay: float = Field(0.95, gt=0.0, le=1.0)
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
    precise_bn_images: int = Field(2000, ge=1, le=1_000_000)
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
    checkpoint_every: float = Field(30.0, ge=0.0, le=86400.0)
    """Seconds of training between two checkpoints, written at the first epoch end after
    that long (0 = every epoch). The first completed epoch is always written, and a stop or
    failure writes the last completed epoch anyway."""

    @model_validator(mode="after")
    def _one_lr_controller(self) -> TrainConfig:
        if self.lr_schedule != "constant" and self.reduce_lr.enabled:
            raise ValueError(
                f"lr_schedule = {self.lr_schedule!r} and reduce_lr.enabled = true both set the learning rate;"
                " choose one (lr_schedule = 'constant' to use reduce_lr)"
            )
        return self


class ExperimentConfig(_Section):
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

    @field_validator("name")
    @classmethod
    def _name_fits_a_folder(cls, value: str) -> str:
        if (
            not value or len(value) > 64 or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in value)
        ):
            raise ValueError("must be 1-64 characters of letters, digits, '-', '_' or '.'")
        return value


# ---------------------------------------------------------------------------------------
# Loading, saving, overrides


def _format_validation_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if not isinstance(p, int)) or "(top level)"
    kind = err.get("type", "")
    value = err.get("input")
    prefix = f"{source}: " if source else ""
    if kind == "extra_forbidden":
        parent = loc.rsplit(".", 1)[0] if "." in loc else ""
        allowed = ", ".join(_allowed_keys(parent))
        return f"{prefix}unknown key '{loc}' (allowed here: {allowed})"
    msg = err.get("msg", "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if kind == "missing":
        return f"{prefix}{loc}: required key is missing{tail}"
    if isinstance(value, dict):
        return f"{prefix}{loc}: {msg}{tail}"
    return f"{prefix}{loc} = {value!r}: {msg}{tail}"


def _section_model(dotted_parent: str) -> type[BaseModel] | None:
    model: type[BaseModel] = ExperimentConfig
    if not dotted_parent:
        return model
    for part in dotted_parent.split("."):
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
    return model


def _allowed_keys(dotted_parent: str) -> list[str]:
    model = _section_model(dotted_parent)
    return list(model.model_fields) if model else []


def config_from_dict(data: dict[str, Any], source: str = "") -> ExperimentConfig:
    """Validate a plain dict (as read from TOML) into an :class:`ExperimentConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source or 'config'}: expected a table of sections, got {type(data).__name__}")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None


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

    def walk(prefix: str, model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            key = f"{prefix}.{name}" if prefix else name
            ann = field.annotation
            if get_origin(ann) is Annotated:  # Annotated[X, BeforeValidator(f)]: the type is X
                ann = get_args(ann)[0]
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(key, ann)
                continue
            choices = None
            if get_origin(ann) is Literal:
                choices = list(get_args(ann))
            elif get_origin(ann) is Union:
                for arg in get_args(ann):
                    if get_origin(arg) is Literal:
                        choices = list(get_args(arg))
            out[key] = {
                "doc": field.description or "",
                "type": getattr(ann, "__name__", str(ann)),
                "default": field.default,
                "choices": choices,
            }

    walk("", ExperimentConfig)
    return out
