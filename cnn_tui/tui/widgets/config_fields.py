"""One widget per config toggle on the Setup screen, with its error line.

A :class:`ConfigField` shows a label, a control (checkbox, select or input) and, when the
value is refused, the reason right under it -- in as few widgets as it can: the label and
the reason are drawn by the row itself, only the controls are widgets. It knows its
dotted config key and turns the control's state into an override value; validation
itself is the core's (:func:`cnn_tui.core.config.apply_overrides`), so the messages are
the CLI's messages.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from typing import Any, Literal

from textual.app import ComposeResult
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select

from cnn_tui.core.config import ExperimentConfig, apply_overrides, field_docs, parse_override
from cnn_tui.core.errors import ConfigError
from cnn_tui.tui.widgets.lean_select import LeanSelect

Kind = Literal["bool", "choice", "number", "toggle"]
"""bool: checkbox; choice: select; number: input; toggle: checkbox + strength input
(unchecked means 0 = off, e.g. dropout, L2, rotation)."""


PRESET_BLOCKS = "(preset blocks)"
"""The architecture choice that keeps the preset's own block list (``model.blocks``)."""


@dataclass(frozen=True)
class FieldSpec:
    """A toggle on the Setup screen: dotted config key, label, kind of control."""

    key: str
    label: str
    kind: Kind
    choices: tuple[str, ...] = ()
    hint: str = ""
    """Placeholder of a number input, e.g. "0 = off"."""
    default_on: float = 0.0
    """toggle: the strength filled in when it is switched on from 0."""
    optional: bool = False
    """number: an empty input means None (the key unset) instead of "enter a value"."""


def _on_off(on: bool) -> str:
    return "on" if on else "off"


def control_id(key: str) -> str:
    """``model.dropout`` -> ``f-model-dropout`` (the control's DOM id)."""
    return "f-" + key.replace(".", "-").replace("_", "-")


