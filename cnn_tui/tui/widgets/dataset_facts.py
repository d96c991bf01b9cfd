"""The dataset facts line block of the Setup screen (from ``data.dataset_info``)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from cnn_tui.tui.widgets.model_summary import format_shape


def format_facts(info: Any) -> str:
    """Markup lines: description, shape/classes/counts, source, offline availability (+ hint)."""
    shape = format_shape(info.image_shape) if info.image_shape else "?"
    counts = (
        f"train {info.train_count:,} / test {info.test_count:,}"
        if info.train_count is not None and info.test_count is not None
        else "counts unknown"
    )
    classes = f"{info.num_classes} classes" if info.num_classes else "classes unknown"
    offline = "[green]available offline[/]" if info.available_offline else "[yellow]not available offline[/]"
    lines = [f"{shape} · {classes} · {counts}", f"source: {escape(str(info.location))}", offline]
    if info.description:
        lines.insert(0, escape(info.description))
    if not info.available_offline and info.hint:
        lines.append(f"[dim]{escape(info.hint)}[/]")
    return "\n".join(lines)
