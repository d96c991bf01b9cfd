"""Ensembles of finished runs: average the test-set softmax of the first 1..k members.

The runs must share the dataset, the class names and the test labels (their
``predictions.npz`` labels must be identical); otherwise a one-line
:class:`~cnn_tui.core.errors.CnnTuiError` names the run that does not match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnn_tui.core.errors import CnnTuiError

if TYPE_CHECKING:  # pragma: no cover
    from cnn_tui.core.results.store import RunInfo
    from cnn_tui.core.results.table import Table

COLUMNS = ["k", "added", "member_accuracy", "ensemble_accuracy", "ensemble_f1_weighted"]


class _Fixed(float):
    """A float the table writer shows with 4 decimals (JSON keeps the full number)."""

    def __repr__(self) -> str:
        return f"{float(self):.4f}"

    __str__ = __repr__


@dataclass
class EnsembleResult:
    """``table`` for the exporter; ``rows`` with full-precision numbers (one per k)."""

    table: "Table"
    rows: list[dict[str, Any]]
    members: list[str]
    test_size: int


def _dataset_of(run: "RunInfo") -> str | None:
    metrics = run.metrics or {}
    if metrics.get("dataset"):
        return str(metrics["dataset"])
    try:
        return run.config.data.dataset
    except CnnTuiError:
        return None


def _load(run: "RunInfo"):
    import numpy as np

    preds = run.predictions()
    if preds is None or "probs" not in preds or "labels" not in preds:
        raise CnnTuiError(f"run {run.run_id} ({run.state}) has no test predictions (predictions.npz); "
                          "only evaluated runs can join an ensemble")
    probs, labels = np.asarray(preds["probs"]), np.asarray(preds["labels"])
    file = run.path / "predictions.npz"
    if probs.ndim != 2 or probs.dtype.kind not in "fiu" or not len(probs):
        raise CnnTuiError(f"{file}: probs must be an (images x classes) array of numbers, found {probs.dtype} "
                          f"{probs.shape}")
    if labels.shape != (len(probs),) or labels.dtype.kind not in "iu":
        raise CnnTuiError(f"{file}: labels must be {len(probs)} integers (one per row of probs), found "
                          f"{labels.dtype} {labels.shape}")
    return probs.astype(np.float64), labels


def ensemble(runs: list["RunInfo"]) -> EnsembleResult:
    """Accuracy and weighted F1 of the ensembles of the first 1..k runs (softmax averaged)."""
    import numpy as np
    from sklearn.metrics import f1_score

    from cnn_tui.core.results.table import Table

    if not runs:
        raise CnnTuiError("ensemble: give at least one run")
    ids = [r.run_id for r in runs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CnnTuiError(f"ensemble: run {dupes[0]} is given twice")
    ref = runs[0]
    ref_probs, ref_labels = _load(ref)
    ref_dataset = _dataset_of(ref)
    ref_classes = (ref.metrics or {}).get("class_names")
    total = np.zeros_like(ref_probs)
    rows = []
    for k, run in enumerate(runs, start=1):
        probs, labels = (ref_probs, ref_labels) if k == 1 else _load(run)
        dataset, classes = _dataset_of(run), (run.metrics or {}).get("class_names")
        if dataset != ref_dataset:
            raise CnnTuiError(f"run {run.run_id}: dataset {dataset!r} differs from {ref.run_id}'s {ref_dataset!r}")
        if ref_classes is not None and classes is not None and list(classes) != list(ref_classes):
            raise CnnTuiError(f"run {run.run_id}: class names differ from {ref.run_id}'s")
        if labels.shape != ref_labels.shape or not np.array_equal(labels, ref_labels) or probs.shape != ref_probs.shape:
            raise CnnTuiError(
                f"run {run.run_id}: test labels differ from {ref.run_id}'s ({len(labels)} vs {len(ref_labels)} "
                "images, or another order); ensemble runs need the same data.test_limit and data.split_seed"
            )
        total += probs
        preds = total.argmax(axis=1)
        rows.append({
            "k": k,
            "added": run.run_id,
            "member_accuracy": float(np.mean(probs.argmax(axis=1) == labels)),
            "ensemble_accuracy": float(np.mean(preds == ref_labels)),
            "ensemble_f1_weighted": float(f1_score(ref_labels, preds, average="weighted", zero_division=0)),
        })
    shown = [{k: _Fixed(v) if isinstance(v, float) else v for k, v in row.items()} for row in rows]
    title = f"ensemble of {len(runs)} runs on {ref_dataset} ({len(ref_labels)} test images): softmax averaged"
    return EnsembleResult(Table(columns=list(COLUMNS), rows=shown, title=title), rows, ids, len(ref_labels))