def format_value(value: Any) -> str:
    """A config value as the text of a number input (round-trips through TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text
    if isinstance(value, (tuple, list)):  # image size: one number for a square, else [h, w]
        if len(value) == 2 and value[0] == value[1] and isinstance(value[0], int):
            return str(value[0])
        return "[" + ", ".join(json.dumps(v) if isinstance(v, str) else format_value(v) for v in value) + "]"
    return "" if value is None else str(value)


class LabeledRow(Widget):
    """A form row: a label drawn by the row itself, then its controls side by side.

    The label is part of the row's own rendering (under the children; the first one,
    class ``-lead``, starts at column 16), not a ``Label`` widget: the Setup form has
    dozens of rows, and every widget less is less styling and layout before the first
    paint.
    """

    COMPONENT_CLASSES = {"labeled-row--label"}
    DEFAULT_CSS = """
    LabeledRow { layout: horizontal; height: auto; }
    LabeledRow > .-lead { margin-left: 16; }
    LabeledRow Input, LabeledRow Select { width: 1fr; }
    LabeledRow > .labeled-row--label { color: $text-muted; }
    """

    def __init__(self, label: str, *children: Widget, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(*children, id=id, classes=classes)
        self.label = label
        if children:
            children[0].add_class("-lead")

    def render(self) -> Content:
        return Content.styled(self.label, self.get_visual_style("labeled-row--label", partial=True))


class ConfigField(LabeledRow):
    """Label + control for one config key, and the refusal's reason under it when there is one.

    The reason is drawn by the row too, on the lines under the controls (the row grows).
    """

    COMPONENT_CLASSES = {"config-field--error"}
    DEFAULT_CSS = """
    ConfigField Checkbox { border: none; padding: 0; height: 1; width: 8; background: transparent; }
    ConfigField.-invalid > .labeled-row--label { color: $error; text-style: bold; }
    ConfigField > .config-field--error { color: $error; }
    """

    def __init__(self, spec: FieldSpec, value: Any = None, *, tooltip: str = "") -> None:
        super().__init__(spec.label, id="field-" + control_id(spec.key)[2:], classes="config-field")
        self.spec = spec
        self._initial = value
        self.tooltip = tooltip  # the row's, and its control's (see compose)
        self.error: str | None = None
        """Why the value is refused (shown under the controls), or None."""
        self.choices: list[str] = list(spec.choices)
        self._last_on: Any = None

    def _error_lines(self, width: int) -> list[str]:
        if not self.error:
            return []
        return textwrap.wrap(self.error, max(width - 16, 8)) or [""]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + len(self._error_lines(width))

    def render(self) -> Content:
        label = super().render()
        if not self.error:
            return label
        style = self.get_visual_style("config-field--error", partial=True)
        lines = [Content.styled(" " * 16 + line, style) for line in self._error_lines(self.size.width)]
        return Content("\n").join([label, *lines])

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        # The checkbox says on/off; a toggle's switch also enables its strength input (the
        # strength is remembered while off). The event still bubbles to the screen.
        event.checkbox.label = _on_off(event.value)
        if self.spec.kind == "toggle" and event.checkbox is self.switch:
            self._show_strength(event.value)

    def _show_strength(self, on: bool) -> None:
        c = self.control
        if on:
            if c.value.strip() in ("", "0", "0.0"):
                c.value = format_value(self._last_on or self.spec.default_on)
        else:
            if c.value.strip() and c.value.strip() not in ("0", "0.0"):
                self._last_on = c.value.strip()
            c.value = ""
        c.disabled = not on

    @property
    def key(self) -> str:
        return self.spec.key

    def compose(self) -> ComposeResult:
        spec, cid = self.spec, control_id(self.spec.key)
        if spec.kind == "bool":
            on = bool(self._initial)
            control: Any = Checkbox(_on_off(on), on, id=cid, compact=True, classes="-lead")
        elif spec.kind == "choice":
            if self._initial is not None and str(self._initial) not in self.choices:
                self.choices.append(str(self._initial))
            value = str(self._initial) if self._initial is not None else self.choices[0]
            control = LeanSelect([(c, c) for c in self.choices], value=value, allow_blank=False, id=cid, compact=True,
                             classes="-lead")
        elif spec.kind == "toggle":
            on = bool(self._initial)
            yield Checkbox(_on_off(on), on, id=cid + "-on", compact=True, classes="toggle-on -lead")
            text = format_value(self._initial) if on else ""
            control = Input(text, placeholder=spec.hint, id=cid, compact=True, disabled=not on)
        else:
            control = Input(format_value(self._initial), placeholder=spec.hint, id=cid, compact=True, classes="-lead")
        if self.tooltip:
            control.tooltip = self.tooltip
        yield control

    @property
    def control(self) -> Any:
        return self.query_one("#" + control_id(self.spec.key))

    @property
    def switch(self) -> Checkbox | None:
        """The on/off checkbox of a toggle field."""
        if self.spec.kind != "toggle":
            return None
        return self.query_one("#" + control_id(self.spec.key) + "-on", Checkbox)

    def raw(self) -> Any:
        """The control's state: bool, choice string, input text, or (on, text) for a toggle."""
        c = self.control
        if self.spec.kind == "toggle":
            return (bool(self.switch.value), c.value)
        if isinstance(c, Checkbox):
            return bool(c.value)
        if isinstance(c, Select):
            return None if c.value is Select.NULL else c.value
        return c.value

    def override_value(self) -> Any:
        """The value to set at ``key`` (ConfigError if an input is not a TOML value)."""
        raw = self.raw()
        if self.spec.kind == "toggle":
            on, text = raw
            if not on:
                return 0.0
            raw = text
        if self.spec.kind in ("number", "toggle"):
            if not str(raw).strip():
                if self.spec.optional:
                    return None
                raise ConfigError(f"{self.spec.key}: enter a value")
            return parse_override(f"{self.spec.key}={raw}")[1]
        return raw

    def set_value(self, value: Any) -> None:
        """Show ``value`` (from a preset) in the control."""
        c = self.control
        if self.spec.kind == "toggle":
            on = bool(value)
            if on:
                c.value = format_value(value)
            self.switch.value = on
            self.switch.label = _on_off(on)
            self._show_strength(on)
        elif isinstance(c, Checkbox):
            c.value = bool(value)
            c.label = _on_off(bool(value))
        elif isinstance(c, Select):
            text = str(value)
            if text not in self.choices:
                self.choices.append(text)
                c.set_options([(v, v) for v in self.choices])
            c.value = text
        else:
            c.value = format_value(value)

    def set_choices(self, choices: list[str]) -> None:
        """Replace a select's options, keeping the current value."""
        c = self.control
        if not isinstance(c, Select):
            return
        current = c.value
        self.choices = list(dict.fromkeys([*choices, *([current] if current is not Select.NULL else [])]))
        c.set_options([(v, v) for v in self.choices])
        if current is not Select.NULL:
            c.value = current

    def set_error(self, message: str | None) -> None:
        """Flag the field with ``message`` (None clears it)."""
        message = message or None
        if message == self.error:
            return
        self.error = message
        self.set_class(bool(message), "-invalid")
        self.refresh(layout=True)


