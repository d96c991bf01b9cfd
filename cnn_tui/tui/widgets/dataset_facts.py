"""The dataset facts line block of the Setup screen (from ``data.dataset_info``)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from cnn_tui.core.formatting import format_shape


def planned_text(info: Any, data_cfg: Any) -> str | None:
    """``train 2,700 · val 300 · test 2,000 images``: what a run of ``data_cfg`` will use
    (limits and validation split applied), or None when the counts are unknown."""
    from cnn_tui.core.data.split import planned_counts

    counts = planned_counts(info.train_count, info.test_count, data_cfg) if data_cfg is not None else None
    if counts is None:
        return None
    train, val, test = counts
    return f"train {train:,} · val {val:,} · test {test:,} images"


def format_facts(info: Any, data_cfg: Any = None) -> str:
    """Markup lines: description, shape/classes/counts, what a run of ``data_cfg`` uses,
    source, offline availability (+ hint)."""
    shape = format_shape(info.image_shape) if info.image_shape else "?"
    counts = (
        f"train {info.train_count:,} / test {info.test_count:,}"
        if info.train_count is not None and info.test_count is not None
        else "counts unknown"
    )
    classes = f"{info.num_classes} classes" if info.num_classes else "classes unknown"
    offline = "[green]available offline[/]" if info.available_offline else "[yellow]not available offline[/]"
    lines = [f"{shape} · {classes} · {counts}", f"source: {escape(str(info.location))}", offline]
    planned = planned_text(info, data_cfg)
    if planned is not None:
        limits = [f"{what} limit {n:,}" for what, n in (("train", data_cfg.train_limit), ("test", data_cfg.test_limit))
                  if n is not None]
        lines.insert(1, f"[b]this run:[/b] {planned}" + (f" ({', '.join(limits)})" if limits else ""))
    if info.description:
        lines.insert(0, escape(info.description))
    if not info.available_offline and info.hint:
        lines.append(f"[dim]{escape(info.hint)}[/]")
    return "\n".join(lines)