# ---------------------------------------------------------------------------------------
# The Setup screen's toggles, and reading them back as validated overrides


def _choices(key: str) -> tuple[str, ...]:
    return tuple(field_docs().get(key, {}).get("choices") or ())


def field_sections() -> list[tuple[str, list[FieldSpec]]]:
    """The toggles of the Setup screen, grouped."""
    return [
        ("Model", [
            FieldSpec("model.architecture", "architecture", "choice", ("tiny",)),
            FieldSpec("model.activation", "activation", "choice", _choices("model.activation")),
            FieldSpec("model.initializer", "initializer", "choice", _choices("model.initializer")),
            FieldSpec("model.batch_norm", "batch norm", "bool"),
            FieldSpec("model.dropout", "dropout", "toggle", hint="rate 0..1", default_on=0.5),
            FieldSpec("model.l2", "L2", "toggle", hint="weight penalty", default_on=5e-4),
        ]),
        ("Input", [
            FieldSpec("data.image_size", "image size", "number", hint="the dataset's own; 32 = 32x32",
                      optional=True),
            FieldSpec("data.normalization", "normalization", "choice", _choices("data.normalization")),
            FieldSpec("data.augment.hflip", "flip left-right", "bool"),
            FieldSpec("data.augment.vflip", "flip up-down", "bool"),
            FieldSpec("data.augment.rot90", "rotate 90", "bool"),
            FieldSpec("data.augment.rotation", "rotation", "toggle", hint="degrees", default_on=15.0),
            FieldSpec("data.augment.shift", "shift", "toggle", hint="fraction", default_on=0.1),
            FieldSpec("data.augment.zoom", "zoom", "toggle", hint="fraction", default_on=0.1),
            FieldSpec("data.augment.brightness", "brightness", "toggle", hint="fraction", default_on=0.2),
            FieldSpec("data.augment.contrast", "contrast", "toggle", hint="factor", default_on=0.2),
        ]),
        ("Data", [
            FieldSpec("data.train_limit", "train limit", "number", hint="all; e.g. 3000 images", optional=True),
            FieldSpec("data.test_limit", "test limit", "number", hint="all", optional=True),
            FieldSpec("data.validation_split", "validation", "number", hint="fraction of train, e.g. 0.1"),
            FieldSpec("data.test_split", "test split", "number", hint="held out where no test set"),
            FieldSpec("data.split_seed", "split seed", "number"),
            FieldSpec("data.labels_from", "labels from", "choice", _choices("data.labels_from")),
            FieldSpec("data.color_mode", "color mode", "choice", _choices("data.color_mode")),
        ]),
        ("Training", [
            FieldSpec("train.optimizer", "optimizer", "choice", _choices("train.optimizer")),
            FieldSpec("train.learning_rate", "learning rate", "number", hint="e.g. 0.001"),
            FieldSpec("train.epochs", "epochs", "number"),
            FieldSpec("train.batch_size", "batch size", "number"),
            FieldSpec("train.seed", "seed", "number"),
            FieldSpec("train.reduce_lr.enabled", "reduce LR", "bool"),
            FieldSpec("train.early_stopping.enabled", "early stopping", "bool"),
        ]),
    ]


NOT_IN_FORM = ("name", "description", "data.dataset", "experiment")
"""Config keys with their own controls (name/description: the save dialog; the dataset
select; the study dialog) rather than a form field."""

_SHORT_LABELS = {
    "model.blocks": "blocks", "model.bias_init": "bias init", "model.bn_order": "BN order",
    "model.bn_momentum": "BN momentum", "data.augment.shear": "shear", "train.momentum": "momentum",
    "train.lr_schedule": "LR schedule", "train.lr_decay": "LR decay", "train.reduce_lr.monitor": "RLR monitor",
    "train.reduce_lr.factor": "RLR factor", "train.reduce_lr.patience": "RLR patience",
    "train.reduce_lr.cooldown": "RLR cooldown", "train.reduce_lr.min_lr": "RLR min LR",
    "train.early_stopping.monitor": "ES monitor", "train.early_stopping.patience": "ES patience",
    "train.early_stopping.restore_best": "ES best weights", "train.mixed_precision": "mixed precis.",
    "train.jit_compile": "XLA (jit)", "train.distribute": "distribute", "train.tensorboard": "TensorBoard",
    "train.save_model": "save model", "train.checkpoint": "checkpoint", "train.checkpoint_every": "ckpt every s",
    "train.precise_bn": "precise BN", "train.precise_bn_images": "precise BN imgs",
}
"""Labels of the Advanced fields (the label column is 15 characters wide)."""


def advanced_specs() -> list[FieldSpec]:
    """A field for every config key the sections above leave out (and :data:`NOT_IN_FORM`):
    every key ``--set`` takes can be set in the form. Kinds follow the schema: a choice
    for Literal keys, a checkbox for bools, else a text input read as a TOML value."""
    shown = {spec.key for _, specs in field_sections() for spec in specs}
    out = []
    for key, doc in field_docs().items():
        if key in shown or key in NOT_IN_FORM or doc.get("type") in (None, "dict"):
            continue
        label = _SHORT_LABELS.get(key) or key.rsplit(".", 1)[-1].replace("_", " ")[:15]
        kind: Kind = "choice" if doc.get("choices") else ("bool" if doc.get("type") == "bool" else "number")
        optional = "None" in str(doc.get("type"))
        hint = "none" if optional else ""
        out.append(FieldSpec(key, label, kind, tuple(doc.get("choices") or ()), hint=hint, optional=optional))
    return out


def config_value(config: ExperimentConfig, key: str) -> Any:
    """The value at a dotted key, e.g. ``config_value(cfg, "model.dropout")``."""
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


def short_error(message: str) -> str:
    """``--set: model.dropout = 1.5: Input should be less than 1`` -> ``1.5: Input should ...``."""
    text = message.removeprefix("--set: ")
    key, sep, rest = text.partition(" = ")
    return rest if sep and "." in key else text


def read_form(
    base: ExperimentConfig, fields: list[ConfigField], dataset_spec: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Dotted overrides from the fields, and per-key errors of the values the core refuses.

    Each value is validated alone against ``base`` (so the message is about that field);
    a refused value is left out of the overrides.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if not dataset_spec:
        errors["data.dataset"] = "enter a dataset, e.g. folder:/path/to/images"
    else:
        values["data.dataset"] = dataset_spec
    named_architecture = False
    for f in fields:
        try:
            value = f.override_value()
        except ConfigError as exc:
            errors[f.key] = short_error(str(exc))
            continue
        if f.key == "model.architecture":
            if value == PRESET_BLOCKS or value is None:
                continue
            values["model.blocks"] = None  # a named architecture replaces the preset's blocks
            named_architecture = True
        if f.key == "model.blocks" and named_architecture:
            continue  # (the Advanced blocks field, left from the preset: the choice above wins)
        values[f.key] = value
    for key, value in list(values.items()):
        if key in errors:
            continue
        try:
            apply_overrides(base, {key: value})
        except ConfigError as exc:
            errors[key] = short_error(str(exc))
            del values[key]
    return values, errors
